"""Per-model summary: ratio, math accuracy, SQuAD F1/EM pass/fail, composite, best checkpoint.

Reads the params report (the low-parameter ratio, trainable / 8.03e9), one ``math.json`` and one
``squad.json`` per model (base, ckpt1..N; names are taken from the reports). SQuAD passes when
both F1 and EM reach the thresholds: ``relative`` = ``relative`` x the base model's own scores
from the same graph (default 0.9), ``fixed`` = the contest's marks (F1 53.883, EM 39.753). The
composite is ``(1 - ratio) * 0.3 + accuracy * 0.7``; the base model trains nothing (ratio 0) and
is shown as the reference point, never chosen.

Choice and report read different items. With ``--dev`` (one math report per model on the
development set), the best valid checkpoint is the one with the highest composite *on dev* among
those that pass SQuAD (the earliest on a tie), and every reported accuracy, interval and composite
is the test set's (``--math``), which nothing chose on; the optimism, dev minus test accuracy of
the chosen checkpoint, gets a paired bootstrap interval that redoes the choice on every resample.
Without ``--dev`` (a judge's hidden set) the choice reads the test set, as the organisers' does,
and ``chosen_on`` says so; ``--claimed`` (the submission's own summary) puts its self-measured
numbers beside the judge's. ``null`` best when no checkpoint passes.

Each checkpoint is also compared with the base and with the best checkpoint on the same test items
(an exact McNemar test of the items one gets right and the other wrong), and, given the math
reports of the fine-tuning template (``--diagnostic``), its accuracy under that prompt is shown
beside the entry's: the entry trained with one template and predicted with another.
"""

from __future__ import annotations

from pathlib import Path

from mathlora.errors import ConfigError, InputError
from mathlora.evaluate.score import composite
from mathlora.evaluate.stats import mcnemar_exact

BASE = "base"
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20240705


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


def interval(report: dict) -> list[float]:
    return report["modes"][report["primary_mode"]]["ci95"]


def correctness(reports: dict[str, dict], names: list[str], split: str):
    """Right/wrong of each named model on each item, as a (models, items) boolean matrix."""
    import numpy as np

    first = reports[names[0]]
    items = sorted(set(first["correct_ids"]) | {f["id"] for f in first["failures"]})
    for name in names:
        report = reports[name]
        ids = set(report["correct_ids"]) | {f["id"] for f in report["failures"]}
        if len(ids) != report["n"] or ids != set(items):
            raise ConfigError(f"{split} math report of {name}: its {report['n']} items are not "
                              f"those of {names[0]}; every model must be scored on the same items")
    at = {item: i for i, item in enumerate(items)}
    matrix = np.zeros((len(names), len(items)), dtype=bool)
    for row, name in enumerate(names):
        matrix[row, [at[item] for item in reports[name]["correct_ids"]]] = True
    return matrix


def optimism(chosen: str, valid: list[str], dev: dict[str, dict], test: dict[str, dict],
             resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> dict:
    """Dev minus test accuracy of the checkpoint chosen on dev, with a 95 % percentile interval from
    a paired bootstrap: dev and test items are resampled (the same items for every model), the
    choice is made again on the resampled dev set, and the chosen one's difference recorded."""
    import numpy as np

    dev_right, test_right = correctness(dev, valid, "dev"), correctness(test, valid, "test")
    rng = np.random.default_rng(seed)
    dev_idx = rng.integers(0, dev_right.shape[1], size=(resamples, dev_right.shape[1]))
    test_idx = rng.integers(0, test_right.shape[1], size=(resamples, test_right.shape[1]))
    dev_acc = dev_right[:, dev_idx].mean(axis=2)     # (models, resamples)
    test_acc = test_right[:, test_idx].mean(axis=2)
    pick = dev_acc.argmax(axis=0)                     # argmax keeps the first (earliest) on ties
    columns = np.arange(resamples)
    gaps = dev_acc[pick, columns] - test_acc[pick, columns]
    low, high = np.percentile(gaps, [2.5, 97.5])
    dev_of, test_of = dev[chosen]["accuracy"], test[chosen]["accuracy"]
    return {"model": chosen, "dev": dev_of, "test": test_of, "difference": dev_of - test_of,
            "ci95": [float(low), float(high)], "resamples": resamples, "seed": seed}


def summarise(ratio: float, math: dict[str, dict], squad: dict[str, dict], limits: dict,
              diagnostic: dict[str, dict] | None = None, dev: dict[str, dict] | None = None) -> dict:
    """``math``: the test set's reports (everything reported); ``dev``: the development set's (the
    choice), or None to choose on ``math`` as a judge does."""
    if set(math) != set(squad):
        raise ConfigError(f"math reports for {sorted(math)} but SQuAD reports for {sorted(squad)}: "
                          "each model needs both")
    for label, extra in (("fine-tuning-template", diagnostic), ("development-set", dev)):
        if extra is not None and set(extra) != set(math):
            raise ConfigError(f"{label} reports for {sorted(extra)} but math reports "
                              f"for {sorted(math)}: each model needs both")
    chosen_on = dev if dev is not None else math
    rows = []
    for name in sorted(math, key=_order):
        m, s = math[name], squad[name]
        model_ratio = 0.0 if name == BASE else ratio
        passed = s["f1"] >= limits["f1"] and s["em"] >= limits["em"]
        row = {"model": name, "ratio": model_ratio, "accuracy": m["accuracy"],
               "accuracy_ci95": interval(m),
               "last_number_accuracy": m["modes"]["last_number"]["accuracy"],
               "f1": s["f1"], "em": s["em"], "squad_pass": passed,
               "score": composite(m["accuracy"], model_ratio), "paired": []}
        if dev is not None:
            row["dev"] = {"accuracy": dev[name]["accuracy"], "ci95": interval(dev[name]),
                          "score": composite(dev[name]["accuracy"], model_ratio)}
        if diagnostic is not None:
            d = diagnostic[name]
            row["finetune_prompt"] = {"accuracy": d["accuracy"], "ci95": interval(d)}
        rows.append(row)
    candidates = [r for r in rows if r["model"] != BASE and r["squad_pass"]]
    # max keeps the first on ties; the key reads the choosing split only
    best = max(candidates, key=lambda r: composite(chosen_on[r["model"]]["accuracy"], r["ratio"]),
               default=None)
    for row in rows:
        if row["model"] == BASE:
            continue
        others = [other for other in (BASE, best["model"] if best else None)
                  if other in math and other != row["model"]]
        row["paired"] = [paired(math[row["model"]], math[other]) for other in others]
        if BASE in math:
            row["above_base"] = row["accuracy_ci95"][0] > interval(math[BASE])[1]
    return {"thresholds": limits, "models": rows, "chosen_on": "dev" if dev is not None else "test",
            "best": best["model"] if best else None,
            "best_score": best["score"] if best else None,
            "optimism": (optimism(best["model"], [r["model"] for r in candidates], dev, math)
                         if best and dev is not None else None)}


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
    lines = [f"{'model':<8}{'ratio':>12}{'dev':>8}{'test':>8}{'95% CI':>16}{'template':>10}{'F1':>9}"
             f"{'EM':>9}  {'SQuAD':<6}{'score':>13}  vs base (McNemar p)"]
    for r in summary["models"]:
        lo, hi = r["accuracy_ci95"]
        template = f"{r['finetune_prompt']['accuracy']:>10.4f}" if "finetune_prompt" in r else f"{'-':>10}"
        versus = next((f"+{p['only_this']}/-{p['only_other']} p={p['p']:.3g}" for p in r["paired"]
                       if p["model"] == BASE), "")
        dev = f"{r['dev']['accuracy']:>8.4f}" if "dev" in r else f"{'-':>8}"
        lines.append(f"{r['model']:<8}{r['ratio']:>12.9f}{dev}{r['accuracy']:>8.4f}"
                     f"{f'[{lo:.3f}, {hi:.3f}]':>16}{template}{r['f1']:>9.3f}"
                     f"{r['em']:>9.3f}  {'pass' if r['squad_pass'] else 'FAIL':<6}{r['score']:>13.9f}  {versus}")
    t = summary["thresholds"]
    lines.append(f"SQuAD thresholds ({t['mode']}): F1 >= {t['f1']:.3f}, EM >= {t['em']:.3f}")
    lines.append(f"best valid checkpoint, chosen on {summary['chosen_on']}: "
                 f"{summary['best'] or 'none passes'}")
    claim = summary.get("claimed")
    if claim and claim["best"] in claim["models"]:
        own = claim["models"][claim["best"]]
        judged = next((r["accuracy"] for r in summary["models"] if r["model"] == claim["best"]), None)
        lines.append(f"the submission's own choice {claim['best']} (on {claim['chosen_on']}): "
                     + (f"dev {own['dev']:.4f}, " if own["dev"] is not None else "")
                     + f"its test {own['test']:.4f}; here {judged if judged is None else f'{judged:.4f}'}")
    if summary["optimism"]:
        o = summary["optimism"]
        lo, hi = o["ci95"]
        lines.append(f"its dev accuracy {o['dev']:.4f}, test {o['test']:.4f}: optimism "
                     f"{o['difference']:+.4f} [{lo:+.3f}, {hi:+.3f}] (paired bootstrap)")
    return "\n".join(lines)


def contamination_counts(path: str | Path) -> dict:
    found = read_json(path, "contamination")
    corpus = found.get("base_corpus")
    return {"test": found["test"], "exact": found["exact"]["count"],
            "normalised": found["normalised"]["count"],
            "base_corpus": None if corpus is None else {
                "operand_pairs": corpus["operand_pairs"]["count"], "texts": corpus["texts"]["count"]}}


def claimed_numbers(path: str | Path) -> dict:
    """What a submission measured itself (its own summary.json): its choice and accuracies."""
    own = read_json(path, "summary")
    return {"path": str(path), "chosen_on": own["chosen_on"], "best": own["best"],
            "models": {r["model"]: {"dev": r["dev"]["accuracy"] if "dev" in r else None,
                                    "test": r["accuracy"]} for r in own["models"]}}


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
