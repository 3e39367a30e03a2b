"""The workflow itself: config validation and Snakemake's linter."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{SNAKEMAKE.parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([str(SNAKEMAKE), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


def test_lint_is_clean():
    done = run("--lint")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "good condition" in done.stdout + done.stderr


def test_bad_config_value_is_refused_before_any_job(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("finetune:\n  checkpoints: 0\n")
    done = run("-n", "--configfile", "config/config.yaml", str(bad))  # an overlay of the default
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "checkpoints" in output and "minimum of 1" in output
