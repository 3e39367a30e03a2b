"""Merge LoRA checkpoint k into full weights: W += (B @ A) * alpha / rank, checked layer by layer.

``mathlora merge``: the arguments, read into calls of :mod:`mathlora.model.merge`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from mathlora.artifacts import read_artifact, write_artifact
from mathlora.errors import InputError
from mathlora.model.merge import lora_settings, merge_file, merge_payload, require_inside, unify_shards


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yaml", required=True, help="the fine-tuning yaml (pet_config: rank, alpha)")
    parser.add_argument("--lora", required=True, help="LoRA training checkpoint k (rank 0 / single)")
    parser.add_argument("--train-json", required=True,
                        help="fine-tuning report: shards and strategy files of checkpoint k")
    parser.add_argument("--workdir", required=True,
                        help="the fine-tuning working folder: every shard and strategy file the "
                             "report names must lie in it")
    parser.add_argument("--k", type=int, required=True, help="which checkpoint (1-based)")
    parser.add_argument("--out", required=True, help="merged full-weight checkpoint")
    parser.add_argument("--report", required=True, help="merge report")
    parser.add_argument("--seed", type=int, default=0, help="seed of the probe activations")


def main(args: argparse.Namespace) -> int:
    started = time.monotonic()
    report = read_artifact(args.train_json, "train")
    entry = next((c for c in report["checkpoints"] if c["k"] == args.k), None)
    if entry is None:
        raise InputError(args.train_json, f"no checkpoint k={args.k}; expected k in "
                         f"1..{len(report['checkpoints'])}", field="checkpoints")
    rank, alpha = lora_settings(args.yaml)
    scale = alpha / rank
    shards = entry["shards"] if len(entry["shards"]) > 1 else [args.lora]
    if len(shards) > 1:
        require_inside(args.workdir, shards + report["strategy_files"], args.train_json)
    from mathlora.model import network  # after the checks: a refused report costs no MindFormers import

    network.set_context("cpu")  # a host job: nothing here needs a device
    with tempfile.TemporaryDirectory(prefix="mathlora-merge-") as scratch:
        source = unify_shards(shards, report["strategy_files"], Path(scratch))
        result = merge_file(source, args.out, scale=scale, rank=rank, seed=args.seed)
    write_artifact(args.report, "merge", merge_payload(result, k=args.k, step=entry["step"],
                                                     source=args.lora, shards=len(entry["shards"]),
                                                     output=args.out, alpha=alpha, scale=scale,
                                                     seed=args.seed,
                                                     seconds=time.monotonic() - started))
    print(f"merged checkpoint {args.k} (step {entry['step']}, scale {scale:g}, "
          f"{len(result.targets)} weights in {sorted(set(result.dtypes))}) -> {args.out}; "
          f"checks {result.weight_check:.3g} / {result.dense_check:.3g} of their bounds")
    return 0
