"""Math accuracy of one model's predictions: two answer extractions side by side.

Reads the predictions (``predictions.jsonl`` from ``mathlora predict``) and the test set they were
made for, extracts each answer (see ``mathlora.evaluate.extract``) and the reference answer of each
solution, compares them under the configured rule (see ``mathlora.evaluate.compare``), and reports
accuracy overall, per category and for English with 95 % Wilson intervals, a tolerance sweep,
and every failure with its extracted values. An empty output or one without a number is an
explicit "no answer", counted wrong; a solution without a number is counted wrong and reported.

Each output must belong to its item: it starts with that item's own prompt (whitespace aside). An
output that starts with another problem's prompt is an error naming the first such items (the
predictions were made in another order, or for another test set); an output with no prompt at all
is counted as ``prompt_not_found`` (scored whole) and fails the command past
``evaluate.max_prompt_not_found``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mathlora.data.categories import UNKNOWN, category_of
from mathlora.errors import ConfigError, InputError
from mathlora.evaluate.compare import DEFAULT_RULE, SWEEP, Rule, equal
from mathlora.evaluate.extract import MODES, Answer, continuation, extract, extract_reference, prompt_end
from mathlora.evaluate.stats import wilson
from mathlora.jsonl import read_records, read_test_file
from mathlora.prompts import DEFAULT_MATH_PROMPT, MATH_PROMPTS, MathPrompt, math_prompt_named

PRIMARY_MODE = "first_answer"
PREDICTION_FIELDS = ("id", "prompt", "output", "generation")
FAILURE_TEXT_CHARS = 300
ITEMS_NAMED = 5  # items an error about pairing names


@dataclass(frozen=True)
class Item:
    id: str
    problem: str
    solution: str
    output: str  # prompt + generation, as MindFormers returns it


@dataclass(frozen=True)
class Scored:
    item: Item
    category: str
    generation: str
    prompt_found: bool
    reference: Answer | None
    answers: dict[str, Answer | None]
    correct: dict[str, bool]


def score_item(item: Item, rule: Rule = DEFAULT_RULE, prompt: MathPrompt = MATH_PROMPTS[DEFAULT_MATH_PROMPT]) -> Scored:
    """One prediction scored; ``prompt`` is the variant the output was generated with."""
    generation, found = continuation(prompt(item.problem), item.output)
    reference = extract_reference(item.solution)
    answers = {mode: extract(generation, mode, item.problem) for mode in MODES}
    correct = {mode: equal(answers[mode], reference, rule) for mode in MODES}
    return Scored(item, category_of(item.problem), generation, found, reference, answers, correct)


def _accuracy(correct: int, n: int) -> dict:
    low, high = wilson(correct, n)
    return {"correct": correct, "accuracy": correct / n if n else 0.0, "ci95": [low, high]}


def summarise(scored: Sequence[Scored], rule: Rule = DEFAULT_RULE) -> dict:
    """The report body (without schema version and provenance) for a list of scored items."""
    n = len(scored)
    modes = {}
    for mode in MODES:
        block = _accuracy(sum(s.correct[mode] for s in scored), n)
        block["no_answer"] = sum(s.answers[mode] is None for s in scored)
        modes[mode] = block
    categories: dict[str, dict] = {}
    for name in sorted({s.category for s in scored}):
        members = [s for s in scored if s.category == name]
        categories[name] = {"n": len(members), **{
            mode: _accuracy(sum(s.correct[mode] for s in members), len(members)) for mode in MODES}}
    sweep = {}
    for sweep_rule in SWEEP:
        hits = sum(equal(s.answers[PRIMARY_MODE], s.reference, sweep_rule) for s in scored)
        sweep[sweep_rule.name] = _accuracy(hits, n)
    failures = [_failure(s) for s in scored if not s.correct[PRIMARY_MODE]]
    return {
        "n": n,
        "correct_ids": [s.item.id for s in scored if s.correct[PRIMARY_MODE]],
        "primary_mode": PRIMARY_MODE,
        "accuracy": modes[PRIMARY_MODE]["accuracy"],
        "rule": {"name": rule.name, "round_to_reference": rule.round_to_reference,
                 "rel_tol": rule.rel_tol},
        "modes": modes,
        "categories": categories,
        "unknown_category": categories.get(UNKNOWN, {}).get("n", 0),
        "reference_without_number": sum(s.reference is None for s in scored),
        "prompt_not_found": sum(not s.prompt_found for s in scored),
        "sweep": sweep,
        "failures": failures,
    }


def _failure(s: Scored) -> dict:
    def show(answer: Answer | None):
        return None if answer is None else answer.to_json()

    return {"id": s.item.id, "category": s.category, "problem": s.item.problem,
            "reference": show(s.reference),
            "generation": s.generation[:FAILURE_TEXT_CHARS],
            **{mode: show(s.answers[mode]) for mode in MODES}}


def math_report(model_name: str, items: Sequence[Item], rule: Rule = DEFAULT_RULE,
                prompt: str = DEFAULT_MATH_PROMPT) -> dict:
    """The math.json body of one model: every item scored under ``rule`` and summarised."""
    variant = math_prompt_named(prompt)
    return {"model": model_name, "prompt": variant.name,
            **summarise([score_item(item, rule, variant) for item in items], rule)}


def items_from_records(records: Sequence[dict], test: Sequence[dict]) -> list[Item]:
    """Items of predictions made in test-set order (``predict.prediction_records``)."""
    return [Item(r["id"], t["problem"], t["solution"], r["output"])
            for r, t in zip(records, test, strict=True)]


def items_from_predictions(test_path: str | Path, predictions_path: str | Path,
                           prompt: str = DEFAULT_MATH_PROMPT) -> list[Item]:
    """Pair each prediction with its test item; counts, order and prompts must agree."""
    variant = math_prompt_named(prompt)
    test = read_test_file(test_path)
    predictions = read_records(predictions_path, PREDICTION_FIELDS)
    check_one_per_item(predictions_path, len(predictions), len(test))
    items = []
    for number, (pred, case) in enumerate(zip(predictions, test), start=1):
        if pred["prompt"] != variant(case["problem"]):
            raise InputError(predictions_path, f"prompt does not match test item {number} of "
                             f"{test_path} under the {variant.name!r} prompt: predictions must be "
                             "in test-set order, made with that prompt", line=number, field="prompt")
        items.append(Item(pred["id"], case["problem"], case["solution"], pred["output"]))
    return items


def check_pairing(path: str | Path, items: Sequence[Item], prompt: MathPrompt,
                  max_not_found: int = 0) -> None:
    """Each output starts with its own item's prompt; at most ``max_not_found`` hold no prompt."""
    if max_not_found < 0:
        raise ConfigError(f"evaluate.max_prompt_not_found: must be >= 0, got {max_not_found}")
    foreign, bare = [], []
    for item in items:
        if prompt_end(prompt(item.problem), item.output) is None:
            holds_a_prompt = prompt_end(prompt.prefix, item.output) is not None
            (foreign if holds_a_prompt else bare).append(item)
    if foreign:
        first = foreign[0]
        asked = first.output[prompt_end(prompt.prefix, first.output):]
        raise InputError(path, f"{len(foreign)} of {len(items)} texts start with another problem's "
                         f"prompt, not their own item's: items {_named(foreign)}; item {first.id} "
                         f"is {_short(first.problem)} but its text asks "
                         f"{_short(asked)}. The texts must be in "
                         f"test-set order, made for this test set with the {prompt.name!r} prompt")
    if len(bare) > max_not_found:
        raise InputError(path, f"{len(bare)} of {len(items)} texts hold no prompt (prompt_not_found; "
                         f"items {_named(bare)}), more than evaluate.max_prompt_not_found {max_not_found}: "
                         "their order cannot be checked; raise the limit to score them whole")


def _named(items: Sequence[Item]) -> str:
    more = f" and {len(items) - ITEMS_NAMED} more" if len(items) > ITEMS_NAMED else ""
    return ", ".join(item.id for item in items[:ITEMS_NAMED]) + more


def _short(text: str, chars: int = 40) -> str:
    return repr(text[:chars] + ("..." if len(text) > chars else ""))


def check_one_per_item(path: str | Path, predictions: int, tests: int) -> None:
    if predictions != tests:
        more = "more" if predictions > tests else "fewer"
        raise InputError(path, f"{predictions} predictions for {tests} test items ({more} "
                         "predictions than test items): expected exactly one per test item")


def plot(report: dict, path: str | Path, title: str) -> None:
    """Per-category accuracy with 95 % intervals, both extraction modes side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mathlora.artifacts import atomic_output

    names = list(report["categories"]) + ["overall"]
    blocks = [report["categories"][n] for n in names[:-1]] + [{"n": report["n"], **report["modes"]}]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(names) + 1.5))
    height = 0.38
    for offset, mode in ((-height / 2, "first_answer"), (height / 2, "last_number")):
        acc = [b[mode]["accuracy"] for b in blocks]
        err = [[a - b[mode]["ci95"][0] for a, b in zip(acc, blocks)],
               [b[mode]["ci95"][1] - a for a, b in zip(acc, blocks)]]
        ax.barh([i + offset for i in range(len(names))], acc, height, xerr=err, label=mode,
                capsize=2)
    ax.set_yticks(range(len(names)), [f"{n} ({b['n']})" for n, b in zip(names, blocks)])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("accuracy (95 % Wilson interval)")
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    with atomic_output(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)


def equality_rule(rel_tol: float, round_to_reference: bool = True) -> Rule:
    """The rule answers are compared under: within ``rel_tol``, or rounded to the reference's decimals."""
    if not math.isfinite(rel_tol) or rel_tol < 0:
        raise ConfigError(f"evaluate.rel_tol: must be a finite number >= 0, got {rel_tol}")
    return Rule(round_to_reference=round_to_reference, rel_tol=rel_tol)


def format_table(report: dict) -> str:
    lines = [f"{'category':<16}{'n':>6}{'first':>10}{'last':>10}   first-answer 95% CI"]
    rows = [(name, block) for name, block in report["categories"].items()]
    rows.append(("overall", {"n": report["n"], **report["modes"]}))
    for name, block in rows:
        lo, hi = block["first_answer"]["ci95"]
        lines.append(f"{name:<16}{block['n']:>6}{block['first_answer']['accuracy']:>10.4f}"
                     f"{block['last_number']['accuracy']:>10.4f}   [{lo:.3f}, {hi:.3f}]")
    lines.append("no answer: " + ", ".join(f"{m} {report['modes'][m]['no_answer']}" for m in MODES)
                 + f"; reference without number: {report['reference_without_number']}"
                 + f"; prompt not found: {report['prompt_not_found']}"
                 + f"; unknown category: {report['unknown_category']}")
    lines.append("tolerance sweep (first answer): " + ", ".join(
        f"{name} {block['accuracy']:.4f}" for name, block in report["sweep"].items()))
    return "\n".join(lines)
