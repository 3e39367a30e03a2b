"""Pretrain the tiny base model through the same MindFormers Trainer path as the fine-tuning.

The Ascend config starts from llama3-8B.ckpt; the embedded default ships a tiny Llama3-architecture
base built by this command (``make base-model``) on a corpus of its own world
(:mod:`mathlora.data.world`: arithmetic in other phrasings and wrappers, reading passages with
their questions), so that the fine-tuned checkpoints have a reading ability to keep and a skill to
build on. Full parameters, no LoRA; documents (bos + text + eos) are packed into rows of
seq_length + 1 tokens in a seeded order.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from mathlora.errors import InputError
from mathlora.model import network, training


def pack(documents: list[list[int]], *, rows: int, width: int, seed: int) -> np.ndarray:
    """``rows`` x ``width`` ids: documents concatenated in seeded passes, cut into rows."""
    if not documents:
        raise InputError("<corpus>", "no documents to pretrain on")
    rng = random.Random(seed)
    need, stream = rows * width, []
    while len(stream) < need:
        order = list(range(len(documents)))
        rng.shuffle(order)
        for i in order:
            stream.extend(documents[i])
    return np.asarray(stream[:need], dtype=np.int32).reshape(rows, width)


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
