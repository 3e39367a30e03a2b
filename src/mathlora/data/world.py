"""The tiny base model's pretraining corpus: a small world of its own, not the training set.

The embedded default stands in for Llama3-8B with a base pretrained here, so that base must know
things the fine-tuning then builds on, the way the real base knew arithmetic and reading before
the entry's LoRA. It is written as JSON Lines documents ``{"kind", "key", "text"}``:

``arithmetic``
    additions and subtractions of integers 0..N asked in phrasings other than the organisers'
    (English and Chinese words, never the ``计算 a + b 等于多少？`` question the fine-tuning
    teaches), each answered in one of several forms, the equation ``a + b = c`` among them, and
    put in one of several instruction wrappers: none, ``Question:``/``Answer:``, ``问：``/``答：``,
    the entry's inference prompt, the report's prose prompt, the fine-tuning conversation. The base
    learns to compute, to write an equation and that a wrapper does not change an answer; what the
    organisers' question asks is left to the fine-tuning.
``reading``
    generated passages about invented towns (:mod:`mathlora.data.squad_synth`, a split of their
    own), every question in the organisers' SQuAD prompt followed by its answer span.

No problem of the training or test set is in it: every operand pair (``add:12:34``) that occurs in
a given problem file is left out, and ``mathlora contamination`` checks the corpus against the test
set again. Same seed, sizes and exclusions -> byte-identical file.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from pathlib import Path

from mathlora.errors import ConfigError
from mathlora.jsonl import iter_records
from mathlora.prompts import ENTRY, FINETUNE, REPORT, VICUNA_ROUND_END, squad_prompt

# The organisers' addition and subtraction problem (two-decimal or integer operands).
_ORGANISER = re.compile(r"^计算 (-?\d+(?:\.\d+)?) ([+-]) (-?\d+(?:\.\d+)?) 等于多少？$")
OPERATIONS = {"+": "add", "-": "subtract"}

PHRASINGS = {
    "add": ("What is {a} plus {b}?", "Add {a} and {b}.", "What do you get when you add {a} and {b}?",
            "{a} 加 {b} 等于几？", "求 {a} 与 {b} 的和。", "把 {a} 和 {b} 加起来是多少？"),
    "subtract": ("What is {a} minus {b}?", "Subtract {b} from {a}.", "What is {b} less than {a}?",
                 "{a} 减 {b} 等于几？", "求 {a} 与 {b} 的差。", "从 {a} 里减去 {b} 是多少？"),
}
ANSWERS = ("{c}", "The answer is {c}.", "It is {c}.", "答案是 {c}。", "结果是 {c}", "{a} {op} {b} = {c}",
           "所以 {a} {op} {b} = {c}。")
SYMBOLS = {"add": "+", "subtract": "-"}


def _vicuna(problem: str, answer: str) -> str:
    return f"{FINETUNE(problem)} {answer}{VICUNA_ROUND_END}"


WRAPPERS = (
    lambda p, a: f"{p}\n{a}",
    lambda p, a: f"Question: {p}\nAnswer: {a}",
    lambda p, a: f"问：{p}\n答：{a}",
    lambda p, a: f"{ENTRY(p)} {a}",
    lambda p, a: f"{REPORT(p)} {a}",
    _vicuna,
)


def arithmetic_key(problem: str) -> str | None:
    """``add:12:34`` for an organiser-phrased addition or subtraction, else None."""
    match = _ORGANISER.match(problem.strip())
    if match is None:
        return None
    a, op, b = match.groups()
    return f"{OPERATIONS[op]}:{a}:{b}"


def excluded_keys(paths: Iterable[str | Path]) -> set[str]:
    """Operand pairs of every addition and subtraction in the given problem files."""
    keys: set[str] = set()
    for path in paths:
        for _, record in iter_records(path, ("problem",)):
            key = arithmetic_key(record["problem"])
            if key is not None:
                keys.add(key)
    return keys


def arithmetic_documents(count: int, largest: int, seed: int, excluded: set[str]) -> list[dict]:
    """``count`` arithmetic documents over the operand pairs 0..``largest`` not in ``excluded``
    (a pair may recur, in another phrasing, answer form and wrapper)."""
    rng = random.Random(f"{seed}:world:arithmetic")
    allowed = [key for key in (f"{operation}:{a}:{b}" for operation in ("add", "subtract")
                               for a in range(largest + 1) for b in range(largest + 1))
               if key not in excluded]
    if not allowed:
        raise ConfigError(f"base.corpus.largest: every operand pair 0..{largest} is in the training "
                          "or test set; expected a larger range")
    documents = []
    for _ in range(count):
        key = rng.choice(allowed)
        operation, a, b = key.split(":")
        a, b = int(a), int(b)
        c = a + b if operation == "add" else a - b
        problem = rng.choice(PHRASINGS[operation]).format(a=a, b=b)
        answer = rng.choice(ANSWERS).format(a=a, b=b, c=c, op=SYMBOLS[operation])
        documents.append({"kind": "arithmetic", "key": key,
                          "text": rng.choice(WRAPPERS)(problem, answer)})
    return documents


def reading_documents(paragraphs: int, seed: int) -> list[dict]:
    from mathlora.data.squad_synth import dataset

    documents = []
    for article in dataset(seed, "world", paragraphs)["data"]:
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                answer = qa["answers"][0]["text"]
                documents.append({"kind": "reading", "key": qa["id"],
                                  "text": f"{squad_prompt(para['context'], qa['question'])} {answer}"})
    return documents


def corpus(*, arithmetic: int, paragraphs: int, largest: int, seed: int,
           excluded: set[str]) -> list[dict]:
    return (arithmetic_documents(arithmetic, largest, seed, excluded)
            + reading_documents(paragraphs, seed))


def read_corpus(path: str | Path) -> list[dict]:
    return [record for _, record in iter_records(path, ("kind", "key", "text"))]
