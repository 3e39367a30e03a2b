"""Predict script of the mathlora entry, for its contest environment.

Runs inside MindFormers r1.1's ``research/llama3`` folder (MindSpore 2.3 on Ascend) and takes the
command line of that folder's ``run_llama3.py``, plus the input file::

    python run_llama3_test.py --config predict_llama3_8b_lora.yaml --run_mode predict \\
        --use_parallel False --load_checkpoint ckpt2.ckpt --vocab_file tokenizer.model \\
        --auto_trans_ckpt False --input_dir test.json --max_length 512

The input is what the entry's script read with ``json.load``: one JSON array of ``{"problem",
"solution"}`` objects; JSON Lines (one such object per line) are accepted too, told apart by their
first character. Every problem is wrapped in the entry's prompt, byte for byte, predicted greedily
in batches of 4 by MindFormers' text-generation pipeline (``Trainer.predict``), and the generation
result list is saved to ``result_npy.npy`` with ``np.save`` as the pipeline returns it: one
``{"text_generation_text": [prompt + continuation, ...]}`` per batch, in input order.

Every flag of r1.1's ``run_llama3.py`` is accepted and applied as that script applies it; the ones
that mean nothing for prediction (``--resume``, ``--train_dataset``, ``--eval_dataset``,
``--predict_data``) are ignored with a warning. As there, ``output_dir`` must be ``./output``.

r1.1's ``text_generator.py`` generates ``max_new_tokens`` past the batch's longest prompt into a
buffer of ``seq_length`` positions without a bound (its ``max_length`` is clamped before the
prompt is added), so a prompt longer than ``seq_length - max_new_tokens`` tokens crashes it with an
IndexError after the model is loaded. The script counts every prompt's tokens first and, where
needed, raises ``seq_length`` to the longest prompt + ``max_new_tokens`` (a multiple of the
yaml's ``block_size``), saying so; a prompt that cannot fit the tokenizer's ``model_max_length``
is refused up front, naming the item.

The prompt strings below are byte-identical to ``mathlora.prompts.ENTRY`` (a test compares them);
this file must run without the mathlora package, so it keeps its own copy. MindSpore and
MindFormers are imported inside :func:`main` only, so the input handling runs (and fails) before
minutes of model loading.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

MATH_PROMPT_PREFIX = "Please answer the following math promblem:\n "
MATH_PROMPT_SUFFIX = "\n###answer:"

BATCH_SIZE = 4
RESULT_FILE = "result_npy.npy"
REQUIRED_OUTPUT_DIR = "./output"
TEXT_KEY = "text_generation_text"
# Flags of run_llama3.py that only training reads.
TRAINING_ONLY = ("resume", "train_dataset", "eval_dataset", "predict_data")


class InputFileError(ValueError):
    """A bad input file; the message names the file, the line and (in an array) the item."""


def str2bool(text: str) -> bool:
    """``True``/``False`` in any case, as MindFormers r1.1's ``str2bool`` accepts them."""
    value = text.strip().lower()
    if value in ("true", "false"):
        return value == "true"
    raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Predict answers to math problems with the entry's prompt (batches of 4) and "
                    "save them to result_npy.npy.")
    # run_llama3.py's flags (MindFormers r1.1), in its order.
    parser.add_argument("--task", default="text_generation", help="MindFormers task name")
    parser.add_argument("--config", required=True, help="MindFormers prediction yaml (.yaml/.yml)")
    parser.add_argument("--run_mode", default="predict", choices=["predict"],
                        help="only 'predict': this script does not train")
    parser.add_argument("--seq_length", type=int, default=None, help="override the yaml's seq_length")
    parser.add_argument("--use_parallel", type=str2bool, default=None,
                        help="True to predict on several devices (overrides the yaml)")
    parser.add_argument("--device_id", type=int, default=None, help="device of a single-card run")
    parser.add_argument("--mode", type=int, default=0,
                        help="MindSpore execution mode: 0 graph (default), 1 PyNative")
    parser.add_argument("--load_checkpoint", default=None,
                        help="merged checkpoint file or directory (default: the yaml's load_checkpoint)")
    parser.add_argument("--src_strategy", default=None, help="strategy of a distributed checkpoint")
    parser.add_argument("--auto_trans_ckpt", type=str2bool, default=None,
                        help="True to transform the checkpoint to the current parallel layout")
    parser.add_argument("--resume", type=str2bool, default=None, help="training only: ignored")
    parser.add_argument("--train_dataset", default="", help="training only: ignored")
    parser.add_argument("--eval_dataset", default="", help="training only: ignored")
    parser.add_argument("--predict_data", default="", nargs="+",
                        help="ignored: the problems come from --input_dir")
    parser.add_argument("--max_length", type=int, default=512,
                        help="maximum length of prompt + generated tokens")
    parser.add_argument("--remote_save_url", default="", help="OBS url of the AICC platform")
    parser.add_argument("--vocab_file", default=None, help="Llama3 tokenizer.model")
    parser.add_argument("--dp", type=int, default=None, help="data parallel")
    parser.add_argument("--mp", type=int, default=None, help="model parallel")
    parser.add_argument("--pp", type=int, default=None, help="pipeline stages")
    parser.add_argument("--micro_batch_num", type=int, default=None, help="micro batches")
    # The entry's own.
    parser.add_argument("--input_dir", required=True,
                        help="the test problems: a JSON array of {\"problem\", \"solution\"} objects "
                             "(or JSON Lines)")
    parser.add_argument("--batch_size", type=int, default=BATCH_SIZE,
                        help="problems per prediction batch (the entry used 4)")
    parser.add_argument("--result_file", default=RESULT_FILE,
                        help="where np.save writes the results (default: result_npy.npy)")
    return parser


def math_prompt(problem: str) -> str:
    """The prompt the entry wraps around each problem."""
    return MATH_PROMPT_PREFIX + problem + MATH_PROMPT_SUFFIX


def _record_problem(record: Any, where: str) -> str:
    if not isinstance(record, dict):
        raise InputFileError(f"{where}: expected an object with a string field 'problem', "
                             f"got {type(record).__name__}")
    if not isinstance(record.get("problem"), str):
        found = "missing" if "problem" not in record else type(record["problem"]).__name__
        raise InputFileError(f"{where}: field 'problem' must be a string ({found})")
    return record["problem"]


def read_problems(path: str) -> list[str]:
    """The ``problem`` of every record of a JSON array or a JSON Lines file, in order."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise InputFileError(f"{path}: file not found") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise InputFileError(f"{path}:{line}: invalid UTF-8") from None
    if text.startswith("\ufeff"):
        raise InputFileError(f"{path}:1: UTF-8 byte-order mark; expected plain UTF-8")
    problems = _read_array(path, text) if text.lstrip().startswith("[") else _read_lines(path, text)
    if not problems:
        raise InputFileError(f"{path}: no problems in the file")
    return problems


def _read_array(path: str, text: str) -> list[str]:
    """A JSON array, each item reported with its line and 1-based position."""
    decoder = json.JSONDecoder()
    problems: list[str] = []
    at = text.index("[") + 1
    while True:
        at = _skip_blank(text, at)
        if text.startswith("]", at) and not problems:
            return problems  # empty array: read_problems reports it
        line = text.count("\n", 0, at) + 1
        try:
            record, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            raise InputFileError(f"{path}:{exc.lineno}: item {len(problems) + 1}: not JSON "
                                 f"({exc.msg})") from None
        problems.append(_record_problem(record, f"{path}:{line}: item {len(problems) + 1}"))
        at = _skip_blank(text, at)
        if text.startswith(",", at):
            at += 1
        elif text.startswith("]", at) and not text[at + 1:].strip():
            return problems
        else:
            line = text.count("\n", 0, at) + 1
            raise InputFileError(f"{path}:{line}: after item {len(problems)}: expected ',' or a "
                                 "final ']'")


def _skip_blank(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    return at


def _read_lines(path: str, text: str) -> list[str]:
    """JSON Lines; blank lines are not allowed (they would shift the results)."""
    problems = []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        where = f"{path}:{number}"
        if not line.strip():
            raise InputFileError(f"{where}: empty line, expected a JSON object")
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputFileError(f"{where}: not JSON ({exc.msg})") from None
        problems.append(_record_problem(record, where))
    return problems


def batches(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive batches of exactly ``size`` items, in order.

    The pipeline needs a multiple of the network's batch size, so a short last batch is filled up
    by repeating its last item; :func:`main` drops the results of those fillers.
    """
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    for start in range(0, len(items), size):
        batch = list(items[start:start + size])
        yield batch + [batch[-1]] * (size - len(batch))


def texts_of(output: Any) -> list[str]:
    """Every generation text of what the pipeline returned, in order."""
    texts: list[str] = []
    for item in output if isinstance(output, (list, tuple)) else [output]:
        if isinstance(item, dict) and TEXT_KEY in item:
            value = item[TEXT_KEY]
            texts.extend([value] if isinstance(value, str) else list(value))
        elif isinstance(item, str):
            texts.append(item)
        else:
            raise TypeError(f"unexpected prediction result {type(item).__name__}: {item!r:.200}")
    return texts


def result_list(output: Any, problems: int, batch_size: int) -> list[dict[str, list[str]]]:
    """The pipeline's result list, one dict per batch, without the fillers of the last batch."""
    texts = texts_of(output)
    padded = -(-problems // batch_size) * batch_size
    if len(texts) != padded:
        raise RuntimeError(f"{padded} prompts gave {len(texts)} results")
    texts = texts[:problems]
    return [{TEXT_KEY: texts[i:i + batch_size]} for i in range(0, problems, batch_size)]


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


class PromptTooLongError(ValueError):
    """A prompt that cannot be predicted within the tokenizer's ``model_max_length``."""


def fit_seq_length(config, prompt_lengths: Sequence[int], input_path: str) -> int:
    """Raise the yaml's ``seq_length`` to the longest prompt + ``max_new_tokens``; the new length.

    r1.1 writes position ``prompt + k`` for ``k < max_new_tokens`` into a ``seq_length`` buffer;
    with ``use_past`` the buffer is cut in blocks of ``block_size``, so the length is rounded up to
    a multiple of it. Beyond ``model_max_length`` the item is refused.
    """
    model = config.model.model_config
    seq_length = int(model.seq_length)
    new_tokens = model.get("max_new_tokens")
    if not new_tokens:  # without it r1.1 clamps max_length to seq_length: no overflow
        return seq_length
    limit = int(config.processor.tokenizer.get("model_max_length") or 8192)
    too_long = [i for i, n in enumerate(prompt_lengths) if n + new_tokens > limit]
    if too_long:
        first = too_long[0]
        raise PromptTooLongError(
            f"{input_path}: item {first + 1}: its prompt is {prompt_lengths[first]} tokens, which with "
            f"max_new_tokens {new_tokens} exceeds the tokenizer's model_max_length {limit} "
            f"({len(too_long)} such item(s)); expected prompts of at most {limit - new_tokens} tokens")
    longest = max(prompt_lengths)
    needed = longest + int(new_tokens)
    if needed <= seq_length:
        return seq_length
    block = int(model.get("block_size") or 1) if model.get("use_past") else 1
    fitted = -(-needed // block) * block
    item = prompt_lengths.index(longest) + 1
    warn(f"seq_length {seq_length} -> {fitted}: item {item} of {input_path} has a prompt of {longest} "
         f"tokens and max_new_tokens is {new_tokens} (r1.1 would write past a {seq_length}-position "
         "buffer)")
    model.seq_length = fitted
    return fitted


def warn(message: str) -> None:
    print(f"run_llama3_test.py: warning: {message}", file=sys.stderr)


def load_config(args: argparse.Namespace):
    """The MindFormers config with the command-line overrides applied as run_llama3.py applies them."""
    from mindformers import MindFormerConfig

    if not (os.path.isfile(args.config) and args.config.endswith((".yaml", ".yml"))):
        raise ValueError(f"--config {args.config}: expected an existing .yaml or .yml file")
    config = MindFormerConfig(os.path.realpath(args.config))
    if config.output_dir != REQUIRED_OUTPUT_DIR:
        raise ValueError(f"{args.config}: output_dir must be {REQUIRED_OUTPUT_DIR!r}, "
                         f"not {config.output_dir!r}")
    if config.processor is None or config.processor.tokenizer is None:
        raise ValueError(f"{args.config}: no processor.tokenizer block; expected the organisers' "
                         "processor (type LlamaProcessor, tokenizer type Llama3Tokenizer)")
    config.context.mode = args.mode
    if args.mode:
        config.recompute_config.recompute = False
    if args.seq_length is not None:
        config.model.model_config.seq_length = args.seq_length
    if args.use_parallel is not None:
        config.use_parallel = args.use_parallel
    if args.device_id is not None:
        config.context.device_id = args.device_id
    if args.load_checkpoint is not None:
        config.load_checkpoint = args.load_checkpoint
    if args.src_strategy is not None and os.path.exists(args.src_strategy):
        config.src_strategy_path_or_dir = args.src_strategy
    if args.auto_trans_ckpt is not None:
        config.auto_trans_ckpt = args.auto_trans_ckpt
    if args.remote_save_url:
        config.remote_save_url = args.remote_save_url
    if args.vocab_file is not None:
        config.processor.tokenizer.vocab_file = args.vocab_file
    for flag, key in (("dp", "data_parallel"), ("mp", "model_parallel"), ("pp", "pipeline_stage"),
                      ("micro_batch_num", "micro_batch_num")):
        if getattr(args, flag) is not None:
            config.parallel_config[key] = getattr(args, flag)
    # Static shapes: the network is built for the batch it will be fed.
    config.model.model_config.batch_size = args.batch_size
    config.model.model_config.do_sample = False
    return config


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.batch_size < 1:
        raise SystemExit("--batch_size must be at least 1")
    for flag in TRAINING_ONLY:
        if getattr(args, flag):
            warn(f"--{flag} is ignored: this script only predicts the problems of --input_dir")
    # Bad input fails here, before minutes of model loading.
    problems = read_problems(args.input_dir)
    prompts = [math_prompt(problem) for problem in problems]
    print(f"predicting {len(prompts)} problems of {args.input_dir} in batches of {args.batch_size}")

    # Heavy imports only now: the contest environment has them, a test machine need not.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from mindformers import Trainer
    from mindformers.core.context import build_context

    import llama3_tokenizer  # research/llama3: registers Llama3Tokenizer

    config = load_config(args)
    tokenizer = llama3_tokenizer.Llama3Tokenizer(vocab_file=config.processor.tokenizer.vocab_file)
    fit_seq_length(config, [len(tokenizer(prompt)["input_ids"]) for prompt in prompts], args.input_dir)
    build_context(config)
    trainer = Trainer(args=config, task=args.task)
    # One call: the pipeline loads the weights once and predicts ``batch_size`` prompts at a time;
    # the batches are filled up front so every batch has the shape the network was built for.
    padded = [prompt for batch in batches(prompts, args.batch_size) for prompt in batch]
    output = trainer.predict(input_data=padded, predict_checkpoint=config.load_checkpoint,
                             auto_trans_ckpt=config.auto_trans_ckpt, batch_size=args.batch_size,
                             max_length=args.max_length)
    results = result_list(output, len(prompts), args.batch_size)
    save_results(results, args.result_file)
    print(f"saved {len(prompts)} results in {len(results)} batches to {args.result_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
