"""Verify a submission zip without extracting it; exit 0 only when every check passes.

``mathlora verify``: the arguments, read into calls of :mod:`mathlora.package.verify`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mathlora.artifacts import validator, write_artifact
from mathlora.package.verify import Limits, payload, recount_with_cli, render_text, verify_zip


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("zip", type=Path, help="the submission zip to check")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--out", type=Path, help="also write the report as a 'verify' artifact here")
    parser.add_argument("--no-recount", action="store_true",
                        help="skip rebuilding the network to recount the ratio (the check is "
                             "reported as skipped)")
    parser.add_argument("--fail-fast", action="store_true",
                        help="stop at the first failed check (the rest are reported as skipped)")
    parser.add_argument("--max-member-bytes", type=int, default=Limits.max_member_bytes,
                        help="refuse members larger than this (default: %(default)s)")
    parser.add_argument("--max-ratio", type=float, default=Limits.max_ratio,
                        help="refuse members compressed more than this ratio (default: %(default)s)")


def main(args: argparse.Namespace) -> int:
    limits = Limits(max_member_bytes=args.max_member_bytes, max_ratio=args.max_ratio)
    outcome = verify_zip(args.zip, recount=None if args.no_recount else recount_with_cli, limits=limits,
                         fail_fast=args.fail_fast)
    report = payload(args.zip, outcome)
    if args.out:
        validator("verify")  # fail on a missing schema before printing anything
        write_artifact(args.out, "verify", report)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(render_text(args.zip, outcome))
    return 0 if outcome.ok else 1
