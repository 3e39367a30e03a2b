"""Render the MindFormers yaml (fine-tuning or prediction) for a mathlora configuration.

``mathlora render-yaml``: the arguments, read into calls of :mod:`mathlora.model.render`.
"""

from __future__ import annotations

import argparse

from mathlora.artifacts import atomic_output
from mathlora.errors import ConfigError
from mathlora.model.render import MODES, load_settings, mindrecord_rows, render, render_values
from mathlora.tokenizer.llama3 import read_vocab


def configure(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", help="a mathlora config file (e.g. config/ascend.yaml)")
    source.add_argument("--settings", help="the config's seed/device/model/finetune/evaluate "
                        "sections as one JSON object (how the workflow passes them)")
    parser.add_argument("--mode", choices=MODES, default="finetune",
                        help="finetune: the training yaml; predict: batched greedy prediction")
    parser.add_argument("--tokenizer", required=True,
                        help="Llama3-format tiktoken file; sets vocab_size (ranks + 256) and bos/eos/pad")
    parser.add_argument("--dataset", default="",
                        help="training MindRecord; its rows fix the checkpoint interval (finetune)")
    parser.add_argument("--load-checkpoint", default="", help="base weights the run starts from")
    parser.add_argument("--output-dir", default="./output",
                        help="MindFormers output_dir (checkpoints, strategy files)")
    parser.add_argument("--rows", type=int,
                        help="rows of the training set, instead of reading them from --dataset")
    parser.add_argument("--out", required=True, help="the yaml to write")


def main(args: argparse.Namespace) -> int:
    settings = load_settings(args.config, args.settings)
    vocab = read_vocab(args.tokenizer)
    rows = args.rows
    if rows is None and args.mode == "finetune":
        if not args.dataset:
            raise ConfigError("--dataset (or --rows) is needed for the fine-tuning yaml")
        rows = mindrecord_rows(args.dataset)
    values = render_values(settings, mode=args.mode, vocab=vocab, tokenizer=args.tokenizer,
                           rows=rows, dataset=args.dataset, load_checkpoint=args.load_checkpoint,
                           output_dir=args.output_dir, config_name=args.config or "the workflow config",
                           vocab_file=args.tokenizer)
    text = render(values)
    with atomic_output(args.out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    print(f"rendered {args.mode} yaml -> {args.out}")
    return 0
