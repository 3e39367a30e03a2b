"""Draw the held-out development and test sets from raw lines that were never sampled for training.

Candidates are the valid lines of the raw train.json (template text removed, as prepare does; a
line left without a problem or a solution is excluded and counted) whose problem text (compared
exactly and after folding whitespace and case) never occurs in the training sample; each distinct
problem is a candidate once. ``--pool kept`` further restricts candidates to
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

import argparse
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mathlora.artifacts import write_artifact
from mathlora.data.categories import category_of, in_order
from mathlora.data.clean import FIELDS, Line, Table, bulk_objects, normalize, read_table
from mathlora.data.prepare import EMPTY, add_input_options, drop_reason, is_empty, language, require_counts
from mathlora.errors import ConfigError, MathloraError
from mathlora.jsonl import BadLines, iter_records, write_problems


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


def configure(parser: argparse.ArgumentParser) -> None:
    add_input_options(parser)
    parser.add_argument("--train", required=True, type=Path, help="the training sample (train.jsonl)")
    parser.add_argument("--dev-size", type=int, required=True, help="development problems to draw")
    parser.add_argument("--test-size", type=int, required=True, help="test problems to draw")
    parser.add_argument("--pool", choices=("all", "kept"), default="all",
                        help="all: any category (default); kept: only lines prepare keeps")
    parser.add_argument("--out-dev", required=True, type=Path, help="development set JSON Lines")
    parser.add_argument("--out-test", required=True, type=Path, help="test set JSON Lines")
    parser.add_argument("--report", required=True, type=Path, help="split.json report")


def described(rows: list[dict[str, str]], lines: list[Line]) -> dict[str, Any]:
    return {"size": len(rows),
            "by_language": dict(Counter(language(line) for line in lines)),
            "by_category": in_order(Counter(category_of(row["problem"]) for row in rows))}


def main(args: argparse.Namespace) -> int:
    require_counts({"chinese_lines": args.chinese_lines})
    require_counts({"dev_size": args.dev_size, "test_size": args.test_size}, minimum=1)
    train = Training.of({record["problem"] for _, record in iter_records(args.train, FIELDS)})
    bad = BadLines()
    with bulk_objects():
        table = read_table(args.input, args.chinese_lines, on_error=args.on_error, bad=bad)
        pool, excluded = candidates(table, train, args.pool)
    dev = draw_dev(pool, args.dev_size, args.seed)
    test = draw_test(table, pool, dev, args.test_size, args.seed)
    written = {}
    for name, path, chosen in (("dev", args.out_dev, dev), ("test", args.out_test, test)):
        lines = [table.line(at) for at in chosen]
        write_problems(path, ((line.problem, line.solution) for line in lines))
        written[name] = ([record for _, record in iter_records(path, FIELDS)], lines)
    found = {"dev": {"train": overlap(written["dev"][0], train)},
             "test": {"train": overlap(written["test"][0], train),
                      "dev": overlap(written["test"][0],
                                     Training.of({row["problem"] for row in written["dev"][0]}))}}
    leaks = {f"{name} with {other}": counts for name, by in found.items()
             for other, counts in by.items() if any(counts.values())}
    if leaks:  # cannot happen by construction; never ship a contaminated held-out set
        args.out_dev.unlink()
        args.out_test.unlink()
        raise MathloraError(f"{args.out_dev}, {args.out_test}: held-out sets overlap {leaks}")
    payload: dict[str, Any] = {
        "input": str(args.input),
        "train": str(args.train),
        "seed": args.seed,
        "pool": args.pool,
        "on_error": args.on_error,
        "lines_read": table.size + bad.total,
        "invalid": {"total": bad.total, "by_reason": dict(sorted(bad.counts.items()))},
        "training_problems": len(train.exact),
        "excluded": {name: excluded[name] for name in
                     ("in_training_exact", "in_training_normalized", "dropped_by_prepare_rules",
                      EMPTY, "repeated_problem")},
        "candidates": len(pool),
        "splits": {name: {"path": str(path), **described(*written[name]), "overlap": found[name]}
                   for name, path in (("dev", args.out_dev), ("test", args.out_test))},
    }
    write_artifact(args.report, "split", payload)
    return 0
