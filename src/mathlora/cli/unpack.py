"""Take what judging needs out of an outside submission zip, safely.

``mathlora unpack``: the arguments, read into calls of :mod:`mathlora.package.unpack`.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from mathlora.artifacts import atomic_output, write_artifact
from mathlora.package.unpack import unpack
from mathlora.package.verify import Limits, recount_with_cli


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submission", help="a submission zip, or a folder of *.ckpt files")
    parser.add_argument("--out-dir", required=True, help="where ckpt1..N.ckpt (and yaml, params) go")
    parser.add_argument("--out", required=True, help="unpack.json report to write")
    parser.add_argument("--links", help="for a folder: the links.yaml whose checkpoints it holds "
                                        "(their order and file names)")
    parser.add_argument("--max-member-bytes", type=int, default=Limits.max_member_bytes,
                        help="refuse members larger than this (default: %(default)s)")
    parser.add_argument("--max-ratio", type=float, default=Limits.max_ratio,
                        help="refuse members compressed more than this ratio (default: %(default)s)")
    parser.add_argument("--no-recount", action="store_true",
                        help="verify a bundle without rebuilding the network to recount its ratio")


def main(args: argparse.Namespace) -> int:
    out_dir = Path(args.out_dir)
    limits = Limits(max_member_bytes=args.max_member_bytes, max_ratio=args.max_ratio)
    # The folder appears whole or not at all; nothing is left from an earlier bundle.
    with atomic_output(out_dir) as staging:
        report = unpack(args.submission, staging, limits, args.links,
                        None if args.no_recount else recount_with_cli)
        if out_dir.exists():
            shutil.rmtree(out_dir)
    write_artifact(args.out, "unpack", report)
    checkpoints = sum(m["role"] == "checkpoint" for m in report["members"])
    print(f"{args.submission}: {checkpoints} checkpoints, {len(report['members']) - checkpoints} "
          f"other members -> {out_dir}; left out: {len(report['skipped'])}")
    for entry in report["skipped"]:
        print(f"  {entry['member']}: {entry['reason']}")
    return 0
