"""Pretrain the tiny base model through the same MindFormers Trainer path as the fine-tuning.

``mathlora base``: the arguments, read into calls of :mod:`mathlora.model.base`.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Any

from mathlora.artifacts import file_sha256, write_artifact
from mathlora.cli.arguments import add_settings_arguments, settings_from_arguments
from mathlora.data.mindrecord import write_mindrecord
from mathlora.errors import InputError
from mathlora.model import network, training
from mathlora.model.base import base_config, pack
from mathlora.model.merge import TRAINING_STATE
from mathlora.settings import BaseSettings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yaml", required=True, help="rendered yaml (model sizes, CPU flags, optimizer)")
    parser.add_argument("--tokenizer", required=True, help="Llama3-format tokenizer file")
    parser.add_argument("--corpus", required=True, help="pretraining corpus (mathlora world)")
    parser.add_argument("--workdir", required=True, help="scratch folder (corpus MindRecord, checkpoints)")
    parser.add_argument("--out", required=True, help="base checkpoint (full weights)")
    parser.add_argument("--report", required=True, help="pretraining report")
    parser.add_argument("--plot", help="loss curve PNG")
    add_settings_arguments(parser, BaseSettings)


def main(args: argparse.Namespace) -> int:
    settings = settings_from_arguments(args, BaseSettings)
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
    ids = pack(documents, rows=settings.steps * settings.batch_size, width=width, seed=settings.init_seed)
    workdir = Path(args.workdir)
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    dataset = workdir / "corpus.mindrecord"
    write_mindrecord(dataset, ids, ids)  # pretraining: every token is a label
    cfg = base_config(args.yaml, steps=settings.steps, batch_size=settings.batch_size,
                      learning_rate=settings.learning_rate, seed=settings.init_seed, dataset=dataset, workdir=workdir)
    loss_path = workdir / "loss.rank0.jsonl"
    parameters = training.run_trainer(cfg, mode="train", checkpoint=None, resume=False,
                                      loss_path=loss_path)
    index = training.index_checkpoints(workdir / "checkpoint" / "rank_0")
    if settings.steps not in index:
        raise InputError(workdir / "checkpoint" / "rank_0", f"no checkpoint of the last step {settings.steps}")
    raw = network.read_checkpoint(index[settings.steps])
    weights = {n: v.asnumpy() for n, v in raw.items() if not TRAINING_STATE.match(n)}
    network.write_checkpoint(weights, args.out)
    losses = training.read_losses(loss_path, settings.steps)
    if args.plot:
        training.plot_losses(losses, Path(args.plot), title="tiny base pretraining loss")
    payload: dict[str, Any] = {
        "steps": settings.steps, "batch_size": settings.batch_size, "seq_length": width - 1,
        "learning_rate": settings.learning_rate, "seed": settings.init_seed,
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
    print(f"pretrained {settings.steps} steps x {settings.batch_size} rows; final loss {payload['final_loss']}; "
          f"{parameters:,} parameters -> {args.out}")
    return 0
