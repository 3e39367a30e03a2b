"""Count trainable and total parameters of the real network, without allocating its weights.

``mathlora params``: the arguments, read into calls of :mod:`mathlora.model.params`.
"""

from __future__ import annotations

import argparse
import contextlib
import sys

from mathlora.artifacts import dump_json, write_artifact
from mathlora.contest import OFFICIAL_DENOMINATOR
from mathlora.model.params import check_lora_flags, count, model_config_from_config, model_config_from_yaml


def configure(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", help="a mathlora config (e.g. config/ascend.yaml)")
    source.add_argument("--yaml", help="a rendered MindFormers yaml (e.g. results/model/finetune.yaml)")
    parser.add_argument("--tokenizer", help="sizes the vocabulary when --config has no model.vocab_size")
    parser.add_argument("--lora-rank", type=int, help="LoRA rank to count instead of the config's "
                        "(needed, with --target-modules, when the config has no pet_config)")
    parser.add_argument("--lora-alpha", type=float,
                        help="LoRA alpha, only with --lora-rank (default 2 x rank)")
    parser.add_argument("--target-modules", help="LoRA target regex instead of the config's, "
                        "e.g. '.*wq|.*wk|.*wv|.*wo'")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--out", help="also write the report as a params artifact")


def main(args: argparse.Namespace) -> int:
    check_lora_flags(args.lora_rank, args.lora_alpha)  # before MindFormers is imported
    # MindFormers prints to stdout while building; keep stdout for the report alone.
    with contextlib.redirect_stdout(sys.stderr):
        model_config = model_config_from_config(args.config, args.tokenizer) if args.config \
            else model_config_from_yaml(args.yaml)
        report = count(model_config, lora_rank=args.lora_rank, target_modules=args.target_modules,
                       lora_alpha=args.lora_alpha)
    report["source"] = args.config or args.yaml
    if args.out:
        report = write_artifact(args.out, "params", report)
    if args.json:
        sys.stdout.write(dump_json(report))
    else:
        print(f"trainable {report['trainable_parameters']:,} of {report['total_parameters']:,} "
              f"(base {report['base_parameters']:,}); LoRA r{report['lora']['rank']} on "
              f"{report['lora_modules']} modules ({', '.join(report['lora_module_names'])})\n"
              f"official ratio {report['official_ratio']:.9f} (/ {OFFICIAL_DENOMINATOR:,}), "
              f"exact ratio {report['exact_ratio']:.9f} (/ total)")
    return 0
