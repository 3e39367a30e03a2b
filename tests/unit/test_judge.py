"""mathlora judge: the Snakemake judge target on a submission, options checked before it starts.

The target itself runs in the end-to-end test (tests/integration/test_graph.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from mathlora.cli import main as cli
from mathlora.evaluate import judge

REPO = Path(__file__).resolve().parents[2]


def test_missing_submission_or_test_set_fails_before_snakemake(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert cli(["judge", "--submission", str(tmp_path / "none.zip")]) == 1
    assert "none.zip: submission not found" in capsys.readouterr().err
    (tmp_path / "sub.zip").write_bytes(b"")
    assert cli(["judge", "--submission", str(tmp_path / "sub.zip"), "--test",
                str(tmp_path / "t.json")]) == 1
    assert "t.json: test set not found" in capsys.readouterr().err


def test_outside_the_project_folder_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub.zip").write_bytes(b"")
    assert cli(["judge", "--submission", "sub.zip"]) == 1
    assert "from the project's folder" in capsys.readouterr().err


def test_the_overlay_sets_the_submission_and_test_of_the_judge_target(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    (tmp_path / "sub.zip").write_bytes(b"")
    (tmp_path / "t.json").write_text("[]")
    seen = {}

    def run(command, env):
        seen["command"] = command
        overlay = Path(command[command.index("--configfile") + 2])
        seen["overlay"] = yaml.safe_load(overlay.read_text())
        return argparse.Namespace(returncode=0)

    monkeypatch.setattr(judge.subprocess, "run", run)
    assert cli(["judge", "--submission", str(tmp_path / "sub.zip"), "--test", str(tmp_path / "t.json"),
                "--dry-run"]) == 0
    assert seen["command"][1:5] == ["judge", "--cores", "2", "--configfile"]
    assert seen["command"][5] == "config/config.yaml" and "--dry-run" in seen["command"]
    assert seen["overlay"] == {"evaluate": {"judge_submission": str(tmp_path / "sub.zip"),
                                            "judge_test": str(tmp_path / "t.json")}}
