"""LoRA fine-tuning through the MindFormers Trainer, with five evenly spaced checkpoints.

Runs ``Trainer.finetune`` with the pet LoRA config of the rendered yaml, starting from the base
weights. Run it directly (one process) or under ``msrun`` (every worker runs this command; rank 0
collects; msrun's scheduler process runs it too and only serves the cluster). The checkpoint steps
follow from the rows of the MindRecord, the epochs and the global batch size. Writes one checkpoint
per saved step, the loss of every step (JSON + PNG) and the trainable count. A re-run after an
interruption resumes from the last checkpoint it left, if it was started on the same yaml, base
and dataset files; a run that finished, or one of other inputs, starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mathlora.artifacts import atomic_output, write_artifact
from mathlora.errors import InputError, MathloraError
from mathlora.model import training
from mathlora.model.schedule import schedule
from mathlora.model.workflow import LAUNCH_ENV


def yaml_hash(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run_stamp(yaml_path: str | Path, inputs: Sequence[str | Path] = ()) -> str:
    """What a run was started on: the yaml's bytes and each input file's path, size and modification
    time. A base or dataset rebuilt at the same path is another run, and resuming it would mix
    the two (a 16 GB base is not hashed: the ranks read it from the shared folder, one file)."""
    digest = hashlib.sha256(Path(yaml_path).read_bytes())
    for name in inputs:
        path = Path(name)
        status = path.stat()
        digest.update(f"\0{path.resolve()}\0{status.st_size}\0{status.st_mtime_ns}".encode())
    return digest.hexdigest()


def checkpoint_plan(cfg, rows: int, checkpoints: int):
    dp = int(cfg.parallel_config.data_parallel) if cfg.use_parallel else 1
    global_batch = int(cfg.runner_config.batch_size) * dp
    monitor = training.checkpoint_monitor(cfg)
    runner = cfg.runner_config
    return schedule(rows, epochs=int(runner.epochs), global_batch_size=global_batch,
                    checkpoints=checkpoints, save_checkpoint_steps=int(monitor["save_checkpoint_steps"]),
                    sink_size=int(runner.sink_size) if runner.sink_mode else 1)


FINISHED = "finished"  # written by rank 0 once the run's checkpoints are collected
STAMP = "yaml.sha256"  # the run_stamp of the folder's run (named when it covered the yaml only)


def _resume_point(workdir: Path, yaml_path: str, resume_allowed: bool,
                  inputs: Sequence[str | Path] = ()) -> Path | None:
    """The checkpoint rank 0 resumes from (an unfinished run of the same yaml and inputs, a
    readable last checkpoint), or None."""
    stamp = workdir / STAMP
    if (resume_allowed and stamp.is_file() and not (workdir / FINISHED).exists()
            and stamp.read_text().strip() == run_stamp(yaml_path, inputs)):
        return training.resumable(workdir)
    return None


def prepare_workdir(workdir: Path, yaml_path: str, resume_allowed: bool,
                    inputs: Sequence[str | Path] = ()) -> Path | None:
    """The checkpoint to resume from, or None after clearing a stale/foreign working folder."""
    last = _resume_point(workdir, yaml_path, resume_allowed, inputs)
    if last is not None:
        return last
    stamp = workdir / STAMP
    current = run_stamp(yaml_path, inputs)
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    with atomic_output(stamp) as tmp:  # a torn stamp would not match and clear a good folder
        tmp.write_text(current + "\n")
    return None


DECISION = "resume-decision.json"


def launch_id(workdir: Path | None = None, yaml_path: str | None = None,
              resume_allowed: bool = True, inputs: Sequence[str | Path] = ()) -> str:
    """What the ranks of one launch share, on every machine.

    The workflow sets ``MATHLORA_LAUNCH_ID`` in the msrun command from the config (the same on every
    machine; without it, msrun's local workers share their parent's pid, which another machine does
    not). A re-run of the same config gets the same value, so the id also carries the start rank 0
    decides from, read from the shared folder: ``fresh`` or the checkpoint it resumes. Rank 0's own
    preparation does not change that reading (a cleared folder still reads ``fresh``), and a decision
    left by an earlier launch from the same start says what rank 0 decides again.
    """
    base = os.environ.get(LAUNCH_ENV) or f"ppid-{os.getppid()}"
    if workdir is None or yaml_path is None:
        return base
    last = _resume_point(workdir, yaml_path, resume_allowed, inputs)
    start = "fresh" if last is None else f"resume:{last.name}"
    return f"{base}/{start}"


def write_decision(workdir: Path, launch: str, yaml_hash: str, resume_step: int | None) -> Path:
    """Rank 0's resume decision for the other ranks (written after the folder is prepared)."""
    path = workdir / DECISION
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps({"launch": launch, "yaml_sha256": yaml_hash,
                                   "resume_step": resume_step}) + "\n", encoding="utf-8")
    return path


def wait_for_decision(workdir: Path, launch: str, seconds: float, poll: float = 1.0) -> dict[str, Any]:
    """The decision rank 0 wrote for this launch; one left by an earlier launch is not followed."""
    path = workdir / DECISION
    deadline = time.monotonic() + seconds
    while True:
        try:
            decision = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            decision = None  # not written yet, or removed while rank 0 clears the folder
        if isinstance(decision, dict) and decision.get("launch") == launch:
            return decision
        if time.monotonic() > deadline:
            raise InputError(path, f"rank 0 wrote no resume decision for launch {launch!r} within "
                             f"{seconds:g} s (--wait-shards); expected every rank to be started by "
                             f"the same msrun (or the same {LAUNCH_ENV} on every machine)")
        time.sleep(poll)


def follow_decision(workdir: Path, rank: int, decision: dict[str, Any],
                    index: Callable[[Path], dict[int, Path]] = training.index_checkpoints) -> Path | None:
    """This rank's checkpoint of the step rank 0 resumes from, or None for a fresh start."""
    step = decision.get("resume_step")
    if step is None:
        return None
    folder = workdir / "checkpoint" / f"rank_{rank}"
    found = index(folder) if folder.is_dir() else {}
    if step not in found:
        raise InputError(folder, f"rank 0 resumes from step {step} but rank {rank} has no checkpoint "
                         f"of that step (found {sorted(found)}); start afresh with --no-resume")
    return found[step]


def _wait_for(paths: list[Path], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while any(not p.is_file() for p in paths):
        if time.monotonic() > deadline:
            missing = [str(p) for p in paths if not p.is_file()]
            raise InputError(missing[0], f"checkpoint shard never appeared ({len(missing)} missing)")
        time.sleep(2)


def collect(cfg, plan, workdir: Path, *, ckpt_out: str, json_out: str, plot_out: str,
            trainable: int, yaml_path: str, resumed_from: str | None, seconds: float, wait: float) -> dict[str, Any]:
    """Rank 0: pick the checkpoint files of the planned steps, write the report and the plot."""
    ranks = int(cfg.parallel_config.data_parallel) * int(cfg.parallel_config.model_parallel) \
        if cfg.use_parallel else 1
    entries = []
    final = [workdir / "checkpoint" / f"rank_{r}" / "meta.json" for r in range(ranks)]
    _wait_for(final, wait)
    indexes = [training.index_checkpoints(p.parent) for p in final]
    for k, step in enumerate(plan.checkpoint_steps, 1):
        missing = [r for r, index in enumerate(indexes) if step not in index]
        if missing:
            raise InputError(final[missing[0]].parent, f"no checkpoint of step {step} (checkpoint {k}); "
                             f"found steps {sorted(indexes[missing[0]])}")
        shards = [index[step] for index in indexes]
        out = Path(ckpt_out.format(k=k))
        with atomic_output(out, suffix=".ckpt") as tmp:
            shutil.copyfile(shards[0], tmp)
        entries.append({"k": k, "step": step, "epoch": (step - 1) // plan.steps_per_epoch + 1,
                        "path": str(out), "shards": [str(s) for s in shards]})
    strategy = sorted(str(p) for p in (workdir / "strategy").glob("*.ckpt")) if ranks > 1 else []
    log, torn = training.read_loss_log(workdir / "loss.rank0.jsonl")
    if torn:
        print(f"{workdir / 'loss.rank0.jsonl'}: skipped {torn} torn last line (interrupted append)",
              flush=True)
    losses = [log[s] for s in sorted(log) if s <= plan.total_steps]
    if tuple(r["step"] for r in losses) != plan.recorded_steps:
        every = f" in steps of {plan.sink_size}" if plan.sink_size > 1 else ""
        raise MathloraError(f"{workdir / 'loss.rank0.jsonl'}: expected the loss of steps "
                            f"{plan.sink_size}..{plan.total_steps}{every} ({len(plan.recorded_steps)} "
                            f"records), found {len(losses)}")
    training.plot_losses(losses, Path(plot_out), title="LoRA fine-tuning loss",
                         marks=plan.checkpoint_steps)
    pet = dict(cfg.model.model_config.pet_config)
    payload = {
        "schedule": plan.as_dict(),
        "checkpoints": entries,
        "strategy_files": strategy,
        "ranks": ranks,
        "trainable_parameters": trainable,
        "lora": {"rank": int(pet["lora_rank"]), "alpha": float(pet["lora_alpha"]),
                 "dropout": float(pet["lora_dropout"]), "target_modules": str(pet["target_modules"])},
        "losses": [{"step": r["step"], "loss": r["loss"]} for r in losses],
        "final_loss": losses[-1]["loss"],
        "resumed_from": resumed_from,
        "seconds": round(seconds, 3),
        "yaml": yaml_path,
    }
    return write_artifact(json_out, "train", payload)
