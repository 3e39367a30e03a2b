"""Draw the held-out math test set from raw lines that were never sampled for training.

Candidates are the valid lines of the raw train.json (template text removed, as prepare does; a
line left without a problem or a solution is excluded and counted) whose problem text (compared
exactly and after folding whitespace and case) never occurs in the training sample; each distinct
problem is a candidate once. ``--pool kept`` further restricts candidates to
lines prepare would keep (no * or / problems); ``all`` (default) keeps every category, like the hidden
test set. A seeded sample of ``--size`` candidates is written as JSON Lines ``{"problem",
"solution"}``; the report re-checks the written file against the training sample and states the
overlap found (it must be 0).
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


def draw(table: Table, pool: list[int], size: int, seed: int) -> list[Line]:
    if size > len(pool):
        raise ConfigError(f"data.test_size: asked for {size} test problems but only {len(pool)} "
                          f"distinct problems lie outside the training sample")
    # A stream of its own, so the test set does not move when the training sample size changes.
    return [table.line(at) for at in sorted(random.Random(f"{seed}:test").sample(pool, size))]


def overlap(test: list[dict[str, str]], train: Training) -> dict[str, int]:
    return {"exact": sum(row["problem"] in train.exact for row in test),
            "normalized": sum(normalize(row["problem"]) in train.normalized for row in test)}


def configure(parser: argparse.ArgumentParser) -> None:
    add_input_options(parser)
    parser.add_argument("--train", required=True, type=Path, help="the training sample (train.jsonl)")
    parser.add_argument("--size", type=int, required=True, help="test problems to draw")
    parser.add_argument("--pool", choices=("all", "kept"), default="all",
                        help="all: any category (default); kept: only lines prepare keeps")
    parser.add_argument("--out", required=True, type=Path, help="test set JSON Lines")
    parser.add_argument("--report", required=True, type=Path, help="split.json report")


def main(args: argparse.Namespace) -> int:
    require_counts({"chinese_lines": args.chinese_lines, "size": args.size})
    train = Training.of({record["problem"] for _, record in iter_records(args.train, FIELDS)})
    bad = BadLines()
    with bulk_objects():
        table = read_table(args.input, args.chinese_lines, on_error=args.on_error, bad=bad)
        pool, excluded = candidates(table, train, args.pool)
    test = draw(table, pool, args.size, args.seed)
    write_problems(args.out, ((line.problem, line.solution) for line in test))
    written = [record for _, record in iter_records(args.out, FIELDS)]
    found = overlap(written, train)
    if any(found.values()):  # cannot happen by construction; never ship a contaminated test set
        args.out.unlink()
        raise MathloraError(f"{args.out}: test set overlaps the training sample {found}")
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
        "test_size": len(test),
        "by_language": dict(Counter(language(line) for line in test)),
        "by_category": in_order(Counter(category_of(line.problem) for line in test)),
        "overlap": found,
    }
    write_artifact(args.report, "split", payload)
    return 0
