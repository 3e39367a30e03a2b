"""Build the submission zip: code, predict script, yamls, report, logs, reports, checkpoints.

``mathlora bundle``: the arguments, read into calls of :mod:`mathlora.package.bundle`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mathlora.package.bundle import Contents, collect, write_bundle


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="the zip to write (results/<run>/submission/<run>.zip)")
    parser.add_argument("--name", required=True, help="the run name: the zip's top-level folder")
    parser.add_argument("--repo", type=Path, default=Path("."),
                        help="git checkout whose HEAD is the code package (default: .)")
    parser.add_argument("--report", type=Path, required=True, help="REPORT.md")
    parser.add_argument("--submission-dir", type=Path, default=Path("submission"),
                        help="files shipped verbatim: run_llama3_test.py, links.yaml, yamls")
    parser.add_argument("--yaml", type=Path, required=True,
                        help="the MindFormers training yaml of this run (bundled; `mathlora verify` "
                        "recounts the ratio from it)")
    parser.add_argument("--artifact", action="append", default=[], metavar="[KIND=]PATH",
                        help="a JSON report (it carries its kind; KIND= checks it)")
    parser.add_argument("--figure", action="append", type=Path, default=[], help="a figure (png)")
    parser.add_argument("--checkpoints", choices=["local", "links"], required=True,
                        help="local: bundle the merged checkpoints; links: submission/links.yaml")
    parser.add_argument("--checkpoint", action="append", type=Path, default=[],
                        help="a merged checkpoint to bundle (local mode), in training order")
    parser.add_argument("--log", action="append", type=Path, default=[],
                        help="a log file of the graph's jobs (bundled if it was written)")
    parser.add_argument("--log-dir", action="append", type=Path, default=[],
                        help="a folder of logs the jobs' programs write (bundled whole)")
    parser.add_argument("--benchmark", action="append", type=Path, default=[],
                        help="a benchmark timing file of the graph's jobs (bundled if it was written)")


def main(args: argparse.Namespace) -> int:
    base = Path.cwd()
    contents = Contents(repo=args.repo, report=args.report, submission_dir=args.submission_dir,
                        yaml=args.yaml, checkpoints=args.checkpoints, artifacts=tuple(args.artifact),
                        figures=tuple(args.figure), checkpoint_files=tuple(args.checkpoint),
                        logs=tuple(args.log), log_dirs=tuple(args.log_dir),
                        benchmarks=tuple(args.benchmark))
    members, code, skipped = collect(contents, base)
    manifest = write_bundle(args.out, args.name, members, checkpoints=args.checkpoints, code=code,
                            skipped=skipped)
    total = sum(e["size"] for e in manifest["members"])
    print(f"{args.out}: {len(manifest['members'])} members, {total} bytes; code at "
          f"{code['commit'][:12]}{' (dirty tree)' if code['dirty'] else ''}; "
          f"{len(skipped)} files skipped")
    for item in skipped:
        print(f"  skipped {item['path']}: {item['reason']}")
    return 0
