"""Generate a train.json in the organisers' format: Chinese arithmetic lines first, then English.

``mathlora synth``: the arguments, read into calls of :mod:`mathlora.data.synth`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mathlora.cli.arguments import add_settings_arguments, settings_from_arguments
from mathlora.data.synth import generate
from mathlora.jsonl import write_problems
from mathlora.settings import SynthSettings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="train.json to write (JSON Lines)")
    add_settings_arguments(parser, SynthSettings)


def main(args: argparse.Namespace) -> int:
    settings = settings_from_arguments(args, SynthSettings)
    write_problems(args.out, generate(settings.chinese_lines, settings.english_lines, settings.seed,
                                      settings.template_rate, settings.small_operands))
    return 0
