"""Export a merged (full-weight, LoRA-free) checkpoint to a Hugging Face transformers directory
(config.json, model.safetensors, fast tokenizer) that loads as LlamaForCausalLM and AutoTokenizer.

``mathlora export-hf``: the arguments, read into calls of :mod:`mathlora.model.export_hf`.
"""

from __future__ import annotations

import argparse

from mathlora.artifacts import write_artifact
from mathlora.model.export_hf import SAFETENSORS_DTYPES, export


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True,
                        help="merged full-weight MindFormers checkpoint (.ckpt) without LoRA parameters")
    parser.add_argument("--model-yaml", required=True,
                        help="the rendered MindFormers yaml the checkpoint was trained with "
                        "(its model.model_config gives the architecture)")
    parser.add_argument("--tokenizer", required=True,
                        help="the Llama3-format tiktoken tokenizer file (tokenizer.model) of the model")
    parser.add_argument("--out", required=True,
                        help="directory to create with config.json, model.safetensors and tokenizer files")
    parser.add_argument("--dtype", choices=sorted(SAFETENSORS_DTYPES), default="float32",
                        help="weight dtype of model.safetensors: float32 (exact), or bfloat16 (half the "
                        "size; exact for a checkpoint trained in bfloat16, like the Ascend entry's)")
    parser.add_argument("--report", help="also write an export_hf JSON report (files, sizes, sha256)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing --out directory (only after the new export succeeded)")


def main(args: argparse.Namespace) -> int:
    summary = export(args.checkpoint, args.model_yaml, args.tokenizer, args.out, dtype=args.dtype,
                     overwrite=args.overwrite)
    if args.report:
        write_artifact(args.report, "export_hf", summary)
    print(f"exported {summary['tensors']} tensors ({summary['parameters']:,} parameters) -> {args.out} "
          f"in {summary['seconds']:.1f} s; skipped {summary['skipped_entries']['count']} non-weight "
          "checkpoint entries")
    return 0
