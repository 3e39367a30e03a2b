"""Pretrain the tiny base model through the same MindFormers Trainer path as the fine-tuning.

The Ascend config starts from llama3-8B.ckpt; the embedded default ships a tiny Llama3-architecture
base built by this command (``make base-model``) on a corpus of its own world
(:mod:`mathlora.data.world`: arithmetic in other phrasings and wrappers, reading passages with
their questions), so that the fine-tuned checkpoints have a reading ability to keep and a skill to
build on. Full parameters, no LoRA; documents (bos + text + eos) are packed into rows of
seq_length + 1 tokens in a seeded order.
"""

from __future__ import annotations

import argparse
import random
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from mathlora.artifacts import file_sha256, write_artifact
from mathlora.data.mindrecord import write_mindrecord
from mathlora.errors import InputError
from mathlora.model import network, training
from mathlora.model.merge import TRAINING_STATE


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


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yaml", required=True, help="rendered yaml (model sizes, CPU flags, optimizer)")
    parser.add_argument("--tokenizer", required=True, help="Llama3-format tokenizer file")
    parser.add_argument("--corpus", required=True, help="pretraining corpus (mathlora world)")
    parser.add_argument("--steps", type=int, required=True, help="optimizer steps")
    parser.add_argument("--batch-size", type=int, required=True, help="rows per step")
    parser.add_argument("--learning-rate", type=float, required=True, help="peak learning rate (cosine)")
    parser.add_argument("--seed", type=int, required=True, help="packing order and initialisation")
    parser.add_argument("--workdir", required=True, help="scratch folder (corpus MindRecord, checkpoints)")
    parser.add_argument("--out", required=True, help="base checkpoint (full weights)")
    parser.add_argument("--report", required=True, help="pretraining report")
    parser.add_argument("--plot", help="loss curve PNG")


def main(args: argparse.Namespace) -> int:
    from mathlora.tokenizer.llama3 import Llama3Tokenizer

    started = time.monotonic()
    cfg_probe = network.read_yaml(args.yaml)
    width = int(cfg_probe.model.model_config.seq_length) + 1
    network.check_tokenizer_fits(args.tokenizer, args.yaml)
    tokenizer = Llama3Tokenizer.from_file(args.tokenizer)
    from mathlora.data.world import read_corpus

    records = read_corpus(args.corpus)
    texts: dict[str, list[str]] = {}
    for record in records:
        texts.setdefault(record["kind"], []).append(record["text"])
    documents = [[tokenizer.bos_id, *ids, tokenizer.eos_id]
                 for kind in sorted(texts) for ids in tokenizer.encode_batch(texts[kind])]
    ids = pack(documents, rows=args.steps * args.batch_size, width=width, seed=args.seed)
    workdir = Path(args.workdir)
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    dataset = workdir / "corpus.mindrecord"
    write_mindrecord(dataset, ids, ids)  # pretraining: every token is a label
    cfg = base_config(args.yaml, steps=args.steps, batch_size=args.batch_size,
                      learning_rate=args.learning_rate, seed=args.seed, dataset=dataset, workdir=workdir)
    loss_path = workdir / "loss.rank0.jsonl"
    parameters = training.run_trainer(cfg, mode="train", checkpoint=None, resume=False,
                                      loss_path=loss_path)
    index = training.index_checkpoints(workdir / "checkpoint" / "rank_0")
    if args.steps not in index:
        raise InputError(workdir / "checkpoint" / "rank_0", f"no checkpoint of the last step {args.steps}")
    raw = network.read_checkpoint(index[args.steps])
    weights = {n: v.asnumpy() for n, v in raw.items() if not TRAINING_STATE.match(n)}
    network.write_checkpoint(weights, args.out)
    losses = training.read_losses(loss_path, args.steps)
    if args.plot:
        training.plot_losses(losses, Path(args.plot), title="tiny base pretraining loss")
    payload: dict[str, Any] = {
        "steps": args.steps, "batch_size": args.batch_size, "seq_length": width - 1,
        "learning_rate": args.learning_rate, "seed": args.seed,
        "documents": {kind: len(texts.get(kind, [])) for kind in ("arithmetic", "reading")},
        "corpus": {"path": args.corpus, "sha256": file_sha256(args.corpus)},
        "checkpoint_sha256": file_sha256(args.out),
        "tokenizer_sha256": tokenizer.sha256,
        "corpus_tokens": int(sum(len(d) for d in documents)), "trained_tokens": int(ids.size),
        "parameters": parameters, "losses": [{"step": r["step"], "loss": r["loss"]} for r in losses],
        "final_loss": losses[-1]["loss"] if losses else None,
        "seconds": round(time.monotonic() - started, 3), "output": args.out,
    }
    write_artifact(args.report, "base", payload)
    print(f"pretrained {args.steps} steps x {args.batch_size} rows; final loss {payload['final_loss']}; "
          f"{parameters:,} parameters -> {args.out}")
    return 0
