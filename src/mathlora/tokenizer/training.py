"""Train a small Llama3-format tokenizer, or describe one (``train`` | ``info``).

``train`` learns a byte-level BPE from the training conversations (and, with ``--corpus``, the tiny
base's world corpus) plus the prompt templates the graph uses (vicuna system text and role markers,
the entry's math prompt, the organisers' SQuAD prompt: each weighted like one occurrence per
conversation so that they tokenize compactly); ``--single-digits`` keeps every digit its own token
(no merge inside a number). It writes the ranks in
the tiktoken ranks format of Llama3's ``tokenizer.model``. ``info`` loads any such file (the real
128,000-rank one included) and reports its size, special-token ids and how it tokenizes the templates.
Both write ``tokenizer.json``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mathlora import prompts
from mathlora.tokenizer.llama3 import Llama3Tokenizer


def template_texts() -> dict[str, str]:
    """The fixed prompt text every conversation or evaluation prompt carries."""
    squad_parts = [part for part in re.split(r"\{context\}|\{question\}", prompts.SQUAD_PROMPT) if part]
    return {
        "vicuna_system": prompts.VICUNA_SYSTEM,
        "vicuna_roles": f" {prompts.VICUNA_USER}: {prompts.VICUNA_ASSISTANT}: {prompts.VICUNA_ROUND_END}",
        "train_human_prefix": prompts.TRAIN_HUMAN_PREFIX + " ",
        "math_prompt": prompts.ENTRY.prefix + prompts.ENTRY.suffix,
        "squad_prompt": "".join(squad_parts),
    }


def training_texts(conversations: list[tuple[str, str]]) -> list[tuple[str, int]]:
    weight = max(1, len(conversations))
    texts = [(text, weight) for text in template_texts().values()]
    for human, gpt in conversations:
        texts.append((human, 1))
        texts.append((gpt, 1))
    return texts


def describe(tokenizer: Llama3Tokenizer, path: Path, source: str,
             conversations: list[tuple[str, str]] | None) -> dict[str, Any]:
    text_stats = None
    if conversations:
        texts = [f"{h} {g}" for h, g in conversations]
        tokens = sum(map(len, tokenizer.encode_batch(texts)))
        size = sum(len(t.encode("utf-8")) for t in texts)
        text_stats = {"conversations": len(conversations), "tokens": tokens,
                      "bytes_per_token": round(size / max(tokens, 1), 4)}
    return {
        "path": str(path),
        "sha256": tokenizer.sha256,
        "source": source,
        "ranks": tokenizer.num_ranks,
        "vocab_size": tokenizer.vocab_size,
        "special_ids": {"bos": tokenizer.bos_id, "eos": tokenizer.eos_id, "pad": tokenizer.pad_id},
        "template_tokens": {name: len(tokenizer.encode(text)) for name, text in template_texts().items()},
        "text": text_stats,
    }
