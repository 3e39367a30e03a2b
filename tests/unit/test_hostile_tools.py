"""The README's commands as written: the venv's folder not on PATH (the venv not activated).

Snakemake started by its full path must still find the project's own tools in its rules, and so
must `mathlora judge`, which starts Snakemake itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def bare_env() -> dict[str, str]:
    """An environment whose PATH holds only the system's folders (no venv, no mathlora)."""
    path = os.pathsep.join(p for p in ("/usr/local/bin", "/usr/bin", "/bin") if Path(p).is_dir())
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PATH")}
    env["PATH"] = path
    env["PYTHONPATH"] = str(REPO / "src")  # the checkout under test, whatever the venv points at
    return env


def test_the_bare_environment_really_lacks_mathlora():
    done = subprocess.run(["sh", "-c", "command -v mathlora"], env=bare_env(), capture_output=True)
    assert done.returncode != 0


def test_a_real_rule_finds_mathlora_when_snakemake_is_started_by_its_path(tmp_path):
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["data"]["chinese_lines"], config["data"]["english_lines"] = 60, 5
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(config))
    done = subprocess.run(
        [str(BIN / "snakemake"), config["data"]["train_json"], "--snakefile", str(REPO / "Snakefile"),
         "--directory", str(tmp_path), "--cores", "1", "--configfile", "small.yaml",
         "--config", "missing_inputs=plan"],
        cwd=tmp_path, env=bare_env(), capture_output=True, text=True, timeout=600)
    log = tmp_path / "logs" / config["run_name"] / "synth/synth.log"
    detail = done.stderr[-3000:] + (log.read_text() if log.is_file() else "")
    assert done.returncode == 0, detail
    assert "command not found" not in detail
    lines = (tmp_path / config["data"]["train_json"]).read_text().splitlines()
    assert len(lines) == 65


def test_the_readme_ascend_dry_run_runs_as_written():
    readme = (REPO / "README.md").read_text()
    line = (".venv/bin/snakemake submission judge -n -p --configfile config/ascend.yaml \\\n"
            "    --config missing_inputs=plan")
    assert line in readme
    command = [str(BIN / "snakemake"), "submission", "judge", "-n", "-p", "--configfile",
               "config/ascend.yaml", "--config", "missing_inputs=plan"]
    done = subprocess.run(command, cwd=REPO, env=bare_env(), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "mathlora.cli finetune" in done.stdout and "mathlora merge" in done.stdout


def test_the_readme_judge_line_reaches_snakemake_with_the_tools_on_path(tmp_path):
    assert ".venv/bin/mathlora judge --submission team.zip" in (REPO / "README.md").read_text()
    folder = tmp_path / "downloaded"
    folder.mkdir()
    (folder / "ckpt_a.ckpt").write_bytes(b"\x0a")
    done = subprocess.run([str(BIN / "mathlora"), "judge", "--submission", str(folder), "--dry-run"],
                          cwd=REPO, env=bare_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "mathlora unpack" in done.stdout
    # judge hands Snakemake a PATH that starts with the tools' folder
    from mathlora.evaluate import judge

    env = judge.tools_env()
    assert env["PATH"].split(os.pathsep)[0] == str(BIN)
