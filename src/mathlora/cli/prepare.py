"""Prepare the training sample exactly as the entry did: template text out, * and / out, seeded sample.

``mathlora prepare``: the arguments, read into calls of :mod:`mathlora.data.prepare`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mathlora.artifacts import write_artifact
from mathlora.cli.arguments import add_input_argument, add_settings_arguments, settings_from_arguments
from mathlora.data.clean import bulk_objects, read_table
from mathlora.data.prepare import report, sample, tally
from mathlora.jsonl import BadLines, write_problems
from mathlora.settings import PrepareSettings


def configure(parser: argparse.ArgumentParser) -> None:
    add_input_argument(parser)
    parser.add_argument("--out", required=True, type=Path, help="sampled training JSON Lines")
    parser.add_argument("--report", required=True, type=Path, help="prepare.json report")
    add_settings_arguments(parser, PrepareSettings)


def main(args: argparse.Namespace) -> int:
    settings = settings_from_arguments(args, PrepareSettings)
    sizes = {"chinese": settings.sample["chinese"], "english": settings.sample["english"]}
    bad = BadLines()
    with bulk_objects():
        table = read_table(args.input, settings.chinese_lines, on_error=settings.on_error, bad=bad)
        result = tally(table)
        chosen = sample(table, result.kept, sizes, settings.seed)
        payload = report(args.input, settings.chinese_lines, settings.seed, sizes, settings.on_error, bad, result,
                         chosen)
    write_problems(args.out, ((line.problem, line.solution) for line in chosen))
    write_artifact(args.report, "prepare", payload)
    return 0
