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

from pathlib import Path

from mathlora.errors import MathloraError

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
