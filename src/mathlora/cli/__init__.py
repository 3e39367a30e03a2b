"""The ``mathlora`` command: one subcommand per stage, each a thin call into the package.

Each command is a module of this package: ``configure(parser)`` declares its arguments and
``main(args) -> int | None`` reads them into calls of the stage's library module, which takes
settings and paths, never a Namespace. Command modules are imported only when used, so
``mathlora --help`` and the data stages start without loading MindSpore.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from mathlora import __version__
from mathlora.errors import MathloraError

# name -> (module, one-line help); order is the order of the graph.
COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("mathlora.cli.synth", "generate a train.json in the organisers' format"),
    "prepare": ("mathlora.cli.prepare", "strip templates, drop * and / problems, sample the training set"),
    "split": ("mathlora.cli.split", "draw a held-out test set from lines never sampled"),
    "conversation": ("mathlora.cli.conversation", "write the training conversation JSON"),
    "tokenizer": ("mathlora.cli.tokenizer", "train or inspect a Llama3-format tiktoken tokenizer"),
    "mindrecord": ("mathlora.cli.mindrecord", "tokenize conversations into a MindRecord file"),
    "render-yaml": ("mathlora.cli.render_yaml", "render the MindFormers yaml for a config"),
    "world": ("mathlora.cli.world", "write the tiny base model's pretraining corpus"),
    "base": ("mathlora.cli.base", "pretrain the tiny base model (embedded default)"),
    "finetune": ("mathlora.cli.finetune", "LoRA fine-tuning through the MindFormers Trainer"),
    "merge": ("mathlora.cli.merge", "unify shards and merge LoRA into full weights"),
    "params": ("mathlora.cli.params", "count trainable and total parameters of the real network"),
    "score": ("mathlora.cli.score", "the contest's composite score"),
    "predict": ("mathlora.cli.predict", "greedy predictions with the entry's prompt"),
    "math": ("mathlora.cli.math_eval", "math accuracy with answer extraction and intervals"),
    "squad": ("mathlora.cli.squad", "SQuAD F1/EM original-ability check"),
    "evaluate": ("mathlora.cli.evaluate", "one model's predictions on each set and SQuAD, loaded once"),
    "summary": ("mathlora.cli.summary", "per-checkpoint scores and the best checkpoint"),
    "rescore": ("mathlora.cli.rescore", "rescore a saved result_npy.npy without a model"),
    "contamination": ("mathlora.cli.contamination", "test problems in the training data or the base's corpus"),
    "entry-script": ("mathlora.cli.entry_script", "run the shipped run_llama3_test.py here and compare"),
    "unpack": ("mathlora.cli.unpack", "safely take the checkpoints out of a submission zip"),
    "full-weights": ("mathlora.cli.full_weights", "full weights of a submitted checkpoint (merging if needed)"),
    "judge": ("mathlora.cli.judge", "re-run the evaluation on a submission"),
    "leaderboard": ("mathlora.cli.leaderboard", "judge a folder of submissions and rank the teams"),
    "report": ("mathlora.cli.report", "write REPORT.md from the graph's artifacts"),
    "bundle": ("mathlora.cli.bundle", "build the submission zip and its manifest"),
    "verify": ("mathlora.cli.verify", "verify a submission zip without extracting it"),
    "export-hf": ("mathlora.cli.export_hf", "export a merged checkpoint to Hugging Face format"),
}


def _top_parser() -> argparse.ArgumentParser:
    width = max(map(len, COMMANDS))
    listing = "\n".join(f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items())
    return argparse.ArgumentParser(
        prog="mathlora",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Rebuild, evaluate and package the Llama3-8B LoRA math entry.",
        epilog=f"commands:\n{listing}\n\nRun 'mathlora <command> --help' for a command's options.",
        usage="mathlora [--version] <command> [options]",
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    top = _top_parser()
    top.add_argument("--version", action="version", version=f"mathlora {__version__}")
    if not argv or argv[0] not in COMMANDS:
        top.add_argument("command", choices=list(COMMANDS), metavar="<command>")
        top.parse_args(argv)  # prints help / usage error and exits
        return 2
    name, rest = argv[0], argv[1:]
    module = importlib.import_module(COMMANDS[name][0])
    parser = argparse.ArgumentParser(prog=f"mathlora {name}", description=module.__doc__.split("\n\n")[0]
                                     if module.__doc__ else COMMANDS[name][1])
    module.configure(parser)
    args = parser.parse_args(rest)
    try:
        return int(module.main(args) or 0)
    except MathloraError as error:
        print(f"mathlora {name}: error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # missing, unreadable or unwritable paths: the user's to fix
        print(f"mathlora {name}: error: {_describe_os_error(error)}", file=sys.stderr)
        return 1


def _describe_os_error(error: OSError) -> str:
    """``<filename>: <strerror>``, else the error's own text.

    A failed rename names its destination: outputs are written to a temporary name and renamed
    into place, so the destination is the path the user gave and the source means nothing to them.
    """
    name = error.filename2 if error.filename2 is not None else error.filename
    if name is None or not error.strerror:
        return str(error)
    return f"{name}: {error.strerror}"

