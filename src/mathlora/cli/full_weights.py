"""Full weights of a submitted checkpoint, whatever kind the contestant published.

``mathlora full-weights``: the arguments, read into calls of :mod:`mathlora.model.full_weights`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mathlora.artifacts import file_sha256, write_artifact
from mathlora.errors import InputError
from mathlora.model import merge
from mathlora.model.full_weights import classify, link_or_copy


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="a submitted checkpoint")
    parser.add_argument("--yaml", required=True,
                        help="the submission's training yaml (pet_config: lora_rank, lora_alpha)")
    parser.add_argument("--base-checkpoint", help="base weights, for a LoRA-only checkpoint")
    parser.add_argument("--out", required=True, help="full weights to write")
    parser.add_argument("--report", required=True, help="report to write (kind found, what was done)")


def main(args: argparse.Namespace) -> int:
    from mathlora.model import network

    started = time.monotonic()
    source = Path(args.checkpoint)
    if not source.is_file():
        raise InputError(source, "checkpoint not found")
    kind = classify(source)
    scale = rank = None
    if kind == "merged":
        link_or_copy(source, Path(args.out))
        merged = 0
    else:
        rank, alpha = merge.lora_settings(args.yaml)
        scale = alpha / rank
        if kind == "lora-only" and not args.base_checkpoint:
            raise InputError(source, "holds only LoRA matrices: give --base-checkpoint to merge "
                                     "them onto")
        network.set_context("cpu")
        result = merge.merge_file(source, args.out, scale=scale, rank=rank,
                                  weights=args.base_checkpoint if kind == "lora-only" else None)
        merged = len(result.targets)
    write_artifact(args.report, "full_weights", {
        "checkpoint": str(source), "checkpoint_kind": kind, "merged_weights": merged, "lora_rank": rank,
        "scale": scale, "base_checkpoint": args.base_checkpoint if kind == "lora-only" else None,
        "output": str(args.out), "sha256": file_sha256(args.out),
        "seconds": round(time.monotonic() - started, 3)})
    what = "taken as it is" if kind == "merged" else f"merged {merged} weights (scale {scale:g})"
    print(f"{source}: {kind}, {what} -> {args.out}")
    return 0
