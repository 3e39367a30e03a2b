"""msrun's scheduler process runs the fine-tuning command too, with RANK_ID=0: it must not act as rank 0.

The environments are the ones MindSpore 2.9's own msrun code exports (``_ProcessManager``'s
``start_scheduler`` and ``_start_single_worker``), captured from the processes it starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _model_helpers import settings, write_mindrecord, write_tokenizer

from mathlora.cli import finetune as finetune_cli
from mathlora.model import render, training
from mathlora.model.finetune import DECISION
from mathlora.tokenizer.llama3 import read_vocab

ROWS = 40

DUMP_ENV = "import json, os, sys\njson.dump(dict(os.environ), open(sys.argv[1], 'w'))\n"

MSRUN = textwrap.dedent("""
    import sys
    from mindspore.parallel.cluster.run import get_args
    from mindspore.parallel.cluster.process_entity._api import _ProcessManager

    script, out, logs = sys.argv[1:4]
    sys.argv = ["msrun", "--worker_num=2", "--local_worker_num=2", "--master_addr=127.0.0.1",
                "--master_port=8118", "--node_rank=0", f"--log_dir={logs}", "--join=False",
                "--cluster_time_out=7200", script, out + "/scheduler.json"]
    manager = _ProcessManager(get_args())
    manager.start_scheduler()
    manager.msn_process.wait()
    manager.cmd_args = [out + "/rank0.json"]
    manager._start_single_worker(0)
    for process in manager.cgn_processes:
        process.wait()
""")


@pytest.fixture(scope="module")
def msrun_environments(tmp_path_factory) -> dict[str, dict[str, str]]:
    """What msrun exports to its scheduler and to worker 0 (the processes' whole environment)."""
    root = tmp_path_factory.mktemp("msrun")
    script = root / "dump_env.py"
    script.write_text(DUMP_ENV)
    env = {key: value for key, value in os.environ.items()
           if key not in ("MS_ROLE", "RANK_ID", "MS_NODE_ID")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    subprocess.run([sys.executable, "-c", MSRUN, str(script), str(root), str(root / "logs")],
                   check=True, env=env, cwd=root, capture_output=True, timeout=300)
    return {name: json.loads((root / f"{name}.json").read_text()) for name in ("scheduler", "rank0")}


def _parallel_yaml(tmp: Path) -> dict[str, Path]:
    """A tiny fine-tuning yaml as a parallel run's (use_parallel), its tokenizer and MindRecord."""
    tok = write_tokenizer(tmp / "tok.model")
    data = write_mindrecord(tmp / "train.mindrecord", ROWS)
    values = render.render_values(settings(), mode="finetune", vocab=read_vocab(tok), tokenizer=tok,
                                  rows=ROWS, dataset=str(data), load_checkpoint="",
                                  output_dir=str(tmp / "work"), config_name="tiny")
    text = render.render(values).replace("use_parallel: False", "use_parallel: True")
    (tmp / "finetune.yaml").write_text(text)
    (tmp / "base.ckpt").write_bytes(b"weights")
    return {"yaml": tmp / "finetune.yaml", "dataset": data, "base": tmp / "base.ckpt"}


def _start(tmp: Path, paths: dict[str, Path], monkeypatch, environment: dict[str, str]) -> dict:
    """``mathlora finetune``'s start under ``environment``; training and collecting stubbed out."""
    for key in ("MS_ROLE", "RANK_ID", "MS_NODE_ID", "MS_SCHED_HOST", "MS_SCHED_PORT", "MS_WORKER_NUM"):
        monkeypatch.delenv(key, raising=False)
    for key, value in environment.items():
        if key.startswith("MS_") or key in ("RANK_ID", "RANK_SIZE", "DEVICE_ID"):
            monkeypatch.setenv(key, value)
    seen = {"served": 0, "trained": 0}

    def serve(cfg):
        seen["served"] += 1

    def train(cfg, **kwargs):
        seen["trained"] += 1
        return 1

    monkeypatch.setattr(training, "serve_cluster", serve, raising=False)
    monkeypatch.setattr(training, "run_trainer", train)
    monkeypatch.setattr(finetune_cli, "collect", lambda *a, **k: {"final_loss": 0.0})
    parser = __import__("argparse").ArgumentParser()
    finetune_cli.configure(parser)
    args = parser.parse_args([
        "--yaml", str(paths["yaml"]), "--base", str(paths["base"]), "--dataset", str(paths["dataset"]),
        "--workdir", str(tmp / "work"), "--ckpt-out", str(tmp / "out" / "lora{k}.ckpt"),
        "--report", str(tmp / "out" / "train.json"), "--plot", str(tmp / "out" / "loss.png")])
    seen["exit"] = finetune_cli.main(args)
    return seen


def _tree(folder: Path) -> dict[str, tuple[int, bytes]]:
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_ascend_msrun_scheduler_env_is_rank_0s_but_for_its_role(msrun_environments):
    scheduler, rank0 = msrun_environments["scheduler"], msrun_environments["rank0"]
    assert (scheduler["MS_ROLE"], scheduler["RANK_ID"]) == ("MS_SCHED", "0")
    assert (rank0["MS_ROLE"], rank0["RANK_ID"]) == ("MS_WORKER", "0")
    assert scheduler["MS_SCHED_PORT"] == rank0["MS_SCHED_PORT"] == "8118"


def test_ascend_msrun_scheduler_prepares_and_writes_nothing_beside_rank_0(
        msrun_environments, tmp_path, monkeypatch):
    paths = _parallel_yaml(tmp_path)
    work = tmp_path / "work"
    # the scheduler first, on a fresh machine: it serves the cluster and creates nothing
    seen = _start(tmp_path, paths, monkeypatch, msrun_environments["scheduler"])
    assert seen == {"served": 1, "trained": 0, "exit": 0}
    assert not work.exists() and not (tmp_path / "out").exists()
    # rank 0 side by side: it prepares the folder and writes the decision for the other ranks
    seen = _start(tmp_path, paths, monkeypatch, msrun_environments["rank0"])
    assert seen == {"served": 0, "trained": 1, "exit": 0}
    assert (work / "yaml.sha256").is_file() and (work / DECISION).is_file()
    # a scheduler started beside a prepared folder (the race): the folder stays as rank 0 left it
    (work / "checkpoint" / "rank_0").mkdir(parents=True)
    (work / "checkpoint" / "rank_0" / "stale.ckpt").write_bytes(b"shard")
    before = _tree(work)
    seen = _start(tmp_path, paths, monkeypatch, msrun_environments["scheduler"])
    assert seen["served"] == 1 and seen["trained"] == 0
    assert _tree(work) == before


def test_ascend_scheduler_has_no_rank(monkeypatch):
    from mathlora.errors import ConfigError

    monkeypatch.setenv("MS_ROLE", "MS_SCHED")
    monkeypatch.setenv("RANK_ID", "0")
    with pytest.raises(ConfigError, match="MS_ROLE=MS_SCHED"):
        training.rank_id()
    monkeypatch.setenv("MS_ROLE", "MS_WORKER")
    assert training.rank_id() == 0
