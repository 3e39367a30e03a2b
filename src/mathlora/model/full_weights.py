"""Full weights of a submitted checkpoint, whatever kind the contestant published.

In this contest "merged" meant different things. A checkpoint is told apart by its contents:

``merged``
    full weights and no LoRA matrices: taken as it is (hard-linked, else copied);
``unified-unmerged``
    full weights with the LoRA A/B matrices still inside (distributed shards unified by
    ``transform_ckpt.py`` but never merged): merged here with alpha / rank of the yaml's
    ``pet_config``, checked layer by layer as ``mathlora merge`` does;
``lora-only``
    only the LoRA matrices: merged onto ``--base-checkpoint``.

The rank of the matrices must be the yaml's ``lora_rank``. The report says which kind was found
and what was done.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

from mathlora.artifacts import atomic_output, file_sha256, write_artifact
from mathlora.errors import InputError
from mathlora.model import checkpoint_file, merge


def classify(path: str | Path) -> str:
    """The kind of a checkpoint (see the module docstring), from its tags alone."""
    tags = list(checkpoint_file.index(path))
    pairs = merge.lora_pairs(tags, path)
    if not pairs:
        return "merged"
    present = set(tags)
    return "unified-unmerged" if all(p.weight in present for p in pairs) else "lora-only"


def link_or_copy(source: Path, target: Path) -> None:
    """``target`` holds ``source``'s bytes: a hard link where the file system allows, else a copy."""
    with atomic_output(target, suffix=".ckpt") as tmp:
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)


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
