"""The whole graph on a minimal config, in a fresh copy of the repository.

Marked slow: it runs every stage for real (synthetic data, tokenizer, tiny base, LoRA, five merges,
predictions, SQuAD, report, zip, verify) on the smallest sizes that still exercise each code path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MINIMAL = Path(__file__).with_name("minimal.yaml")
BIN = Path(sys.executable).parent


def fresh_copy(dest: Path) -> Path:
    """The tracked files of the checkout (what a clone would hold), untracked new files included."""
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = REPO / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"],
                   cwd=dest, check=True)
    return dest


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([str(BIN / "snakemake"), "--cores", "2", "--configfile", str(MINIMAL),
                           "--profile", "workflow/profiles/default", *args],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=3000)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    workdir = fresh_copy(tmp_path_factory.mktemp("clone"))
    done = snakemake(workdir, "submission")
    assert done.returncode == 0, done.stderr[-6000:]
    return workdir


@pytest.mark.slow
def test_submission_builds_and_verifies(built):
    zips = list((built / "results" / "submission").glob("*.zip"))
    assert len(zips) == 1
    verify = subprocess.run([str(BIN / "mathlora"), "verify", str(zips[0]), "--json"],
                            cwd=built, capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    with zipfile.ZipFile(zips[0]) as bundle:
        names = set(bundle.namelist())
    assert "manifest.json" in names
    assert any(name.endswith("run_llama3_test.py") for name in names)


@pytest.mark.slow
def test_every_artifact_validates(built):
    from mathlora.artifacts import validate

    documents = [p for p in (built / "results").rglob("*.json")
                 if not p.name.endswith(".conversation.json")]
    assert len(documents) >= 10
    for path in documents:
        document = json.loads(path.read_text())
        if isinstance(document, dict) and "schema_version" in document:
            kind = document.get("kind") or _kind_of(path)
            validate(document, kind, source=path)


def _kind_of(path: Path) -> str:
    stem = path.stem
    return "merge" if stem.startswith("ckpt") else stem


@pytest.mark.slow
def test_second_run_does_nothing(built):
    done = snakemake(built, "submission", "--dry-run")
    assert done.returncode == 0
    assert "Nothing to be done" in done.stdout + done.stderr
