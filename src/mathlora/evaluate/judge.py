"""Judge a submission: ``snakemake judge`` on it, with the graph's own rules.

Judging is a target of the workflow (``workflow/rules/judge.smk``): a zip passes verify's
protective checks, and a mathlora bundle the whole of ``verify``, before anything is extracted or
scored; each checkpoint becomes full weights (merged here when the LoRA matrices are still inside,
or onto the base for a LoRA-only file), and the same predict, math, squad and summary rules as the
graph's own models score it. This command first runs ``mathlora verify --fail-fast`` on a bundle,
so a tampered one is refused in seconds, before Snakemake starts; then it builds the Snakemake call: the configuration
(``--configfile``, the embedded default unless given) names the tokenizer, the SQuAD dev file, the
base model and the test set; ``--submission`` and ``--test`` override the last two of
``evaluate``. To rescore a saved ``result_npy.npy`` without a model, use ``mathlora rescore``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import yaml

from mathlora.errors import ConfigError, InputError


def tools_bin() -> Path:
    """The folder of the running interpreter's tools (``.venv/bin``: snakemake, mathlora)."""
    return Path(sys.executable).parent


def tools_env() -> dict[str, str]:
    """This environment with the tools' folder first on PATH (the venv need not be activated)."""
    path = os.environ.get("PATH", "")
    return {**os.environ, "PATH": os.pathsep.join(filter(None, [str(tools_bin()), path]))}


def is_bundle(path: Path) -> bool:
    """A zip with a ``manifest.json`` at the top or one folder down, as ``mathlora bundle`` writes."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(n.split("/")[-1] == "manifest.json" and n.count("/") <= 1
                       for n in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False  # not a zip: the graph's unpack says so


def verify_first(bundle: Path) -> None:
    """The whole of ``mathlora verify`` on a bundle, stopping at the first failed check."""
    command = [sys.executable, "-m", "mathlora.cli", "verify", str(bundle), "--fail-fast"]
    done = subprocess.run(command, env=tools_env())
    if done.returncode != 0:
        raise InputError(bundle, "refused by verify (the failed check above); nothing was judged")


def snakemake_command(configfiles: list[str], overlay: Path, *, cores: int, dry_run: bool) -> list[str]:
    """``snakemake judge`` on the configuration files and the overlay that names the submission."""
    sibling = tools_bin() / "snakemake"
    executable = str(sibling) if sibling.is_file() else shutil.which("snakemake") or "snakemake"
    command = [executable, "judge", "--cores", str(cores), "--configfile", *configfiles, str(overlay)]
    if dry_run:
        command += ["--dry-run", "--printshellcmds"]
    return command


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--submission", required=True,
                        help="submission zip, or a folder of *.ckpt files (links downloaded; with the "
                             "links.yaml they came with, they are taken in its order)")
    parser.add_argument("--test", help="test set to score with: a JSON array of {problem, solution} "
                                       "objects or JSON Lines (default: the configuration's)")
    parser.add_argument("--configfile", nargs="+", default=["config/config.yaml"],
                        help="the workflow configuration(s) (default: %(default)s)")
    parser.add_argument("--cores", type=int, default=2, help="cores Snakemake may use")
    parser.add_argument("--dry-run", action="store_true", help="show the jobs and their commands only")


def main(args: argparse.Namespace) -> int:
    submission = Path(args.submission)
    if not submission.exists():
        raise InputError(submission, "submission not found")
    if not Path("Snakefile").is_file():
        raise ConfigError("run mathlora judge from the project's folder (the one with the Snakefile)")
    for path in args.configfile:
        if not Path(path).is_file():
            raise InputError(path, "configuration file not found")
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
        command = snakemake_command(args.configfile, overlay, cores=args.cores, dry_run=args.dry_run)
        print(" ".join(command), flush=True)
        return subprocess.run(command, env=tools_env()).returncode
