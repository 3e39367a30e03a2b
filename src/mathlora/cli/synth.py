"""Generate a train.json in the organisers' format: Chinese arithmetic lines first, then English.

``mathlora synth``: the arguments, read into calls of :mod:`mathlora.data.synth`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mathlora.data.prepare import require_counts
from mathlora.data.synth import REAL_CHINESE_LINES, REAL_ENGLISH_LINES, generate
from mathlora.jsonl import write_problems


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="train.json to write (JSON Lines)")
    parser.add_argument("--chinese-lines", type=int, default=REAL_CHINESE_LINES,
                        help="Chinese lines at the start of the file (default: the real 800000)")
    parser.add_argument("--english-lines", type=int, default=REAL_ENGLISH_LINES,
                        help="English lines after them (default: the real 9993)")
    parser.add_argument("--seed", type=int, required=True, help="random seed")
    parser.add_argument("--template-rate", type=float, default=0.0,
                        help="share of problems wrapped in instruction-template text (default 0)")
    parser.add_argument("--small-operands", type=int,
                        help="integer operands 0..N for + and - (default: the organisers' two-decimal "
                             "numbers)")


def main(args: argparse.Namespace) -> int:
    require_counts({"chinese_lines": args.chinese_lines, "english_lines": args.english_lines}, minimum=1)
    write_problems(args.out, generate(args.chinese_lines, args.english_lines, args.seed,
                                      args.template_rate, args.small_operands))
    return 0
