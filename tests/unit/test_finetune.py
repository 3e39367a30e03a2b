"""LoRA fine-tuning: the schedule arithmetic, five evenly spaced checkpoints, and resume.

The slow part trains a tiny model (2 layers, hidden 32) for 20 steps through the real MindFormers
Trainer once, then simulates a crash after checkpoint 3 in a copy of its working folder (what a
killed run leaves: the checkpoints up to step 12, meta.json pointing at the last one, losses logged
past it) and re-runs the same command: it must resume at step 12 and end with the same weights.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from _model_helpers import mathlora, render_tiny, save_random_base

from mathlora.errors import ConfigError, InputError
from mathlora.model import training
from mathlora.model.finetune import FINISHED, follow_decision, prepare_workdir, wait_for_decision, write_decision
from mathlora.model.schedule import schedule

ROWS, BATCH, EPOCHS = 42, 4, 2  # 42 rows: the last partial batch (2 rows) is dropped
STEPS = ROWS // BATCH * EPOCHS  # 20
HIDDEN, KV, LAYERS, RANK = 32, 32 // 4 * 2, 2, 4  # tiny settings: 4 heads, 2 KV heads


# --- schedule arithmetic (fast) ---------------------------------------------------------------

@pytest.mark.parametrize("rows, epochs, batch, checkpoints", [
    (42, 2, 4, 5), (90_000, 5, 64, 5), (3040, 2, 16, 5), (1000, 3, 7, 4), (17, 1, 3, 5), (64, 1, 64, 1)])
def test_schedule_is_evenly_spaced(rows, epochs, batch, checkpoints):
    plan = schedule(rows, epochs=epochs, global_batch_size=batch, checkpoints=checkpoints)
    assert plan.steps_per_epoch == rows // batch
    assert plan.total_steps == (rows // batch) * epochs
    steps = plan.checkpoint_steps
    assert len(steps) == checkpoints
    gaps = np.diff((0, *steps))
    assert (gaps == gaps[0]).all() and gaps[0] == plan.save_checkpoint_steps >= 1
    # As late as even spacing allows: the last checkpoint falls within one interval of the end.
    assert steps[-1] <= plan.total_steps < steps[-1] + checkpoints
    assert plan.as_dict()["checkpoint_steps"] == list(steps)


def test_schedule_fixed_interval_and_errors():
    assert schedule(42, epochs=2, global_batch_size=4, checkpoints=5).checkpoint_steps == (4, 8, 12, 16, 20)
    assert schedule(42, epochs=2, global_batch_size=4, checkpoints=3,
                    save_checkpoint_steps=5).checkpoint_steps == (5, 10, 15)
    with pytest.raises(ConfigError, match="checkpoints every 7 steps do not fit a run of 20 steps"):
        schedule(42, epochs=2, global_batch_size=4, checkpoints=5, save_checkpoint_steps=7)
    with pytest.raises(ConfigError, match="global_batch_size: 50 is larger than the 42 rows"):
        schedule(42, epochs=2, global_batch_size=50, checkpoints=5)


# --- working folder and loss log (fast) -------------------------------------------------------

def test_losses_keep_the_last_record_of_a_step(tmp_path):
    log = tmp_path / "loss.rank0.jsonl"
    log.write_text("".join(json.dumps({"step": s, "loss": loss}) + "\n"
                           for s, loss in [(1, 3.0), (2, 2.5), (3, 9.9), (3, 2.0), (4, 1.5)]))
    assert [(r["step"], r["loss"]) for r in training.read_losses(log)] == [(1, 3.0), (2, 2.5), (3, 2.0), (4, 1.5)]
    assert [r["step"] for r in training.read_losses(log, last_step=2)] == [1, 2]
    assert training.read_losses(tmp_path / "none.jsonl") == []


def test_torn_last_line_is_skipped_and_cut_before_appending(tmp_path):
    log = tmp_path / "loss.rank0.jsonl"
    whole = "".join(json.dumps({"step": s, "loss": 1.0 / s}) + "\n" for s in (1, 2, 3))
    log.write_text(whole + '{"step": 4, "lo', encoding="utf-8")  # killed mid-append
    by_step, torn = training.read_loss_log(log)
    assert (sorted(by_step), torn) == ([1, 2, 3], 1)
    assert [r["step"] for r in training.read_losses(log)] == [1, 2, 3]
    # A resumed run cuts the torn tail, so its first record starts a line of its own.
    assert training.cut_torn_tail(log) == len('{"step": 4, "lo')
    assert log.read_text(encoding="utf-8") == whole
    assert training.cut_torn_tail(log) == 0 and training.cut_torn_tail(tmp_path / "none") == 0


def test_malformed_line_inside_the_log_is_an_error(tmp_path):
    log = tmp_path / "loss.rank0.jsonl"
    log.write_text('{"step": 1, "loss": 2.0}\n{"step": 2, "lo\n{"step": 3, "loss": 1.0}\n')
    with pytest.raises(InputError, match=r"loss.rank0.jsonl:2: not a loss record"):
        training.read_losses(log)
    log.write_text('{"step": 1, "loss": 2.0}\n{"step": "2", "loss": 1.0}\n{"step": 3, "loss": 1.0}\n')
    with pytest.raises(InputError, match=r":2: not a loss record"):
        training.read_losses(log)


def test_other_ranks_follow_rank_0s_decision(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    # A decision left by an earlier launch is never followed.
    write_decision(work, "launch-old", "h", 12)
    with pytest.raises(InputError, match="rank 0 wrote no resume decision for launch 'launch-new'"):
        wait_for_decision(work, "launch-new", seconds=0.05, poll=0.01)
    write_decision(work, "launch-new", "h", None)
    fresh = wait_for_decision(work, "launch-new", seconds=0.05, poll=0.01)
    assert fresh["resume_step"] is None
    assert follow_decision(work, 1, fresh, index=lambda folder: pytest.fail("no index when fresh")) is None
    # Resume: each rank takes its own checkpoint of the step rank 0 resumes from.
    write_decision(work, "launch-new", "h", 12)
    resume = wait_for_decision(work, "launch-new", seconds=0.05, poll=0.01)
    rank1 = work / "checkpoint" / "rank_1"
    rank1.mkdir(parents=True)
    shards = {8: rank1 / "a.ckpt", 12: rank1 / "b.ckpt"}
    assert follow_decision(work, 1, resume, index=lambda folder: shards) == rank1 / "b.ckpt"
    with pytest.raises(InputError, match="rank 0 resumes from step 12 but rank 1 has no checkpoint"):
        follow_decision(work, 1, resume, index=lambda folder: {8: rank1 / "a.ckpt"})
    with pytest.raises(InputError, match="rank 2 has no checkpoint"):
        follow_decision(work, 2, resume)  # no folder at all


def test_workdir_resumes_only_for_the_same_yaml(tmp_path):
    yaml_a, yaml_b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    yaml_a.write_text("seed: 1\n")
    yaml_b.write_text("seed: 2\n")
    work = tmp_path / "work"
    assert prepare_workdir(work, str(yaml_a), True) is None  # fresh
    ckpt = work / "checkpoint" / "rank_0"
    ckpt.mkdir(parents=True)
    (ckpt / "x-1_4.ckpt").write_bytes(b"weights")
    (ckpt / "meta.json").write_text(json.dumps({"last_ckpt_file": "x-1_4.ckpt"}))
    assert prepare_workdir(work, str(yaml_a), True) == ckpt / "x-1_4.ckpt"
    assert prepare_workdir(work, str(yaml_a), False) is None and not ckpt.exists()  # --no-resume
    ckpt.mkdir(parents=True)
    (ckpt / "x-1_4.ckpt").write_bytes(b"weights")
    (ckpt / "meta.json").write_text(json.dumps({"last_ckpt_file": "x-1_4.ckpt"}))
    assert prepare_workdir(work, str(yaml_b), True) is None and not ckpt.exists()  # another yaml
    ckpt.mkdir(parents=True)
    (ckpt / "meta.json").write_text("{not json")
    with pytest.raises(InputError, match="meta.json: cannot resume"):
        prepare_workdir(work, str(yaml_b), True)


def _interrupted(work: Path) -> Path:
    """A run that saved a checkpoint and stopped."""
    ckpt = work / "checkpoint" / "rank_0"
    ckpt.mkdir(parents=True, exist_ok=True)
    (ckpt / "x-1_4.ckpt").write_bytes(b"weights")
    (ckpt / "meta.json").write_text(json.dumps({"last_ckpt_file": "x-1_4.ckpt"}))
    return ckpt / "x-1_4.ckpt"


def test_workdir_resumes_only_an_unfinished_run_on_the_same_inputs(tmp_path):
    """A base or dataset rebuilt at the same path is another run; a finished run is never resumed
    (resuming past its last epoch is what MindSpore refuses: "'epoch' must bigger than ...")."""
    yaml_path, base, dataset = tmp_path / "a.yaml", tmp_path / "base.ckpt", tmp_path / "rows.mindrecord"
    yaml_path.write_text("seed: 1\n")
    base.write_bytes(b"base weights")
    dataset.write_bytes(b"rows")
    inputs = (base, dataset)
    work = tmp_path / "work"
    assert prepare_workdir(work, str(yaml_path), True, inputs) is None
    last = _interrupted(work)
    assert prepare_workdir(work, str(yaml_path), True, inputs) == last  # the same files: resume
    base.write_bytes(b"other weights")  # the base rebuilt in place
    assert prepare_workdir(work, str(yaml_path), True, inputs) is None and not last.exists()
    last = _interrupted(work)
    os.utime(dataset, ns=(0, 0))  # the dataset rewritten (same bytes, another time)
    assert prepare_workdir(work, str(yaml_path), True, inputs) is None and not last.exists()
    last = _interrupted(work)
    assert prepare_workdir(work, str(yaml_path), True, inputs) == last
    (work / FINISHED).touch()  # rank 0 collected the run: a re-run starts afresh
    assert prepare_workdir(work, str(yaml_path), True, inputs) is None and not last.exists()
    assert not (work / FINISHED).exists()


# --- a real run (slow) ------------------------------------------------------------------------

def _finetune(root: Path, paths: dict, workdir: Path, out: Path):
    return mathlora("finetune", "--yaml", str(paths["yaml"]), "--base", str(paths["base"]),
                    "--dataset", str(paths["dataset"]), "--workdir", str(workdir), "--checkpoints", "5",
                    "--ckpt-out", str(out / "lora{k}.ckpt"), "--report", str(out / "train.json"),
                    "--plot", str(out / "loss.png"), cwd=root)


def _weights(path) -> dict[str, np.ndarray]:
    import mindspore as ms

    return {n: v.asnumpy() for n, v in ms.load_checkpoint(str(path)).items()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("finetune")
    paths = render_tiny(root, rows=ROWS)
    paths["base"] = save_random_base(paths["yaml"], root / "base.ckpt")
    done = _finetune(root, paths, root / "work", root / "out")
    assert done.returncode == 0, done.stderr[-3000:]
    return root, paths, done


@pytest.mark.slow
def test_five_checkpoints_at_the_recorded_steps(trained):
    root, _, done = trained
    report = json.loads((root / "out" / "train.json").read_text())
    plan = report["schedule"]
    assert (plan["rows"], plan["steps_per_epoch"], plan["total_steps"]) == (ROWS, ROWS // BATCH, STEPS)
    assert plan["checkpoint_steps"] == [4, 8, 12, 16, 20]
    assert [c["step"] for c in report["checkpoints"]] == plan["checkpoint_steps"]
    assert [c["epoch"] for c in report["checkpoints"]] == [1, 1, 2, 2, 2]
    previous = None
    for entry in report["checkpoints"]:
        weights = _weights(entry["path"])
        assert int(weights["global_step"].reshape(-1)[0]) == entry["step"]
        lora_b = np.concatenate([v.ravel() for n, v in sorted(weights.items())
                                 if n.endswith("mindpet_delta_lora_b") and not n.startswith("adam")])
        assert np.abs(lora_b).max() > 0  # B starts at zero: it has been trained
        if previous is not None:
            assert not np.array_equal(lora_b, previous)
        previous = lora_b
    # The base weights are frozen: the last checkpoint still holds them unchanged.
    base, last = _weights(trained[1]["base"]), _weights(report["checkpoints"][-1]["path"])
    for name, value in base.items():
        np.testing.assert_array_equal(last[name], value, err_msg=name)


@pytest.mark.slow
def test_loss_record_plot_and_trainable_count(trained):
    root, _, done = trained
    report = json.loads((root / "out" / "train.json").read_text())
    steps = [r["step"] for r in report["losses"]]
    assert steps == list(range(1, STEPS + 1))
    losses = np.array([r["loss"] for r in report["losses"]])
    assert np.isfinite(losses).all() and report["final_loss"] == losses[-1]
    assert abs(losses[0] - np.log(256 + 300)) < 0.2  # a random model starts near ln(vocab)
    png = (root / "out" / "loss.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    # LoRA r4 on wq (hidden x hidden) and wv (hidden x kv) of each layer: r x (in + out) each.
    expected = LAYERS * RANK * ((HIDDEN + HIDDEN) + (HIDDEN + KV))
    assert report["trainable_parameters"] == expected == 896
    assert f"Network Parameters: {expected}" in done.stdout
    assert report["resumed_from"] is None and report["ranks"] == 1 and report["strategy_files"] == []


@pytest.mark.slow
def test_interrupted_run_resumes_from_its_last_checkpoint(trained, tmp_path):
    root, paths, _ = trained
    work = tmp_path / "work"
    shutil.copytree(root / "work", work)
    folder = work / "checkpoint" / "rank_0"
    index = training.index_checkpoints(folder)
    assert sorted(index) == [4, 8, 12, 16, 20]
    # The crash: after the checkpoint of step 12, two more steps logged, nothing else saved.
    for step in (16, 20):
        index[step].unlink()
    (folder / "meta.json").write_text(json.dumps({"last_epoch": 2, "last_step": 2,
                                                  "last_ckpt_file": index[12].name}))
    log = work / "loss.rank0.jsonl"
    kept = log.read_text().splitlines()[:14]
    log.write_text("\n".join(kept) + "\n")
    (work / FINISHED).unlink()  # a killed run never collected its checkpoints

    done = _finetune(tmp_path, paths, work, tmp_path / "out")
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"resuming from {index[12]} (step 12)" in done.stdout
    assert len(log.read_text().splitlines()) == 14 + (STEPS - 12)  # only steps 13..20 ran again
    first = json.loads((root / "out" / "train.json").read_text())
    again = json.loads((tmp_path / "out" / "train.json").read_text())
    assert again["resumed_from"] == str(index[12])
    assert again["losses"] == first["losses"]
    assert [c["step"] for c in again["checkpoints"]] == [4, 8, 12, 16, 20]
    for k in range(1, 6):
        a, b = _weights(root / "out" / f"lora{k}.ckpt"), _weights(tmp_path / "out" / f"lora{k}.ckpt")
        assert set(a) == set(b)
        # step_num is MindFormers' counter of the current process; weights and optimizer state
        # (adam moments, global_step) must be identical.
        for name in set(a) - {"step_num"}:
            np.testing.assert_array_equal(a[name], b[name], err_msg=f"lora{k}: {name}")


def _crash_after(work: Path, step: int) -> Path:
    """What a run killed after its checkpoint of ``step`` leaves: later checkpoints gone, meta.json
    naming that checkpoint, the loss log cut after it. Returns the checkpoint."""
    folder = work / "checkpoint" / "rank_0"
    index = training.index_checkpoints(folder)
    for later in [s for s in index if s > step]:
        index[later].unlink()
    # MindFormers records the epoch and step its file name carries (a resumed run counts anew)
    epoch, step_in_epoch = index[step].stem.rsplit("-", 1)[1].split("_")
    (folder / "meta.json").write_text(json.dumps({
        "last_epoch": int(epoch), "last_step": int(step_in_epoch), "last_ckpt_file": index[step].name}))
    log = work / "loss.rank0.jsonl"
    log.write_text("\n".join(log.read_text().splitlines()[:step]) + "\n")
    (work / FINISHED).unlink(missing_ok=True)  # a killed run never collected its checkpoints
    return index[step]


@pytest.mark.slow
def test_ascend_resuming_twice_equals_an_uninterrupted_run(trained, tmp_path):
    """Two crashes (after steps 8 and 12), each resumed by MindFormers' own Trainer and checkpoint
    callback as the rendered yaml builds them: the same checkpoints and losses as one run. With the
    callback built without its resume defaults, the second resume skips the step count saved by the
    first (relative to it) and trains on replayed batches."""
    root, paths, _ = trained
    assert training.checkpoint_monitor(training.network.read_yaml(paths["yaml"]))["type"] \
        == "CheckpointMonitor"
    work = tmp_path / "work"
    shutil.copytree(root / "work", work)
    for crash in (8, 12):
        last = _crash_after(work, crash)
        out = tmp_path / f"out-after-{crash}"
        done = _finetune(tmp_path, paths, work, out)
        assert done.returncode == 0, done.stderr[-3000:]
        assert f"resuming from {last} (step {crash})" in done.stdout
    first = json.loads((root / "out" / "train.json").read_text())
    again = json.loads((out / "train.json").read_text())
    assert again["losses"] == first["losses"]
    for k in range(1, 6):
        a, b = _weights(root / "out" / f"lora{k}.ckpt"), _weights(out / f"lora{k}.ckpt")
        assert set(a) == set(b)
        # step_num too: MindFormers saves the global step when it was told where the run resumed
        for name in a:
            np.testing.assert_array_equal(a[name], b[name], err_msg=f"lora{k}: {name}")
