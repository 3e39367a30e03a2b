"""Judge a submission: ``snakemake judge`` on it, with the graph's own rules.

``mathlora judge``: the arguments, read into calls of :mod:`mathlora.evaluate.judge`.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import yaml

from mathlora.errors import ConfigError, InputError
from mathlora.evaluate.judge import choose_configs, is_bundle, snakemake_command, tools_env, verify_first


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--submission", required=True,
                        help="submission zip, or a folder of *.ckpt files (links downloaded; with the "
                             "links.yaml they came with, they are taken in its order)")
    parser.add_argument("--test", help="test set to score with: a JSON array of {problem, solution} "
                                       "objects or JSON Lines (default: the configuration's)")
    parser.add_argument("--configfile", nargs="+", default=None,
                        help="the workflow configuration(s); default: the configuration in config/ "
                             "whose model is the submission's (config/config.yaml if it names none)")
    parser.add_argument("--cores", type=int, default=2, help="cores Snakemake may use")
    parser.add_argument("--dry-run", action="store_true", help="show the jobs and their commands only")


def main(args: argparse.Namespace) -> int:
    submission = Path(args.submission)
    if not submission.exists():
        raise InputError(submission, "submission not found")
    if not Path("Snakefile").is_file():
        raise ConfigError("run mathlora judge from the project's folder (the one with the Snakefile)")
    for path in args.configfile or []:
        if not Path(path).is_file():
            raise InputError(path, "configuration file not found")
    configfiles = choose_configs(args.configfile, submission)
    evaluate = {"judge_submission": str(submission.resolve())}
    if args.test:
        if not Path(args.test).is_file():
            raise InputError(args.test, "test set not found")
        evaluate["judge_test"] = str(Path(args.test).resolve())
    if submission.is_file() and not args.dry_run and is_bundle(submission):
        verify_first(submission)
    with tempfile.TemporaryDirectory(prefix="mathlora-judge-") as folder:
        overlay = Path(folder) / "judge.yaml"
        overlay.write_text(yaml.safe_dump({"evaluate": evaluate}), encoding="utf-8")
        command = snakemake_command(configfiles, overlay, cores=args.cores, dry_run=args.dry_run)
        print(" ".join(command), flush=True)
        return subprocess.run(command, env=tools_env()).returncode
