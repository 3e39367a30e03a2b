"""`snakemake leaderboard` plans one job per team and stage (dry run, Slurm profile), reusing the
judge rules for the base model's numbers once, and its lint stays clean with a contest."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from test_model_workflow import copy_repository

SNAKEMAKE = Path(sys.executable).with_name("snakemake")
TEAMS = ("alpha.zip", "beta", "gamma", "hostile.zip", "team with spaces")


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    return copy_repository(tmp_path_factory.mktemp("repo"))


def contest(root: Path) -> Path:
    folder = root / "contest"
    folder.mkdir()
    for name in ("alpha.zip", "hostile.zip"):
        with zipfile.ZipFile(folder / name, "w") as archive:
            archive.writestr("../x.ckpt" if name == "hostile.zip" else "a/step1.ckpt", b"w")
    for name in ("beta", "team with spaces"):
        (folder / name).mkdir()
        (folder / name / "m.ckpt").write_bytes(b"w")
    (folder / "gamma").mkdir()
    (folder / "gamma" / "result_npy.npy").write_bytes(b"")
    (folder / ".DS_Store").write_bytes(b"")  # hidden files are no team
    return folder


def snakemake(clone: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{SNAKEMAKE.parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([str(SNAKEMAKE), *args], cwd=clone, env=env, capture_output=True,
                          text=True, timeout=600)


def job_counts(text: str) -> dict[str, int]:
    block = text.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", block, re.M)}


def test_dry_run_shows_one_job_per_team_and_stage(clone, tmp_path):
    folder = contest(tmp_path)
    args = ["leaderboard", "-n", "--profile", "workflow/profiles/slurm",
            "--config", f'evaluate={{"contest": "{folder}"}}']
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        args += ["--executor", "local"]  # without the plugin the plan is the same
    done = snakemake(clone, *args)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    counts = job_counts(done.stdout)
    for stage in ("intake", "params", "evaluate", "summary"):
        assert counts[f"leaderboard_{stage}"] == len(TEAMS), stage
    assert counts["leaderboard_rank"] == 1
    # the base model's numbers (the SQuAD marks) come from the judge rules, once for all teams
    assert counts["judge_math"] == 1 and counts["judge_evaluate"] == 1
    assert "teams/team with spaces/intake.json" in done.stdout


def test_lint_with_a_contest(clone, tmp_path):
    done = snakemake(clone, "--lint", "--config", f'evaluate={{"contest": "{contest(tmp_path)}"}}')
    assert done.returncode == 0 and "good condition" in done.stdout + done.stderr


def test_missing_contest_folder_is_named(clone, tmp_path):
    done = snakemake(clone, "leaderboard", "-n", "--config",
                     f'evaluate={{"contest": "{tmp_path / "nowhere"}"}}')
    assert done.returncode != 0
    assert "contest folder not found" in done.stdout + done.stderr


def test_the_command_runs_the_target(clone, tmp_path):
    folder = contest(tmp_path)
    env = {**os.environ, "PATH": f"{SNAKEMAKE.parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([sys.executable, "-m", "mathlora.cli", "leaderboard", "run", str(folder),
                           "--dry-run", "--cores", "1"], cwd=clone, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.splitlines()[0].split()[1:3] == ["leaderboard", "--configfile"]
    assert job_counts(done.stdout)["leaderboard_intake"] == len(TEAMS)
