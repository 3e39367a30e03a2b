"""Draw the held-out development and test sets from raw lines that were never sampled for training.

``mathlora split``: the arguments, read into calls of :mod:`mathlora.data.split`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mathlora.artifacts import write_artifact
from mathlora.cli.arguments import add_input_argument, add_settings_arguments, settings_from_arguments
from mathlora.data.clean import FIELDS, bulk_objects, read_table
from mathlora.data.prepare import EMPTY
from mathlora.data.split import Training, candidates, described, draw_dev, draw_test, overlap
from mathlora.errors import MathloraError
from mathlora.jsonl import BadLines, iter_records, write_problems
from mathlora.settings import SplitSettings


def configure(parser: argparse.ArgumentParser) -> None:
    add_input_argument(parser)
    parser.add_argument("--train", required=True, type=Path, help="the training sample (train.jsonl)")
    parser.add_argument("--out-dev", required=True, type=Path, help="development set JSON Lines")
    parser.add_argument("--out-test", required=True, type=Path, help="test set JSON Lines")
    parser.add_argument("--report", required=True, type=Path, help="split.json report")
    add_settings_arguments(parser, SplitSettings)


def main(args: argparse.Namespace) -> int:
    settings = settings_from_arguments(args, SplitSettings)
    train = Training.of({record["problem"] for _, record in iter_records(args.train, FIELDS)})
    bad = BadLines()
    with bulk_objects():
        table = read_table(args.input, settings.chinese_lines, on_error=settings.on_error, bad=bad)
        pool, excluded = candidates(table, train, settings.test_pool)
    dev = draw_dev(pool, settings.dev_size, settings.seed)
    test = draw_test(table, pool, dev, settings.test_size, settings.seed)
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
        "seed": settings.seed,
        "pool": settings.test_pool,
        "on_error": settings.on_error,
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
