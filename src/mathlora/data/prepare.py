"""Prepare the training sample exactly as the entry did: template text out, * and / out, seeded sample.

Reads the organisers' raw train.json (JSON Lines ``{"problem", "solution"}``; the first
``--chinese-lines`` lines are Chinese, the rest English), removes instruction-template text wherever it
appears (see :mod:`mathlora.data.clean` for what that text is), drops every line whose solution is a
multiplication ``a * b = c`` or a division ``a / b = c``, then draws a seeded random sample of the
remaining Chinese and English lines (the entry: 88,800 + 1,200). Duplicates are kept, as the entry
kept them, and counted. Writes the sample (same JSON Lines format, in file order) and a report
(``prepare.json``) that accounts for every line read.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mathlora.data.categories import category_of, in_order
from mathlora.data.clean import TEMPLATE_TEXTS, Line, Table
from mathlora.data.numbers import DECIMAL_PATTERN as _NUM
from mathlora.errors import ConfigError
from mathlora.jsonl import BadLines

EMPTY = "empty_after_template_removal"
# The solution of a multiplication or division problem: ``a * b = c`` / ``a / b = c``.
MUL_DIV = re.compile(rf"^\s*{_NUM}\s*([*/])\s*{_NUM}\s*=\s*\S+\s*$")
DROP_RULES = {"*": "multiplication", "/": "division"}


def is_empty(problem: str, solution: str) -> bool:
    """Nothing left to ask or to answer once template text is gone."""
    return not problem.strip() or not solution.strip()


def drop_reason(problem: str, solution: str) -> str | None:
    """Why prepare drops a line, or ``None`` to keep it."""
    if is_empty(problem, solution):
        return EMPTY
    match = MUL_DIV.match(solution)
    return DROP_RULES[match.group(1)] if match else None


@dataclass
class Tally:
    lines: int = 0
    template_lines: int = 0
    template_occurrences: int = 0
    duplicates: int = 0
    removed: Counter = field(default_factory=Counter)
    by_category: Counter = field(default_factory=Counter)
    # positions (0-based, among the valid lines, file order) of the lines kept, per language
    kept: dict[str, Any] = field(default_factory=dict)


def language(line: Line) -> str:
    return "english" if line.english else "chinese"


def tally(table: Table) -> Tally:
    """Apply the removal rules to every line, counting everything.

    Each distinct line is judged once; its verdict counts as many times as the line occurs.
    """
    import numpy as np

    result = Tally(lines=table.size)
    counts = table.multiplicity().tolist()
    keep = np.zeros(len(counts), dtype=bool)
    keys: set[tuple[str, str]] = set()
    for d, (problem, solution, templates) in enumerate(zip(table.problems, table.solutions,
                                                           table.templates)):
        count = counts[d]
        if problem is None or not count:
            continue
        if templates:
            result.template_lines += count
            result.template_occurrences += count * templates
        keys.add((problem, solution))  # type: ignore[arg-type]
        result.by_category[category_of(problem)] += count
        reason = drop_reason(problem, solution)  # type: ignore[arg-type]
        if reason:
            result.removed[reason] += count
        else:
            keep[d] = True
    # Lines whose (problem, solution) occurred before: distinct raw lines may clean to one pair.
    result.duplicates = result.lines - len(keys)
    kept = keep[table.ids]
    result.kept = {"chinese": np.flatnonzero(kept & ~table.english),
                   "english": np.flatnonzero(kept & table.english)}
    return result


def sample(table: Table, kept: dict[str, Any], sizes: dict[str, int], seed: int) -> list[Line]:
    """Seeded sample of ``sizes[lang]`` kept lines per language, returned in file order."""
    rng = random.Random(seed)
    chosen: list[int] = []
    for lang in ("chinese", "english"):
        pool, want = kept[lang], sizes[lang]
        if want > len(pool):
            raise ConfigError(f"data.sample.{lang}: asked for {want} lines but only {len(pool)} "
                              f"{lang} lines survive the prepare rules")
        # Drawing indices draws exactly what sampling the pool's elements would.
        chosen.extend(int(pool[i]) for i in rng.sample(range(len(pool)), want))
    return [table.line(at) for at in sorted(chosen)]


def report(path: Path, chinese_lines: int, seed: int, sizes: dict[str, int], on_error: str,
           bad: BadLines, result: Tally, chosen: list[Line]) -> dict[str, Any]:
    sample_keys = Counter((line.problem, line.solution) for line in chosen)
    return {
        "input": str(path),
        "chinese_lines": chinese_lines,
        "seed": seed,
        "on_error": on_error,
        "lines_read": result.lines + bad.total,
        "invalid": {"total": bad.total, "by_reason": dict(sorted(bad.counts.items())),
                    "examples": dict(sorted(bad.examples.items()))},
        "valid": result.lines,
        "template_text": {"texts": list(TEMPLATE_TEXTS), "lines": result.template_lines,
                          "occurrences": result.template_occurrences},
        "removed": {name: result.removed[name] for name in
                    ("multiplication", "division", EMPTY)},
        "duplicates": {"input": result.duplicates,
                       "sample": sum(count - 1 for count in sample_keys.values())},
        "input_by_category": in_order(result.by_category),
        "eligible": {lang: len(result.kept[lang]) for lang in ("chinese", "english")},
        "requested": dict(sizes),
        "sampled": {"chinese": sum(not line.english for line in chosen),
                    "english": sum(line.english for line in chosen), "total": len(chosen)},
        "sampled_by_category": in_order(Counter(category_of(line.problem) for line in chosen)),
    }


def require_counts(counts: dict[str, int], minimum: int = 0) -> None:
    """Each count (named as its command-line option) must be at least ``minimum``."""
    for name, value in counts.items():
        if value < minimum:
            raise ConfigError(f"--{name.replace('_', '-')}: expected a count >= {minimum}, got {value}")
