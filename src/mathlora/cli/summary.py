"""Per-model summary: ratio, math accuracy, SQuAD F1/EM pass/fail, composite, best checkpoint.

``mathlora summary``: the arguments, read into calls of :mod:`mathlora.evaluate.summary`.
"""

from __future__ import annotations

import argparse

from mathlora.cli.arguments import add_settings_arguments, settings_from_arguments
from mathlora.evaluate.summary import (
    BASE,
    by_model,
    claimed_numbers,
    contamination_counts,
    format_table,
    plot_trajectory,
    summarise,
    thresholds,
)
from mathlora.settings import ThresholdSettings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", required=True, help="params.json (official_ratio)")
    parser.add_argument("--math", nargs="+", required=True,
                        help="math.json of each model on the test set (every number reported)")
    parser.add_argument("--dev", nargs="+",
                        help="math.json of each model on the development set (the choice reads "
                             "only these); without it the choice reads --math, as a judge's does")
    parser.add_argument("--squad", nargs="+", required=True, help="squad.json of each model")
    add_settings_arguments(parser, ThresholdSettings)
    parser.add_argument("--diagnostic", nargs="+",
                        help="math.json of each model under the fine-tuning template")
    parser.add_argument("--contamination", nargs="+",
                        help="contamination.json of each held-out set: its counts go into the summary")
    parser.add_argument("--claimed", help="the judged submission's own summary.json: its "
                                          "self-measured numbers are shown beside these")
    parser.add_argument("--plot", help="trajectory chart to write (accuracy and SQuAD F1 per model)")
    parser.add_argument("--out", required=True, help="summary.json to write")


def main(args: argparse.Namespace) -> int:
    from mathlora.artifacts import write_artifact
    from mathlora.model.params import read_params

    ratio = read_params(args.params)["ratio"]
    math = by_model(args.math, "math")
    squad = by_model(args.squad, "squad")
    marks = settings_from_arguments(args, ThresholdSettings)
    limits = thresholds(marks.thresholds, relative=marks.relative, fixed_f1=marks.fixed["f1"],
                        fixed_em=marks.fixed["em"], base=squad.get(BASE))
    diagnostic = by_model(args.diagnostic, "math") if args.diagnostic else None
    dev = by_model(args.dev, "math") if args.dev else None
    summary = summarise(ratio, math, squad, limits, diagnostic, dev)
    if args.contamination:
        summary["contamination"] = [contamination_counts(path) for path in args.contamination]
    if args.claimed:
        summary["claimed"] = claimed_numbers(args.claimed)
    write_artifact(args.out, "summary", summary)
    if args.plot:
        plot_trajectory(summary, args.plot)
    print(format_table(summary))
    return 0
