"""Draw the held-out development and test sets from raw lines that were never sampled for training.

Candidates are the valid lines of the raw train.json (template text removed, as prepare does; a
line left without a problem or a solution is excluded and counted) whose problem text (compared
exactly and after folding whitespace and case) never occurs in the training sample; each distinct
problem is a candidate once. ``data.test_pool: kept`` further restricts candidates to
lines prepare would keep (no * or / problems); ``all`` (default) keeps every category, like the hidden
test set.

Two disjoint splits are drawn. The **development** set (``--dev-size``) is a seeded sample of the
candidates: every choice the graph makes (the best checkpoint; a learning rate) reads it. The
**test** set (``--test-size``) is drawn from the candidates left, stratified to the development
set's per-category counts (scaled to its size), and read only for reporting. Both are written as
JSON Lines ``{"problem", "solution"}``; the report re-checks the written files against the training
sample and each other and states the overlap found (it must be 0).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from mathlora.data.categories import category_of, in_order
from mathlora.data.clean import Line, Table, normalize
from mathlora.data.prepare import EMPTY, drop_reason, is_empty, language
from mathlora.errors import ConfigError


@dataclass(frozen=True)
class Training:
    """The training sample's problems, as written and in :func:`normalize`'d form."""

    exact: set[str]
    normalized: set[str]

    @classmethod
    def of(cls, problems: set[str]) -> Training:
        return cls(problems, {normalize(problem) for problem in problems})


def candidates(table: Table, train: Training, pool: str) -> tuple[list[int], Counter]:
    """Distinct-problem lines not in training (exact or normalized); counts of what was excluded.

    Returns the positions (among the valid lines, file order) of the first line of each candidate
    problem. Each distinct raw line is judged once, in order of first occurrence, and its verdict
    counted as often as it occurs. A line with an empty problem or solution is never a candidate:
    it would be a test item without a question or without a reference answer.
    """
    import numpy as np

    counts = table.multiplicity().tolist()
    present, first = np.unique(table.ids, return_index=True)
    first_at = dict(zip(present.tolist(), first.tolist()))
    excluded: Counter = Counter()
    seen: set[str] = set()
    chosen: list[int] = []
    for d, (problem, solution) in enumerate(zip(table.problems, table.solutions)):
        count = counts[d]
        if problem is None or not count:
            continue
        key = normalize(problem)
        if is_empty(problem, solution):  # type: ignore[arg-type]
            excluded[EMPTY] += count
        elif problem in train.exact:
            excluded["in_training_exact"] += count
        elif key in train.normalized:
            excluded["in_training_normalized"] += count
        elif pool == "kept" and drop_reason(problem, solution):  # type: ignore[arg-type]
            excluded["dropped_by_prepare_rules"] += count
        elif key in seen:
            excluded["repeated_problem"] += count
        else:
            seen.add(key)
            chosen.append(first_at[d])
            excluded["repeated_problem"] += count - 1
    return chosen, excluded


# Each split has a seed stream of its own, so neither moves when the training sample size changes.
# The development set keeps the stream it was first drawn with (it was the only held-out set then),
# so the shipped tiny base's world, which leaves its problems out, stays valid for it.
STREAMS = {"dev": "test", "test": "heldout-test"}


def draw_dev(pool: list[int], size: int, seed: int) -> list[int]:
    """A seeded simple random sample of ``size`` candidate positions, in file order."""
    if size > len(pool):
        raise ConfigError(f"data.dev_size: asked for {size} development problems but only "
                          f"{len(pool)} distinct problems lie outside the training sample")
    return sorted(random.Random(f"{seed}:{STREAMS['dev']}").sample(pool, size))


def allocate(like: Counter, size: int) -> dict[str, int]:
    """``size`` items over the categories of ``like`` in its proportions (largest remainder; ties
    go to the category first in :data:`CATEGORIES` order), at least one per category."""
    total = sum(like.values())
    order = list(in_order(like))
    if size < len(order):
        raise ConfigError(f"data.test_size: {size} test problems cannot follow the development "
                          f"set's stratification over {len(order)} categories; expected at least "
                          f"{len(order)}")
    exact = {name: like[name] * size / total for name in order}
    counts = {name: max(1, int(exact[name])) for name in order}
    spare = size - sum(counts.values())
    by_remainder = sorted(order, key=lambda name: (-(exact[name] - int(exact[name])), order.index(name)))
    for name in (by_remainder * size)[:max(spare, 0)]:
        counts[name] += 1
    while sum(counts.values()) > size:  # the one-per-category floor overshot: take from the largest
        counts[max(order, key=lambda name: (counts[name], -order.index(name)))] -= 1
    return counts


def draw_test(table: Table, pool: list[int], dev: list[int], size: int, seed: int) -> list[int]:
    """``size`` candidate positions outside ``dev``, stratified to ``dev``'s category counts."""
    taken = set(dev)
    by_category: dict[str, list[int]] = {}
    for at in pool:
        if at not in taken:
            by_category.setdefault(category_of(table.line(at).problem), []).append(at)
    wanted = allocate(Counter(category_of(table.line(at).problem) for at in dev), size)
    rng = random.Random(f"{seed}:{STREAMS['test']}")
    chosen: list[int] = []
    for name, count in wanted.items():
        available = by_category.get(name, [])
        if count > len(available):
            raise ConfigError(f"data.test_size: the test set needs {count} {name!r} problems to "
                              f"follow the development set's stratification, but only "
                              f"{len(available)} remain outside the training sample and the "
                              f"development set")
        chosen += rng.sample(available, count)
    return sorted(chosen)


def overlap(rows: list[dict[str, str]], other: Training) -> dict[str, int]:
    return {"exact": sum(row["problem"] in other.exact for row in rows),
            "normalized": sum(normalize(row["problem"]) in other.normalized for row in rows)}


def described(rows: list[dict[str, str]], lines: list[Line]) -> dict[str, Any]:
    return {"size": len(rows),
            "by_language": dict(Counter(language(line) for line in lines)),
            "by_category": in_order(Counter(category_of(row["problem"]) for row in rows))}
