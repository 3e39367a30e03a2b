"""Pretrain the tiny base model through the same MindFormers Trainer path as the fine-tuning.

The Ascend config starts from llama3-8B.ckpt; the embedded default ships a tiny Llama3-architecture
base built by this command (``make base-model``) on a corpus of its own world
(:mod:`mathlora.data.world`: arithmetic in other phrasings and wrappers, reading passages with
their questions), so that the fine-tuned checkpoints have a reading ability to keep and a skill to
build on. Full parameters, no LoRA; documents (bos + text + eos) are packed whole into rows of
seq_length + 1 tokens (best fit, the rest of a row padded and left out of the loss), in a seeded
order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mathlora.errors import InputError
from mathlora.model import network, training

IGNORE = -100  # MindFormers' ignore_token_id: a padded position is not a label


@dataclass(frozen=True)
class Packed:
    """Rows of ids, their labels (padding ignored) and how full the rows are."""

    ids: np.ndarray
    labels: np.ndarray
    passes: float  # rows / rows one pass over the documents fills

    @property
    def fill(self) -> float:
        return float((self.labels != IGNORE).mean())


def _best_fit(lengths: list[int], order: list[int], width: int) -> list[list[int]]:
    """One pass: each document, in ``order``, into the open row with the least room that holds it
    (a new row when none does); rows as lists of document indices, in the order they were opened."""
    rows: list[list[int]] = []
    by_room: list[list[int]] = [[] for _ in range(width + 1)]  # room left -> rows with that room
    for doc in order:
        need = lengths[doc]
        room = next((r for r in range(need, width + 1) if by_room[r]), None)
        if room is None:
            row, room = len(rows), width
            rows.append([])
        else:
            row = by_room[room].pop()
        rows[row].append(doc)
        by_room[room - need].append(row)
    return rows


def pack(documents: list[list[int]], *, rows: int, width: int, seed: int, pad_id: int) -> Packed:
    """``rows`` x ``width`` ids of whole documents, packed best-fit in seeded passes.

    Streaming the documents end to end and cutting rows would split most passages of the world
    from their questions or answers (a 70-token document fits whole in a 129-token cut about half
    the time), and the cut-off halves teach a model to answer what it cannot see. So a row holds
    whole documents only; its unused tail is ``pad_id``, labelled ``IGNORE``. A document longer than
    a row is cut into row-sized pieces. Each pass places every document once, its rows shuffled.
    """
    if not documents:
        raise InputError("<corpus>", "no documents to pretrain on")
    pieces = [doc[start:start + width] for doc in documents for start in range(0, len(doc), width)]
    lengths = [len(piece) for piece in pieces]
    rng = random.Random(seed)
    packed: list[list[int]] = []
    per_pass = 0
    while len(packed) < rows:
        order = list(range(len(pieces)))
        rng.shuffle(order)
        layout = _best_fit(lengths, order, width)
        rng.shuffle(layout)
        per_pass = len(layout)
        packed.extend(layout)
    ids = np.full((rows, width), pad_id, dtype=np.int32)
    labels = np.full((rows, width), IGNORE, dtype=np.int32)
    for r, row in enumerate(packed[:rows]):
        stream = [token for doc in row for token in pieces[doc]]
        ids[r, :len(stream)] = stream
        labels[r, :len(stream)] = stream
    return Packed(ids=ids, labels=labels, passes=rows / per_pass)


def base_config(yaml_path: str, *, steps: int, batch_size: int, learning_rate: float, seed: int,
                dataset: Path, workdir: Path):
    """The fine-tuning yaml turned into a full-parameter pretraining run of ``steps`` steps."""
    cfg = network.read_yaml(yaml_path)
    cfg.model.model_config.pop("pet_config", None)
    cfg.seed = seed
    cfg.use_parallel = False
    cfg.parallel_config.data_parallel = 1
    cfg.parallel_config.model_parallel = 1
    cfg.runner_config.epochs = 1
    cfg.runner_config.batch_size = batch_size
    cfg.lr_schedule.learning_rate = learning_rate
    cfg.output_dir = str(workdir)
    cfg.train_dataset.data_loader.dataset_dir = str(dataset)
    cfg.train_dataset_task.dataset_config.data_loader.dataset_dir = str(dataset)
    monitor = training.checkpoint_monitor(cfg)
    monitor["save_checkpoint_steps"] = steps
    monitor["keep_checkpoint_max"] = 1
    return cfg
