"""Predict script of the mathlora entry for the contest environment.

Runs inside MindFormers' ``research/llama3`` folder (MindFormers r1.1, MindSpore 2.3) with the same
command line as that folder's ``run_llama3.py``::

    python run_llama3_test.py --config predict_llama3_8b_lora.yaml --run_mode predict \\
        --use_parallel False --load_checkpoint ckpt2.ckpt --vocab_file tokenizer.model \\
        --auto_trans_ckpt False --input_dir test.jsonl --max_length 512

It reads JSON Lines (``{"problem": ..., "solution": ...}``), wraps every problem in the entry's
prompt, predicts greedily in batches of 4 and saves the generation results, one per problem in input
order, to ``result_npy.npy`` with ``np.save``. Each result is what MindFormers returns for one input:
``{"text_generation_text": [prompt + continuation]}``.

The prompt strings below are byte-identical to ``mathlora.prompts`` (a test compares them); this file
must run without the mathlora package, so it keeps its own copy. MindSpore and MindFormers are
imported inside :func:`main` only, so the input handling can be tested anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

MATH_PROMPT_PREFIX = "Please answer the following math problems:\n"
MATH_PROMPT_SUFFIX = "\n###answer:"

BATCH_SIZE = 4
RESULT_FILE = "result_npy.npy"
REQUIRED_OUTPUT_DIR = "./output"
TEXT_KEY = "text_generation_text"


class InputFileError(ValueError):
    """A bad line of the input file; the message names the file and line."""


def str2bool(text: str) -> bool:
    """``True``/``False`` on the command line, as MindFormers' own scripts accept them."""
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Predict answers to math problems with the entry's prompt (batches of 4) and "
                    "save them to result_npy.npy.")
    parser.add_argument("--task", default="text_generation", help="MindFormers task name")
    parser.add_argument("--config", required=True, help="MindFormers prediction yaml (.yaml/.yml)")
    parser.add_argument("--run_mode", default="predict", choices=["predict"],
                        help="only 'predict' is supported by this script")
    parser.add_argument("--use_parallel", type=str2bool, default=None,
                        help="True to predict on several devices (overrides the yaml)")
    parser.add_argument("--device_id", type=int, default=None, help="device of a single-card run")
    parser.add_argument("--load_checkpoint", default=None,
                        help="merged checkpoint file or directory (default: the yaml's load_checkpoint)")
    parser.add_argument("--src_strategy", default=None, help="strategy of a distributed checkpoint")
    parser.add_argument("--auto_trans_ckpt", type=str2bool, default=None,
                        help="True to transform the checkpoint to the current parallel layout")
    parser.add_argument("--vocab_file", default=None, help="Llama3 tokenizer.model")
    parser.add_argument("--input_dir", required=True,
                        help="JSON Lines file with one {\"problem\", \"solution\"} object per line")
    parser.add_argument("--max_length", type=int, default=512,
                        help="maximum length of prompt + generated tokens")
    parser.add_argument("--seq_length", type=int, default=None, help="override the yaml's seq_length")
    parser.add_argument("--batch_size", type=int, default=BATCH_SIZE,
                        help="problems per prediction batch (the entry used 4)")
    parser.add_argument("--result_file", default=RESULT_FILE,
                        help="where np.save writes the results (default: result_npy.npy)")
    return parser


def math_prompt(problem: str) -> str:
    """The prompt the entry wraps around each problem."""
    return MATH_PROMPT_PREFIX + problem + MATH_PROMPT_SUFFIX


def read_problems(path: str) -> list[str]:
    """The ``problem`` field of every line; blank lines are not allowed (they would shift results)."""
    problems = []
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise InputFileError(f"{path}: file not found") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            where = f"{path}:{number}"
            try:
                text = raw.decode("utf-8").lstrip("\ufeff" if number == 1 else "")
            except UnicodeDecodeError:
                raise InputFileError(f"{where}: invalid UTF-8") from None
            if not text.strip():
                raise InputFileError(f"{where}: empty line, expected a JSON object")
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InputFileError(f"{where}: not JSON ({exc.msg})") from None
            if not isinstance(record, dict) or not isinstance(record.get("problem"), str):
                raise InputFileError(f"{where}: expected an object with a string field 'problem'")
            problems.append(record["problem"])
    if not problems:
        raise InputFileError(f"{path}: no problems in the file")
    return problems


def batches(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive batches of exactly ``size`` items, in order.

    The network is built for a fixed batch, so a short last batch is filled up by repeating its
    last item; :func:`main` drops the results of those fillers.
    """
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    for start in range(0, len(items), size):
        batch = list(items[start:start + size])
        yield batch + [batch[-1]] * (size - len(batch))


def normalise_results(output: Any, expected: int) -> list[dict[str, list[str]]]:
    """One ``{"text_generation_text": [text]}`` per input, whatever nesting MindFormers returned."""
    flat: list[dict[str, list[str]]] = []
    for item in output if isinstance(output, (list, tuple)) else [output]:
        if isinstance(item, dict) and TEXT_KEY in item:
            texts = item[TEXT_KEY]
            texts = [texts] if isinstance(texts, str) else list(texts)
            flat.extend({TEXT_KEY: [text]} for text in texts)
        elif isinstance(item, str):
            flat.append({TEXT_KEY: [item]})
        else:
            raise TypeError(f"unexpected prediction result {type(item).__name__}: {item!r:.200}")
    if len(flat) != expected:
        raise RuntimeError(f"{expected} prompts gave {len(flat)} results")
    return flat


def save_results(results: list[dict[str, list[str]]], path: str) -> None:
    """``np.save`` of the result list, written to a temporary name first so no half file remains."""
    import numpy as np

    array = np.empty(len(results), dtype=object)
    array[:] = results
    tmp = path + ".tmp.npy"  # np.save appends .npy to names without it
    try:
        np.save(tmp, array, allow_pickle=True)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):  # only after a failure: the rename moved it otherwise
            os.remove(tmp)


def load_config(args: argparse.Namespace):
    """The MindFormers config with the command-line overrides applied and checked."""
    from mindformers import MindFormerConfig

    if not (os.path.isfile(args.config) and args.config.endswith((".yaml", ".yml"))):
        raise ValueError(f"--config {args.config}: expected an existing .yaml or .yml file")
    config = MindFormerConfig(os.path.realpath(args.config))
    if config.output_dir != REQUIRED_OUTPUT_DIR:
        raise ValueError(f"{args.config}: output_dir must be {REQUIRED_OUTPUT_DIR!r}, "
                         f"not {config.output_dir!r}")
    if args.use_parallel is not None:
        config.use_parallel = args.use_parallel
    if args.device_id is not None:
        config.context.device_id = args.device_id
    if args.load_checkpoint is not None:
        config.load_checkpoint = args.load_checkpoint
    if args.src_strategy is not None:
        config.src_strategy_path_or_dir = args.src_strategy
    if args.auto_trans_ckpt is not None:
        config.auto_trans_ckpt = args.auto_trans_ckpt
    if args.vocab_file is not None:
        config.processor.tokenizer.vocab_file = args.vocab_file
    if args.seq_length is not None:
        config.model.model_config.seq_length = args.seq_length
    # Static shapes: the network is built for the batch it will be fed.
    config.model.model_config.batch_size = args.batch_size
    config.model.model_config.do_sample = False
    return config


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.batch_size < 1:
        raise SystemExit("--batch_size must be at least 1")
    # Bad input fails here, before minutes of model loading.
    prompts = [math_prompt(problem) for problem in read_problems(args.input_dir)]

    # Heavy imports only now: the contest environment has them, a test machine need not.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from mindformers import Trainer
    from mindformers.core.context import build_context

    try:  # research/llama3 registers its tokenizer class on import
        import llama3_tokenizer  # noqa: F401
    except ImportError:
        pass

    config = load_config(args)
    build_context(config)
    trainer = Trainer(args=config, task=args.task)
    # One call: the pipeline loads the weights once and predicts ``batch_size`` prompts at a time;
    # the batches are filled up front so every batch has the shape the network was built for.
    padded = [prompt for batch in batches(prompts, args.batch_size) for prompt in batch]
    output = trainer.predict(input_data=padded, predict_checkpoint=config.load_checkpoint,
                             auto_trans_ckpt=config.auto_trans_ckpt, batch_size=args.batch_size,
                             max_length=args.max_length, do_sample=False)
    results = normalise_results(output, len(padded))[:len(prompts)]
    save_results(results, args.result_file)
    print(f"saved {len(results)} results to {args.result_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
