"""Prepare the training sample exactly as the entry did: template text out, * and / out, seeded sample.

``mathlora prepare``: the arguments, read into calls of :mod:`mathlora.data.prepare`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mathlora.artifacts import write_artifact
from mathlora.cli.arguments import add_input_options
from mathlora.data.clean import bulk_objects, read_table
from mathlora.data.prepare import report, require_counts, sample, tally
from mathlora.errors import InputError
from mathlora.jsonl import BadLines, write_problems


def configure(parser: argparse.ArgumentParser) -> None:
    add_input_options(parser)
    parser.add_argument("--chinese", type=int, required=True,
                        help="Chinese lines to sample (the entry: 88800)")
    parser.add_argument("--english", type=int, required=True,
                        help="English lines to sample (the entry: 1200)")
    parser.add_argument("--out", required=True, type=Path, help="sampled training JSON Lines")
    parser.add_argument("--report", required=True, type=Path, help="prepare.json report")


def main(args: argparse.Namespace) -> int:
    require_counts({"chinese_lines": args.chinese_lines, "chinese": args.chinese,
                    "english": args.english})
    sizes = {"chinese": args.chinese, "english": args.english}
    bad = BadLines()
    with bulk_objects():
        table = read_table(args.input, args.chinese_lines, on_error=args.on_error, bad=bad)
        if args.chinese_lines > table.lines:  # every English line would be sampled as Chinese
            raise InputError(args.input, f"{table.lines} lines, fewer than --chinese-lines "
                             f"{args.chinese_lines} (data.chinese_lines): the Chinese lines come "
                             "first and the English after them, so the count must fit the file")
        result = tally(table)
        chosen = sample(table, result.kept, sizes, args.seed)
        payload = report(args.input, args.chinese_lines, args.seed, sizes, args.on_error, bad, result,
                         chosen)
    write_problems(args.out, ((line.problem, line.solution) for line in chosen))
    write_artifact(args.report, "prepare", payload)
    return 0
