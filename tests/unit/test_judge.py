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


def _bundle_of_the_8b_run(path: Path) -> Path:
    """A zip as `mathlora bundle` writes it, reduced to what judge reads: the manifest naming the
    run's training yaml (here the rendered 8B one) and that yaml."""
    import json
    import zipfile

    text = (REPO / "submission" / "finetune_llama3_8b_lora.yaml").read_text(encoding="utf-8")
    member = "results/llama3-8b-lora-r8-wq-wv/model/finetune.yaml"
    manifest = {"schema_version": "1.0", "name": "entry", "root": "entry",
                "members": [{"path": member, "size": len(text), "sha256": "0" * 64, "role": "yaml"}]}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"entry/{member}", text)
        archive.writestr("entry/manifest.json", json.dumps(manifest))
    return path


def test_ascend_judge_takes_the_model_settings_of_the_8b_bundle(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    bundle = _bundle_of_the_8b_run(tmp_path / "entry.zip")
    commands = []
    monkeypatch.setattr(judge.subprocess, "run",
                        lambda command, env: commands.append(command) or argparse.Namespace(returncode=0))
    assert cli(["judge", "--submission", str(bundle), "--dry-run"]) == 0
    configfiles = commands[0][commands[0].index("--configfile") + 1:-3]
    assert configfiles == ["config/ascend.yaml"]
    assert "judging with config/ascend.yaml" in capsys.readouterr().out
    # the 8B bundle with the tiny configuration: refused by name, before Snakemake starts
    assert cli(["judge", "--submission", str(bundle), "--configfile", "config/config.yaml"]) == 1
    error = capsys.readouterr().err
    assert "entry.zip:entry/results/llama3-8b-lora-r8-wq-wv/model/finetune.yaml" in error
    assert "hidden_size 4096" in error and "config/config.yaml (hidden_size 256" in error
    assert len(commands) == 1
    # the 2x4 overlay keeps the 8B model: accepted
    assert cli(["judge", "--submission", str(bundle), "--configfile", "config/ascend.yaml",
                "config/ascend-2x4.yaml"]) == 0
