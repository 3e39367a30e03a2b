"""One launch id for every machine of a launch: the config's, without node_rank, and the start."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from mathlora.errors import InputError
from mathlora.model import finetune, workflow

ROOT = Path(__file__).resolve().parents[2]


def _config(*overlays: str) -> dict:
    config: dict = {}
    for name in ("config/ascend.yaml", *overlays):
        overlay = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
        for key, value in overlay.items():
            if isinstance(value, dict) and isinstance(config.get(key), dict):
                merged = config[key]
                for inner, inner_value in value.items():
                    if isinstance(inner_value, dict) and isinstance(merged.get(inner), dict):
                        merged[inner] = {**merged[inner], **inner_value}
                    else:
                        merged[inner] = inner_value
            else:
                config[key] = value
    return config


def test_ascend_launch_id_is_one_for_both_machines_of_the_2x4_layout():
    node0 = _config("config/ascend-2x4.yaml")
    node1 = copy.deepcopy(node0)
    node1["finetune"]["launcher"]["node_rank"] = 1
    commands = [workflow.training_command(c, log_dir="L") for c in (node0, node1)]
    ids = {c.split("MATHLORA_LAUNCH_ID=")[1].split()[0] for c in commands}
    assert ids == {workflow.launch_id(node0)} == {workflow.launch_id(node1)}
    assert "--node_rank=0" in commands[0] and "--node_rank=1" in commands[1]
    other = copy.deepcopy(node0)
    other["finetune"]["learning_rate"] = 2e-5
    assert workflow.launch_id(other) != workflow.launch_id(node0)
    assert workflow.launch_id(_config()) != workflow.launch_id(node0)  # the one-machine layout


def _stale_folder(work: Path, yaml_path: Path) -> None:
    """A folder an earlier run of another yaml left: its stamp, a checkpoint, a decision."""
    folder = work / "checkpoint" / "rank_0"
    folder.mkdir(parents=True)
    (folder / "x-1_4.ckpt").write_bytes(b"weights")
    (folder / "meta.json").write_text(json.dumps({"last_ckpt_file": "x-1_4.ckpt"}))
    (work / "yaml.sha256").write_text("0" * 64 + "\n")
    finetune.write_decision(work, "earlier", "0" * 64, 4)


def test_ascend_second_machine_follows_rank_0s_decision(tmp_path, monkeypatch):
    """Ranks 4-7 run under another msrun (another parent pid) on the second machine: with the id
    the graph sets they take rank 0's decision, which rank 0 wrote after clearing the folder."""
    yaml_path = tmp_path / "finetune.yaml"
    yaml_path.write_text("seed: 1\n")
    work = tmp_path / "work"
    _stale_folder(work, yaml_path)
    monkeypatch.setenv(workflow.LAUNCH_ENV, workflow.launch_id(_config("config/ascend-2x4.yaml")))
    machine0 = finetune.launch_id(work, str(yaml_path))  # rank 0, before preparing
    assert finetune.prepare_workdir(work, str(yaml_path), True) is None  # cleared: another yaml
    finetune.write_decision(work, machine0, finetune.yaml_hash(yaml_path), None)
    monkeypatch.setattr(finetune.os, "getppid", lambda: 99999)  # the other machine's msrun
    machine1 = finetune.launch_id(work, str(yaml_path))  # rank 4, after rank 0 prepared
    assert machine1 == machine0
    decision = finetune.wait_for_decision(work, machine1, seconds=0.05, poll=0.01)
    assert decision["resume_step"] is None


def test_ascend_relaunch_from_another_start_ignores_the_earlier_decision(tmp_path, monkeypatch):
    """The same config launched again after a checkpoint was saved: an earlier launch's decision
    (fresh start) must not be followed by a rank that reads it before rank 0 rewrites it."""
    yaml_path = tmp_path / "finetune.yaml"
    yaml_path.write_text("seed: 1\n")
    work = tmp_path / "work"
    monkeypatch.setenv(workflow.LAUNCH_ENV, "config-0123456789abcdef")
    first = finetune.launch_id(work, str(yaml_path))
    finetune.prepare_workdir(work, str(yaml_path), True)
    finetune.write_decision(work, first, finetune.yaml_hash(yaml_path), None)
    folder = work / "checkpoint" / "rank_0"  # the first launch saved a checkpoint, then crashed
    folder.mkdir(parents=True)
    (folder / "x-1_4.ckpt").write_bytes(b"weights")
    (folder / "meta.json").write_text(json.dumps({"last_ckpt_file": "x-1_4.ckpt"}))
    again = finetune.launch_id(work, str(yaml_path))
    assert again != first and again.endswith("resume:x-1_4.ckpt")
    with pytest.raises(InputError, match="no resume decision for launch"):
        finetune.wait_for_decision(work, again, seconds=0.05, poll=0.01)
    # --no-resume: every rank reads a fresh start
    assert finetune.launch_id(work, str(yaml_path), resume_allowed=False).endswith("/fresh")
