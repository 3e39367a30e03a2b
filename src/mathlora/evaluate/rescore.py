"""Rescore a saved ``result_npy.npy`` against its test set, without running a model.

The ``.npy`` is read with a restricted unpickler (``mathlora.evaluate.npy_safe``): it must hold
``{'text_generation_text': [prompt + generation, ...]}`` dicts (one per batch, as the entry's script
saves them, or one per item) whose texts are one per test item, in test-set order. The test set
is the file the entry's script read: one JSON array of ``{problem, solution}`` objects or JSON
Lines. Each text must start with its own item's prompt (see ``mathlora.evaluate.math_eval``): a
file saved for another test order or set is refused, naming the first items that do not fit.
Prints the accuracy (first answer and last number, with 95 % intervals and per category) under
the default equality rule and a tolerance sweep (exact, 1e-4, 1e-2), since the organisers
published none.
"""

from __future__ import annotations

from mathlora.evaluate.math_eval import (
    Item,
    check_one_per_item,
    check_pairing,
    score_item,
    summarise,
)
from mathlora.evaluate.npy_safe import load_result_texts
from mathlora.jsonl import read_test_file
from mathlora.prompts import DEFAULT_MATH_PROMPT, math_prompt_named


def rescore_texts(texts: list[str], cases: list[dict], rule, *, source: str,
                  prompt: str = DEFAULT_MATH_PROMPT, max_not_found: int = 0) -> dict:
    """The math report of ``texts``, one per test case in order (``source`` names them in errors)."""
    check_one_per_item(source, len(texts), len(cases))
    variant = math_prompt_named(prompt)
    items = [Item(str(i), case["problem"], case["solution"], text)
             for i, (case, text) in enumerate(zip(cases, texts), start=1)]
    check_pairing(source, items, variant, max_not_found)
    return {"prompt": variant.name,
            **summarise([score_item(item, rule, variant) for item in items], rule)}


def rescore(predictions: str, test: str, rule, prompt: str = DEFAULT_MATH_PROMPT,
            max_not_found: int = 0) -> dict:
    return rescore_texts(load_result_texts(predictions), read_test_file(test), rule,
                         source=predictions, prompt=prompt, max_not_found=max_not_found)
