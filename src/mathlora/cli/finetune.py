"""LoRA fine-tuning through the MindFormers Trainer, with five evenly spaced checkpoints.

``mathlora finetune``: the arguments, read into calls of :mod:`mathlora.model.finetune`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mathlora.errors import ConfigError, InputError
from mathlora.model import lora_dtype, network, training
from mathlora.model.finetune import (
    FINISHED,
    checkpoint_plan,
    collect,
    follow_decision,
    launch_id,
    prepare_workdir,
    wait_for_decision,
    write_decision,
    yaml_hash,
)
from mathlora.model.render import mindrecord_rows


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
    plan = checkpoint_plan(cfg, rows, args.checkpoints)
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
    inputs = (base, args.dataset)  # another base or dataset at the same path is another run
    launch = launch_id(workdir, args.yaml, not args.no_resume, inputs)  # before rank 0 touches the folder
    if rank == 0:
        resume_from = prepare_workdir(workdir, args.yaml, not args.no_resume, inputs)
        if resume_from is not None:
            offset = training.global_step(resume_from)
        if cfg.use_parallel:
            write_decision(workdir, launch, yaml_hash(args.yaml),
                           offset if resume_from is not None else None)
    else:
        decision = wait_for_decision(workdir, launch, args.wait_shards)
        if decision.get("yaml_sha256") != yaml_hash(args.yaml):
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
    (workdir / FINISHED).touch()  # a later run of this folder starts afresh, never resumes it
    print(f"fine-tuned {plan.total_steps} steps; checkpoints at {list(plan.checkpoint_steps)}; "
          f"final loss {report['final_loss']:.4f}; trainable {trainable}")
    return 0
