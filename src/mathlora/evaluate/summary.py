"""Per-model summary: ratio, math accuracy, SQuAD F1/EM pass/fail, composite, best checkpoint.

Reads the params report (the low-parameter ratio, trainable / 8.03e9), one ``math.json`` and one
``squad.json`` per model (base, ckpt1..N; names are taken from the reports). SQuAD passes when
both F1 and EM reach the thresholds: ``relative`` = ``relative`` x the base model's own scores
from the same graph (default 0.9), ``fixed`` = the contest's marks (F1 53.883, EM 39.753). The
composite is ``(1 - ratio) * 0.3 + accuracy * 0.7``; the base model trains nothing (ratio 0) and
is shown as the reference point, never chosen. The best valid checkpoint is the one with the
highest composite among those that pass (the earliest on a tie); ``null`` when none passes.

Each checkpoint is also compared with the base and with the best checkpoint on the same test items
(an exact McNemar test of the items one gets right and the other wrong), and, given the math
reports of the fine-tuning template (``--diagnostic``), its accuracy under that prompt is shown
beside the entry's: the entry trained with one template and predicted with another.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mathlora.contest import SQUAD_FIXED_EM, SQUAD_FIXED_F1, SQUAD_RELATIVE
from mathlora.errors import ConfigError, InputError
from mathlora.evaluate.score import composite
from mathlora.evaluate.stats import mcnemar_exact

BASE = "base"


def read_json(path: str | Path, kind: str) -> dict:
    from mathlora.artifacts import read_artifact

    return read_artifact(path, kind)


def thresholds(mode: str, *, relative: float, fixed_f1: float, fixed_em: float,
               base: dict | None) -> dict:
    if mode == "fixed":
        return {"mode": "fixed", "f1": fixed_f1, "em": fixed_em}
    if mode != "relative":
        raise ConfigError(f"thresholds must be 'relative' or 'fixed', not {mode!r}")
    if base is None:
        raise ConfigError("relative SQuAD thresholds need the base model's squad.json "
                          "(a report whose model is 'base')")
    return {"mode": "relative", "relative": relative, "f1": relative * base["f1"],
            "em": relative * base["em"]}


def _order(name: str) -> tuple[int, int]:
    if name == BASE:
        return (0, 0)
    digits = name.removeprefix("ckpt")
    return (1, int(digits)) if digits.isdigit() else (2, 0)


def paired(this: dict, other: dict) -> dict:
    """Exact McNemar comparison of two math reports on the same test items."""
    if this["n"] != other["n"] or this["prompt"] != other["prompt"]:
        raise ConfigError(f"cannot pair {this['model']} ({this['n']} items, {this['prompt']} prompt) "
                          f"with {other['model']} ({other['n']} items, {other['prompt']} prompt)")
    mine, theirs = set(this["correct_ids"]), set(other["correct_ids"])
    only_this, only_other = len(mine - theirs), len(theirs - mine)
    return {"model": other["model"], "only_this": only_this, "only_other": only_other,
            "p": mcnemar_exact(only_this, only_other)}


def summarise(ratio: float, math: dict[str, dict], squad: dict[str, dict], limits: dict,
              diagnostic: dict[str, dict] | None = None) -> dict:
    if set(math) != set(squad):
        raise ConfigError(f"math reports for {sorted(math)} but SQuAD reports for {sorted(squad)}: "
                          "each model needs both")
    if diagnostic is not None and set(diagnostic) != set(math):
        raise ConfigError(f"fine-tuning-template reports for {sorted(diagnostic)} but math reports "
                          f"for {sorted(math)}: each model needs both")
    rows = []
    for name in sorted(math, key=_order):
        m, s = math[name], squad[name]
        model_ratio = 0.0 if name == BASE else ratio
        passed = s["f1"] >= limits["f1"] and s["em"] >= limits["em"]
        row = {"model": name, "ratio": model_ratio, "accuracy": m["accuracy"],
               "accuracy_ci95": m["modes"][m["primary_mode"]]["ci95"],
               "last_number_accuracy": m["modes"]["last_number"]["accuracy"],
               "f1": s["f1"], "em": s["em"], "squad_pass": passed,
               "score": composite(m["accuracy"], model_ratio), "paired": []}
        if diagnostic is not None:
            d = diagnostic[name]
            row["finetune_prompt"] = {"accuracy": d["accuracy"],
                                      "ci95": d["modes"][d["primary_mode"]]["ci95"]}
        rows.append(row)
    candidates = [r for r in rows if r["model"] != BASE and r["squad_pass"]]
    best = max(candidates, key=lambda r: r["score"], default=None)  # max keeps the first on ties
    for row in rows:
        if row["model"] == BASE:
            continue
        others = [other for other in (BASE, best["model"] if best else None)
                  if other in math and other != row["model"]]
        row["paired"] = [paired(math[row["model"]], math[other]) for other in others]
        if BASE in math:
            row["above_base"] = row["accuracy_ci95"][0] > math[BASE]["modes"][
                math[BASE]["primary_mode"]]["ci95"][1]
    return {"thresholds": limits, "models": rows, "best": best["model"] if best else None,
            "best_score": best["score"] if best else None}


def plot_trajectory(summary: dict, path: str | Path) -> None:
    """Math accuracy (the inference prompt, and the fine-tuning template when known) and SQuAD F1 per
    model, base first, with 95 % intervals; the SQuAD F1 mark as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mathlora.artifacts import atomic_output

    rows = summary["models"]
    x = list(range(len(rows)))
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5), dpi=100)
    series = [("inference prompt", "accuracy", "accuracy_ci95")]
    if all("finetune_prompt" in r for r in rows):
        series.append(("fine-tuning template", None, None))
    for label, key, ci in series:
        if key is None:
            values = [r["finetune_prompt"]["accuracy"] for r in rows]
            bounds = [r["finetune_prompt"]["ci95"] for r in rows]
        else:
            values, bounds = [r[key] for r in rows], [r[ci] for r in rows]
        left.errorbar(x, values, yerr=[[v - b[0] for v, b in zip(values, bounds)],
                                       [b[1] - v for v, b in zip(values, bounds)]],
                      marker="o", capsize=3, label=label)
    left.set_ylim(0, 1)
    left.set_ylabel("math accuracy (95 % interval)")
    left.legend(loc="upper left", fontsize=8)
    right.plot(x, [r["f1"] for r in rows], marker="o", label="F1")
    right.plot(x, [r["em"] for r in rows], marker="s", label="EM")
    right.axhline(summary["thresholds"]["f1"], color="grey", ls=":", lw=1, label="F1 mark")
    right.set_ylabel("SQuAD")
    right.legend(loc="lower left", fontsize=8)
    for ax in (left, right):
        ax.set_xticks(x, [r["model"] for r in rows])
    fig.suptitle("checkpoints against the base")
    fig.tight_layout()
    with atomic_output(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)


def format_table(summary: dict) -> str:
    lines = [f"{'model':<8}{'ratio':>12}{'accuracy':>10}{'95% CI':>16}{'template':>10}{'F1':>9}"
             f"{'EM':>9}  {'SQuAD':<6}{'score':>13}  vs base (McNemar p)"]
    for r in summary["models"]:
        lo, hi = r["accuracy_ci95"]
        template = f"{r['finetune_prompt']['accuracy']:>10.4f}" if "finetune_prompt" in r else f"{'-':>10}"
        versus = next((f"+{p['only_this']}/-{p['only_other']} p={p['p']:.3g}" for p in r["paired"]
                       if p["model"] == BASE), "")
        lines.append(f"{r['model']:<8}{r['ratio']:>12.9f}{r['accuracy']:>10.4f}"
                     f"{f'[{lo:.3f}, {hi:.3f}]':>16}{template}{r['f1']:>9.3f}"
                     f"{r['em']:>9.3f}  {'pass' if r['squad_pass'] else 'FAIL':<6}{r['score']:>13.9f}  {versus}")
    t = summary["thresholds"]
    lines.append(f"SQuAD thresholds ({t['mode']}): F1 >= {t['f1']:.3f}, EM >= {t['em']:.3f}")
    lines.append(f"best valid checkpoint: {summary['best'] or 'none passes'}")
    return "\n".join(lines)


def add_threshold_arguments(parser: argparse.ArgumentParser) -> None:
    """The SQuAD pass/fail options of ``mathlora summary``."""
    parser.add_argument("--thresholds", choices=("relative", "fixed"), default="relative",
                        help="relative: a share of the base model's own F1/EM; fixed: the "
                             "contest's marks (default %(default)s)")
    parser.add_argument("--relative", type=float, default=SQUAD_RELATIVE,
                        help="share of the base model's F1/EM to keep (default %(default)s)")
    parser.add_argument("--fixed-f1", type=float, default=SQUAD_FIXED_F1,
                        help="contest F1 mark (default %(default)s)")
    parser.add_argument("--fixed-em", type=float, default=SQUAD_FIXED_EM,
                        help="contest EM mark (default %(default)s)")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", required=True, help="params.json (official_ratio)")
    parser.add_argument("--math", nargs="+", required=True, help="math.json of each model")
    parser.add_argument("--squad", nargs="+", required=True, help="squad.json of each model")
    add_threshold_arguments(parser)
    parser.add_argument("--diagnostic", nargs="+",
                        help="math.json of each model under the fine-tuning template")
    parser.add_argument("--contamination", help="contamination.json: its counts go into the summary")
    parser.add_argument("--plot", help="trajectory chart to write (accuracy and SQuAD F1 per model)")
    parser.add_argument("--out", required=True, help="summary.json to write")


def by_model(paths: list[str | Path], kind: str) -> dict[str, dict]:
    """Reports keyed by the model they name (base, ckpt1, ...); a model twice is an error."""
    reports: dict[str, dict] = {}
    for path in paths:
        report = read_json(path, kind)
        if report["model"] in reports:
            raise InputError(path, f"second {kind} report for model {report['model']!r}",
                             field="model")
        reports[report["model"]] = report
    return reports


def main(args: argparse.Namespace) -> int:
    from mathlora.artifacts import write_artifact
    from mathlora.model.params import read_params

    ratio = read_params(args.params)["ratio"]
    math = by_model(args.math, "math")
    squad = by_model(args.squad, "squad")
    limits = thresholds(args.thresholds, relative=args.relative, fixed_f1=args.fixed_f1,
                        fixed_em=args.fixed_em, base=squad.get(BASE))
    diagnostic = by_model(args.diagnostic, "math") if args.diagnostic else None
    summary = summarise(ratio, math, squad, limits, diagnostic)
    if args.contamination:
        found = read_json(args.contamination, "contamination")
        corpus = found.get("base_corpus")
        summary["contamination"] = {
            "exact": found["exact"]["count"], "normalised": found["normalised"]["count"],
            "base_corpus": None if corpus is None else {
                "operand_pairs": corpus["operand_pairs"]["count"], "texts": corpus["texts"]["count"]}}
    write_artifact(args.out, "summary", summary)
    if args.plot:
        plot_trajectory(summary, args.plot)
    print(format_table(summary))
    return 0
