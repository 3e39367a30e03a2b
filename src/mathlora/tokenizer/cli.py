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

import argparse
import re
import time
from pathlib import Path
from typing import Any

from mathlora import prompts
from mathlora.artifacts import atomic_output, write_artifact
from mathlora.errors import ConfigError
from mathlora.jsonl import read_conversations
from mathlora.tokenizer.llama3 import Llama3Tokenizer, format_ranks


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


def configure(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="action", required=True, metavar="{train,info}")
    train = commands.add_parser("train", help="learn a byte-level BPE from training conversations")
    train.add_argument("--in", dest="input", required=True, type=Path,
                       help="training conversation JSON (data_converter format)")
    train.add_argument("--ranks", type=int, required=True,
                       help="ranks to learn at most, the 256 single bytes included")
    train.add_argument("--corpus", type=Path, help="also learn from this corpus (mathlora world JSON Lines)")
    train.add_argument("--single-digits", action="store_true",
                       help="learn no merge inside numbers: every digit stays one token")
    train.add_argument("--out", required=True, type=Path, help="tokenizer.model to write")
    train.add_argument("--report", required=True, type=Path, help="tokenizer.json report")
    info = commands.add_parser("info", help="describe an existing tokenizer.model")
    info.add_argument("--model", required=True, type=Path, help="tiktoken ranks file")
    info.add_argument("--text", type=Path, help="conversation JSON to measure tokens per byte on")
    info.add_argument("--report", required=True, type=Path, help="tokenizer.json report")


def main(args: argparse.Namespace) -> int:
    if args.action == "info":
        tokenizer = Llama3Tokenizer.from_file(args.model)
        conversations = read_conversations(args.text) if args.text else None
        write_artifact(args.report, "tokenizer", {**describe(tokenizer, args.model, "file", conversations),
                                               "training": None})
        return 0
    from mathlora.tokenizer.bpe import piece_counts, train

    if args.ranks < 256:
        raise ConfigError(f"tokenizer.ranks: expected at least 256 (the single bytes), got {args.ranks}")
    conversations = read_conversations(args.input)
    started = time.perf_counter()
    texts = training_texts(conversations)
    if args.corpus:
        from mathlora.jsonl import iter_records

        texts += [(record["text"], 1) for _, record in iter_records(args.corpus, ("text",))]
    counts = piece_counts(texts, single_digits=args.single_digits)
    ranks = train(counts, args.ranks)
    seconds = time.perf_counter() - started
    with atomic_output(args.out) as tmp:
        tmp.write_text(format_ranks(ranks), encoding="ascii")
        tokenizer = Llama3Tokenizer.from_file(tmp)
    payload = describe(tokenizer, args.out, "train", conversations)
    payload["training"] = {"requested_ranks": args.ranks, "learned_ranks": len(ranks),
                           "distinct_pieces": len(counts), "single_digits": args.single_digits,
                           "corpus": str(args.corpus) if args.corpus else None,
                           "seconds": round(seconds, 3)}
    write_artifact(args.report, "tokenizer", payload)
    return 0
