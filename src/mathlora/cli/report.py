"""Write REPORT.md from the graph's own artifacts, in the sections the contest asks for.

``mathlora report``: the arguments, read into calls of :mod:`mathlora.package.report`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mathlora.artifacts import atomic_output
from mathlora.package.report import Sources, build_report


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="REPORT.md to write")
    parser.add_argument("--run-name", required=True, help="the run's name (config run_name)")
    parser.add_argument("--device", choices=["cpu", "ascend"], required=True, help="config device")
    parser.add_argument("--prepare", type=Path, required=True, help="prepare.json")
    parser.add_argument("--split", type=Path, help="split.json (test-set counts)")
    parser.add_argument("--conversation", type=Path,
                        help="conversation.json (the sample's lines trained on, per category)")
    parser.add_argument("--train", type=Path, required=True, help="fine-tuning report (train.json)")
    parser.add_argument("--params", type=Path, required=True, help="params.json")
    parser.add_argument("--summary", type=Path, required=True,
                        help="summary.json (scores, SQuAD pass/fail, best checkpoint)")
    parser.add_argument("--yaml", type=Path, required=True, help="the MindFormers training yaml")
    parser.add_argument("--math", type=Path, nargs="+", required=True,
                        help="math.json of each model (base, ckpt1, ...)")
    parser.add_argument("--squad", type=Path, nargs="+", required=True, help="squad.json of each model")


def main(args: argparse.Namespace) -> int:
    text = build_report(Sources(run_name=args.run_name, device=args.device, prepare=args.prepare,
                                train=args.train, params=args.params, summary=args.summary,
                                yaml=args.yaml, math=tuple(args.math), squad=tuple(args.squad),
                                split=args.split, conversation=args.conversation))
    with atomic_output(args.out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    print(f"{args.out}: {len(text.splitlines())} lines, {len(args.math)} models")
    return 0
