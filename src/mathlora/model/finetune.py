"""LoRA fine-tuning through the MindFormers Trainer, with five evenly spaced checkpoints.

Runs ``Trainer.finetune`` with the pet LoRA config of the rendered yaml, starting from the base
weights. Run it directly (one process) or under ``msrun`` (every worker runs this command; rank 0
collects; msrun's scheduler process runs it too and only serves the cluster). The checkpoint steps
follow from the rows of the MindRecord, the epochs and the global batch size. Writes one checkpoint
per saved step, the loss of every step (JSON + PNG) and the trainable count. A re-run after an
interruption resumes from the last checkpoint it left.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mathlora.artifacts import atomic_output, write_artifact
from mathlora.errors import ConfigError, InputError, MathloraError
from mathlora.model import lora_dtype, network, training
from mathlora.model.render import mindrecord_rows
from mathlora.model.schedule import schedule
from mathlora.model.workflow import LAUNCH_ENV


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yaml", required=True, help="rendered MindFormers yaml (FINETUNE_YAML)")
    parser.add_argument("--base", required=True, help="base weights the LoRA run starts from")
    parser.add_argument("--dataset", required=True, help="training MindRecord (qa: input_ids, labels)")
    parser.add_argument("--workdir", required=True,
                        help="MindFormers output_dir: rank checkpoints, strategy files, loss log")
    parser.add_argument("--checkpoints", type=int, default=5, help="number of evenly spaced checkpoints")
    parser.add_argument("--ckpt-out", required=True,
                        help="path pattern of checkpoint k, with '{k}' (e.g. .../lora{k}.ckpt)")
    parser.add_argument("--report", required=True, help="training report (steps, losses, files)")
    parser.add_argument("--plot", required=True, help="loss curve PNG")
    parser.add_argument("--no-resume", action="store_true",
                        help="start afresh even if an interrupted run left checkpoints")
    parser.add_argument("--wait-shards", type=float, default=600,
                        help="seconds rank 0 waits for the other ranks' checkpoints, and the other "
                             "ranks wait for rank 0's resume decision")


def _yaml_hash(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _plan(cfg, rows: int, checkpoints: int):
    dp = int(cfg.parallel_config.data_parallel) if cfg.use_parallel else 1
    global_batch = int(cfg.runner_config.batch_size) * dp
    monitor = training.checkpoint_monitor(cfg)
    runner = cfg.runner_config
    return schedule(rows, epochs=int(runner.epochs), global_batch_size=global_batch,
                    checkpoints=checkpoints, save_checkpoint_steps=int(monitor["save_checkpoint_steps"]),
                    sink_size=int(runner.sink_size) if runner.sink_mode else 1)


def _resume_point(workdir: Path, yaml_path: str, resume_allowed: bool) -> Path | None:
    """The checkpoint rank 0 resumes from (same yaml, a readable last checkpoint), or None."""
    stamp = workdir / "yaml.sha256"
    if resume_allowed and stamp.is_file() and stamp.read_text().strip() == _yaml_hash(yaml_path):
        return training.resumable(workdir)
    return None


def _prepare_workdir(workdir: Path, yaml_path: str, resume_allowed: bool) -> Path | None:
    """The checkpoint to resume from, or None after clearing a stale/foreign working folder."""
    last = _resume_point(workdir, yaml_path, resume_allowed)
    if last is not None:
        return last
    stamp = workdir / "yaml.sha256"
    current = _yaml_hash(yaml_path)
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    with atomic_output(stamp) as tmp:  # a torn stamp would not match and clear a good folder
        tmp.write_text(current + "\n")
    return None


DECISION = "resume-decision.json"


def launch_id(workdir: Path | None = None, yaml_path: str | None = None,
              resume_allowed: bool = True) -> str:
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
    last = _resume_point(workdir, yaml_path, resume_allowed)
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


def main(args: argparse.Namespace) -> int:
    if "{k}" not in args.ckpt_out:
        raise ConfigError(f"--ckpt-out {args.ckpt_out!r}: expected a pattern containing '{{k}}'")
    cfg = network.read_yaml(args.yaml)
    if not cfg.model.model_config.get("pet_config"):
        raise InputError(args.yaml, "no pet_config; expected a LoRA fine-tuning yaml", field="pet_config")
    lora_dtype.check_yaml(cfg.model.model_config, args.yaml)
    base = Path(args.base)
    if not base.is_file() or base.stat().st_size == 0:
        raise InputError(base, "base checkpoint not found or empty")
    rows = mindrecord_rows(args.dataset)
    plan = _plan(cfg, rows, args.checkpoints)
    if training.is_scheduler():
        # msrun's scheduler runs this command too (RANK_ID=0): it must neither prepare the folder
        # nor write rank 0's decision, or it races the real rank 0 for them.
        training.serve_cluster(cfg)
        print("msrun scheduler: served the cluster; nothing written", flush=True)
        return 0
    workdir = Path(args.workdir)
    rank = training.rank_id()
    # One decision for every rank: rank 0 checks the yaml stamp and --no-resume, prepares the
    # folder and writes the decision; the others wait for it, so none races the folder's removal.
    offset = 0
    launch = launch_id(workdir, args.yaml, not args.no_resume)  # before rank 0 touches the folder
    if rank == 0:
        resume_from = _prepare_workdir(workdir, args.yaml, not args.no_resume)
        if resume_from is not None:
            offset = training.global_step(resume_from)
        if cfg.use_parallel:
            write_decision(workdir, launch, _yaml_hash(args.yaml),
                           offset if resume_from is not None else None)
    else:
        decision = wait_for_decision(workdir, launch, args.wait_shards)
        if decision.get("yaml_sha256") != _yaml_hash(args.yaml):
            raise InputError(args.yaml, f"rank {rank} was given another yaml than rank 0; expected "
                             "every rank to run the same command")
        resume_from = follow_decision(workdir, rank, decision)
        offset = decision["resume_step"] or 0
    cfg.output_dir = str(workdir)
    cfg.train_dataset.data_loader.dataset_dir = args.dataset
    cfg.train_dataset_task.dataset_config.data_loader.dataset_dir = args.dataset
    if resume_from is not None:
        print(f"resuming from {resume_from} (step {offset})", flush=True)
    started = time.monotonic()
    trainable = training.run_trainer(
        cfg, mode="finetune", resume=resume_from is not None,
        checkpoint=str(workdir / "checkpoint") if resume_from is not None else str(base),
        loss_path=workdir / f"loss.rank{rank}.jsonl", step_offset=offset)
    if rank != 0:
        return 0
    report = collect(cfg, plan, workdir, ckpt_out=args.ckpt_out, json_out=args.report,
                     plot_out=args.plot, trainable=trainable, yaml_path=args.yaml,
                     resumed_from=str(resume_from) if resume_from else None,
                     seconds=time.monotonic() - started, wait=args.wait_shards)
    print(f"fine-tuned {plan.total_steps} steps; checkpoints at {list(plan.checkpoint_steps)}; "
          f"final loss {report['final_loss']:.4f}; trainable {trainable}")
    return 0
