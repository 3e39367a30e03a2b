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

import os
import shutil
from pathlib import Path

from mathlora.artifacts import atomic_output
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
