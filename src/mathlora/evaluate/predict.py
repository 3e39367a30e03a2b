"""Greedy predictions of one model on the held-out math test set, with the entry's prompt.

Each test problem is wrapped in the entry's prompt, ``Please answer the following math promblem:\\n
{problem}\\n###answer:`` byte for byte (or another variant of ``mathlora.prompts``, ``--prompt``),
generated greedily in batches, and written three ways: ``predictions.jsonl`` (id, prompt, raw output
= prompt + generation, generation), ``result_npy.npy`` in the format the entry's script saves
(``np.save`` of an object array of ``{'text_generation_text': [prompt + generation, ...]}`` dicts;
the script saves one per batch as MindFormers' pipeline returns them, this one per problem, and
every reader takes both), and ``predict.json`` (counts, timing, tokens/s). ``max_length`` bounds
prompt + generation as in the entry's script; a prompt that leaves no room is counted and gets an
empty generation (scored as "no answer").
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mathlora.artifacts import atomic_output
from mathlora.contest import RESULT_KEY
from mathlora.jsonl import dumps_line
from mathlora.prompts import math_prompt_named
from mathlora.settings import PredictSettings

# A greedy decision whose top two logits are closer than this may go the other way on another CPU
# (float32 sums in another order): about a hundred times the logit differences such kernels give.
NEAR_TIE = 1e-3


@dataclass
class Generation:
    """Texts generated for a list of prompts and what it took."""

    texts: list[str]
    tokens: list[int]  # generated tokens per prompt
    prompt_tokens: list[int]
    budgets: list[int]  # new tokens each prompt was allowed
    seconds: float
    margins: list[float]  # per prompt: its closest decision's logit gap (inf: none; nan: not traced)

    def stats(self) -> dict[str, Any]:
        generated = sum(self.tokens)
        traced = [m for m in self.margins if not math.isnan(m)]
        decided = [m for m in traced if math.isfinite(m)]
        return {
            "n": len(self.texts),
            "generated_tokens": generated,
            "prompt_tokens_max": max(self.prompt_tokens, default=0),
            "empty_generations": sum(1 for t in self.texts if not t.strip()),
            "hit_token_limit": sum(1 for t, b in zip(self.tokens, self.budgets) if b and t >= b),
            "prompt_too_long": sum(1 for b in self.budgets if b <= 0),
            "seconds": round(self.seconds, 3),
            "tokens_per_second": round(generated / self.seconds, 3) if self.seconds > 0 else 0.0,
            # None where the decoder shows no logits (MindFormers' own generate, on Ascend)
            "near_ties": sum(m < NEAR_TIE for m in decided) if len(traced) == len(self.margins) else None,
            "smallest_margin": min(decided) if decided else None,
        }


def math_prompts(test: Sequence[dict], prompt: str) -> list[str]:
    variant = math_prompt_named(prompt)
    return [variant(record["problem"]) for record in test]


def budgets(prompt_lengths: Sequence[int], *, max_new_tokens: int, max_length: int) -> list[int]:
    """New tokens each prompt may get: ``max_new_tokens``, but prompt + generation <= ``max_length``."""
    return [max(0, min(max_new_tokens, max_length - n)) for n in prompt_lengths]


def generate_texts(model, tokenizer, prompts: Sequence[str], *, max_new_tokens: int,
                   max_length: int, batch_size: int, min_new_tokens: int,
                   bos: bool = True) -> Generation:
    """Greedy continuations of ``prompts`` (texts, without the prompt), in the same order.

    Prompts are encoded with a leading bos unless ``bos`` is false; each batch holds prompts with
    the identical budget (new tokens allowed), so no prompt gets more than its own.
    """
    from mathlora.model.generate import greedy

    encoded = [tokenizer.encode(p, bos=bos) for p in prompts]
    # The network cannot attend beyond its own sequence length, whatever max_length says.
    model_length = getattr(getattr(model, "config", None), "seq_length", None)
    limit = min(max_length, model_length) if isinstance(model_length, int) else max_length
    allowed = budgets([len(e) for e in encoded], max_new_tokens=max_new_tokens, max_length=limit)
    ids: list[list[int]] = [[] for _ in prompts]
    margins = [math.inf] * len(prompts)  # a prompt without room decides nothing
    runnable = [i for i, b in enumerate(allowed) if b > 0]
    start = time.perf_counter()
    for budget in sorted({allowed[i] for i in runnable}, reverse=True):
        group = [i for i in runnable if allowed[i] == budget]
        out = greedy(model, [encoded[i] for i in group], max_new_tokens=budget,
                     min_new_tokens=min(min_new_tokens, budget), eos_id=tokenizer.eos_id,
                     pad_id=tokenizer.pad_id, batch_size=batch_size, progress=True)
        for i, continuation, margin in zip(group, out.ids, out.margins):
            ids[i], margins[i] = list(continuation), margin
    seconds = time.perf_counter() - start
    # Special tokens are dropped from the text, as MindFormers' text-generation pipeline does.
    texts = [tokenizer.decode(x, skip_special=True) if x else "" for x in ids]
    return Generation(texts, [len(x) for x in ids], [len(e) for e in encoded], allowed, seconds, margins)


def predict_math(model, tokenizer, test: Sequence[dict],
                 settings: PredictSettings) -> tuple[list[dict[str, str]], Generation]:
    """Greedy predictions of the test problems with a math prompt: records and the run.

    Tokenized as the prompt variant says (the entry's: no bos, as its script's tokenizer does).
    """
    prompts = math_prompts(test, settings.prompt)
    gen = generate_texts(model, tokenizer, prompts, max_new_tokens=settings.max_new_tokens,
                         max_length=settings.max_length, batch_size=settings.batch_size,
                         min_new_tokens=settings.min_new_tokens,
                         bos=math_prompt_named(settings.prompt).bos)
    return prediction_records(prompts, gen.texts), gen


def write_predictions(records: Sequence[dict], gen: Generation, settings: PredictSettings, *,
                      model_name: str, checkpoint, out_jsonl: str | Path, out_npy: str | Path,
                      out_json: str | Path) -> dict[str, Any]:
    """predictions.jsonl, result_npy.npy and the predict.json report of one math run."""
    from mathlora.artifacts import write_artifact

    write_jsonl(out_jsonl, records)
    write_result_npy(out_npy, [r["output"] for r in records])
    return write_artifact(out_json, "predict", {
        "model": model_name, "task": "math", "checkpoint": str(checkpoint),
        **dataclasses.asdict(settings), **gen.stats()})


def prediction_records(prompts: Sequence[str], generations: Sequence[str]) -> list[dict[str, str]]:
    """predictions.jsonl rows; ids count from "1" like the organisers' data_converter."""
    return [{"id": str(i), "prompt": p, "output": p + g, "generation": g}
            for i, (p, g) in enumerate(zip(prompts, generations, strict=True), start=1)]


def result_array(outputs: Sequence[str]):
    """The entry's result list as an object array: one ``{'text_generation_text': [text]}`` per item."""
    import numpy as np

    array = np.empty(len(outputs), dtype=object)
    for i, text in enumerate(outputs):
        array[i] = {RESULT_KEY: [text]}
    return array


def write_result_npy(path: str | Path, outputs: Sequence[str]) -> None:
    import numpy as np

    with atomic_output(path, suffix=".npy") as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, result_array(outputs), allow_pickle=True)


def write_jsonl(path: str | Path, records: Sequence[dict]) -> None:
    with atomic_output(path, suffix=".jsonl") as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            for record in records:
                handle.write(dumps_line(record))


def load_model_and_tokenizer(model_yaml: str, checkpoint: str | None, tokenizer_path: str, *,
                             batch_size: int, seq_length: int | None):
    from mathlora.model.network import load_causal_lm
    from mathlora.tokenizer.llama3 import Llama3Tokenizer

    tokenizer = Llama3Tokenizer.from_file(tokenizer_path)
    model = load_causal_lm(model_yaml, checkpoint, batch_size=batch_size, seq_length=seq_length)
    return model, tokenizer
