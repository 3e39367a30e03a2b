"""Run the shipped ``run_llama3_test.py`` here, rescore its ``result_npy.npy``, compare it with ours.

``mathlora entry-script``: the arguments, read into calls of :mod:`mathlora.evaluate.entry_script`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mathlora.cli.arguments import add_settings_arguments, settings_from_arguments
from mathlora.errors import ConfigError, InputError, MathloraError
from mathlora.evaluate.entry_script import compare_texts, resolved, script_option, subset, with_option
from mathlora.evaluate.math_eval import equality_rule
from mathlora.jsonl import read_test_file, write_problems
from mathlora.settings import RuleSettings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--script", default="submission/run_llama3_test.py",
                        help="the predict script to run (default: %(default)s)")
    parser.add_argument("--workdir", required=True,
                        help="working folder of the run (its ./output and result file go here)")
    parser.add_argument("--compare", help="result_npy.npy of mathlora predict on the same checkpoint "
                                          "and problems, to compare the texts with")
    parser.add_argument("--items", type=int, default=0,
                        help="run on a stratified subset of this many problems (default 0: all)")
    parser.add_argument("--out", required=True, help="entry_script.json report to write")
    add_settings_arguments(parser, RuleSettings)
    parser.add_argument("arguments", nargs=argparse.REMAINDER,
                        help="-- then the script's own flags (--config ... --input_dir ...)")


def main(args: argparse.Namespace) -> int:
    from mathlora.artifacts import file_sha256, write_artifact
    from mathlora.evaluate.npy_safe import load_result_batches, load_result_texts
    from mathlora.evaluate.rescore import rescore, rescore_texts
    from mathlora.standin import run_script

    arguments = args.arguments[1:] if args.arguments[:1] == ["--"] else list(args.arguments)
    test = script_option(arguments, "--input_dir")
    if test is None:
        raise ConfigError("the script needs --input_dir after '--' (the test problems)")
    workdir = Path(args.workdir)
    rows = read_test_file(test)
    positions = list(range(len(rows)))
    if 0 < args.items < len(rows):
        positions = subset(rows, args.items)
        test = str(workdir / "input_subset.jsonl")
        write_problems(test, ((rows[at]["problem"], rows[at]["solution"]) for at in positions))
        arguments = with_option(arguments, "--input_dir", test)
    elif args.items < 0:
        raise ConfigError(f"--items: expected a count >= 0, got {args.items}")
    result = workdir / script_option(arguments, "--result_file", "result_npy.npy")
    result.unlink(missing_ok=True)  # a result left by an earlier run must not be taken for this one's
    started = time.monotonic()
    status = run_script(args.script, resolved(arguments), workdir)
    seconds = time.monotonic() - started
    if status != 0:
        raise MathloraError(f"{args.script} exited with status {status}")
    if not result.is_file():
        raise InputError(result, f"{args.script} finished but wrote no result file")
    texts = load_result_texts(result)
    settings = settings_from_arguments(args, RuleSettings)
    rule = equality_rule(settings.rel_tol, settings.round_to_reference)
    scored = rescore(str(result), test, rule)
    compared = None
    if args.compare:
        ours = load_result_texts(args.compare)
        if len(ours) != len(rows):
            raise InputError(args.compare, f"{len(ours)} texts for the {len(rows)} problems of "
                             f"{script_option(arguments, '--input_dir')}: expected one per problem")
        ours = [ours[at] for at in positions]
        identical, differing = compare_texts(ours, texts)
        compared = {"predictions": str(args.compare), "identical": identical, "differing": differing,
                    "accuracy": rescore_texts(ours, read_test_file(test), rule,
                                              source=str(args.compare))["accuracy"]}
    write_artifact(args.out, "entry_script", {
        "script": str(args.script), "script_sha256": file_sha256(args.script),
        "arguments": arguments, "input": test, "result": str(result), "n": len(texts),
        "of": len(rows),
        "batches": len(load_result_batches(result)), "seconds": round(seconds, 3),
        "accuracy": scored["accuracy"], "compared_with": compared})
    line = f"{args.script}: {len(texts)} predictions in {seconds:.1f} s, accuracy {scored['accuracy']:.4f}"
    if compared:
        line += f"; identical to mathlora predict: {compared['identical']}/{len(texts)}"
    print(line)
    return 0
