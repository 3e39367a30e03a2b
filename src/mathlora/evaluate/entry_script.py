"""Run the shipped ``run_llama3_test.py`` here, rescore its ``result_npy.npy``, compare it with ours.

The script runs unchanged through MindFormers in a stand-in of its contest environment
(:mod:`mathlora.standin`), in ``--workdir`` (it writes ``./output`` and its result file there).
Everything after ``--`` is the script's own command line. The result is rescored with the entry's
prompt against the script's input file, and with ``--compare`` each generation text is compared
with the one ``mathlora predict`` saved for the same checkpoint and problems; the report lists every
difference (greedy decoding of the same weights should give none).

``--items N`` runs the script on a fixed, stratified subset of N problems of ``--input_dir`` (the
first of each category in file order, in proportion to the categories' counts), written beside its
result and given to the script in place of the full file; ``--compare`` then reads predict's texts
of those same problems. MindFormers decodes without a cache on the CPU, so the embedded default
checks the script on a subset and the Ascend run on every problem.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mathlora.errors import ConfigError, InputError, MathloraError
from mathlora.evaluate.math_eval import add_rule_arguments, equality_rule
from mathlora.jsonl import read_test_file, write_problems

SHOWN_CHARS = 200  # of each differing text, in the report
# The script's flags that name files: resolved against the caller's folder, since the script runs
# in --workdir (the report keeps them as they were given).
PATH_FLAGS = ("--config", "--load_checkpoint", "--vocab_file", "--input_dir", "--src_strategy")


def with_option(arguments: list[str], flag: str, value: str) -> list[str]:
    """The script's command line with ``--flag``'s value replaced (either spelling)."""
    out = list(arguments)
    for i, item in enumerate(out):
        if item == flag and i + 1 < len(out):
            out[i + 1] = value
        elif item.startswith(flag + "="):
            out[i] = f"{flag}={value}"
    return out


def script_option(arguments: list[str], flag: str, default: str | None = None) -> str | None:
    """The value of ``--flag`` in the script's command line (``--flag value`` or ``--flag=value``)."""
    for i, item in enumerate(arguments):
        if item == flag and i + 1 < len(arguments):
            return arguments[i + 1]
        if item.startswith(flag + "="):
            return item.split("=", 1)[1]
    return default


def resolved(arguments: list[str]) -> list[str]:
    """The script's arguments with every path flag made absolute (``--flag value`` form)."""
    out = []
    for i, item in enumerate(arguments):
        flag, equals, value = item.partition("=")
        if equals and flag in PATH_FLAGS:
            out.append(f"{flag}={Path(value).resolve()}")
        elif i > 0 and arguments[i - 1] in PATH_FLAGS:
            out.append(str(Path(item).resolve()))
        else:
            out.append(item)
    return out


def compare_texts(ours: list[str], theirs: list[str]) -> tuple[int, list[dict]]:
    """(identical count, differences) of two equally long text lists, 1-based indexes."""
    if len(ours) != len(theirs):
        raise MathloraError(f"the script saved {len(theirs)} texts, mathlora predict {len(ours)}: "
                            "expected one per problem in both")
    differing = [{"index": i, "script": t[-SHOWN_CHARS:], "mathlora": o[-SHOWN_CHARS:]}
                 for i, (o, t) in enumerate(zip(ours, theirs), start=1) if o != t]
    return len(ours) - len(differing), differing


def subset(rows: list[dict], size: int) -> list[int]:
    """Positions of a stratified subset of ``size`` rows: the first of each category in file order,
    as many per category as :func:`mathlora.data.split.allocate` gives it."""
    from collections import Counter

    from mathlora.data.categories import category_of
    from mathlora.data.split import allocate

    categories = [category_of(row["problem"]) for row in rows]
    wanted = allocate(Counter(categories), size)
    taken: Counter = Counter()
    chosen = []
    for at, name in enumerate(categories):
        if taken[name] < wanted.get(name, 0):
            taken[name] += 1
            chosen.append(at)
    return chosen


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
    add_rule_arguments(parser)
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
    rule = equality_rule(args.rel_tol, not args.no_round)
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
