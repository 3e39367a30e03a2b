"""Greedy predictions of one model on the held-out math test set, with the entry's prompt.

``mathlora predict``: the arguments, read into calls of :mod:`mathlora.evaluate.predict`.
"""

from __future__ import annotations

import argparse
import json
import sys

from mathlora.cli.arguments import add_model_arguments, add_settings_arguments, settings_from_arguments
from mathlora.evaluate.predict import load_model_and_tokenizer, predict_math, write_predictions
from mathlora.jsonl import read_test_file
from mathlora.settings import PredictSettings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--test", required=True,
                        help="test set of {problem, solution}: a JSON array or JSON Lines")
    parser.add_argument("--model", default="model", help="name shown in reports (base, ckpt1, ...)")
    add_model_arguments(parser)
    add_settings_arguments(parser, PredictSettings)
    parser.add_argument("--out-jsonl", required=True, help="predictions.jsonl to write")
    parser.add_argument("--out-npy", required=True, help="result_npy.npy to write (entry format)")
    parser.add_argument("--out-json", required=True, help="predict.json report to write")


def main(args: argparse.Namespace) -> int:
    settings = settings_from_arguments(args, PredictSettings)
    test = read_test_file(args.test)
    model, tokenizer = load_model_and_tokenizer(args.model_yaml, args.checkpoint, args.tokenizer,
                                                batch_size=settings.batch_size,
                                                seq_length=args.seq_length)
    records, gen = predict_math(model, tokenizer, test, settings)
    write_predictions(records, gen, settings, model_name=args.model, checkpoint=args.checkpoint,
                      out_jsonl=args.out_jsonl, out_npy=args.out_npy, out_json=args.out_json)
    stats = gen.stats()
    print(json.dumps({"model": args.model, **stats}, ensure_ascii=False), file=sys.stderr)
    print(f"{args.model}: {stats['n']} predictions, {stats['generated_tokens']} tokens in "
          f"{stats['seconds']:.1f} s ({stats['tokens_per_second']:.1f} tokens/s)")
    return 0
