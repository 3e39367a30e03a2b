"""A contest's leaderboard: every team's best valid checkpoint ranked by the contest's rule, with
paired tests between adjacent ranks that say which places differ by more than chance.

Pure Python over judged results (no model, no Snakemake): each :class:`Team` is either refused with
a reason or carries what judging it produced -- the judge's ``summary.json`` (SQuAD F1/EM of every
checkpoint), one math report per model on the hidden items (``correct_ids`` + ``failures``), and
the judge's own ``params.json`` (the network counted, never the team's word); a team that sent only
a ``result_npy.npy`` carries its rescore report and no SQuAD (it is ranked, marked "SQuAD not
judged", since without a checkpoint nobody can check it).

The rule, as the organisers applied it: a checkpoint is valid when its SQuAD F1 and EM both reach
the marks of the judged summary (90 % of the base's); its score is ``(1 - ratio) * 0.3 + accuracy *
0.7`` with the ratio from the judge's parameter count; a team's best valid checkpoint counts (the
earliest on a tie). Places follow the score rounded to the published 9 decimals (equal scores share
a place). For each pair of adjacent places, on the same hidden items: an exact McNemar test of the
items one gets right and the other wrong, and a seeded paired bootstrap 95 % interval of the score
difference. Two adjacent places are *distinguishable* only when both say so (p < 0.05 and an
interval that excludes 0); chains of indistinguishable neighbours form the tie groups.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mathlora.contest import ACCURACY_WEIGHT, RATIO_WEIGHT, SCORE_DECIMALS
from mathlora.evaluate.score import composite
from mathlora.evaluate.stats import mcnemar_exact

BASE = "base"
NPY_MODEL = "result_npy"
ALPHA = 0.05
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20240705
# The organisers' prize tiers are not recorded here; these are the command's defaults (--awards).
DEFAULT_AWARDS = (("first prize", 1), ("second prize", 2), ("third prize", 3))


@dataclass
class Team:
    """One team's judged results, or the reason it was refused."""

    name: str
    source: str = ""
    kind: str = "bundle"                       # "bundle" | "npy"
    refused: str | None = None
    summary: dict | None = None                # the judge's summary.json (bundle teams)
    math: dict[str, dict] = field(default_factory=dict)   # model -> math / rescore report
    params: dict | None = None                 # the judge's params.json (the network counted)
    declared: dict | None = None               # what the team says it trains
    claimed: dict | None = None                # {"model", "accuracy"} the team measured itself
    inputs: list[dict] = field(default_factory=list)      # [{"path", "sha256"}]


def team_key(name: str) -> str:
    """Names that differ only in case, surrounding space or a ``.zip`` suffix are the same team."""
    stem = name.strip()
    if stem.lower().endswith(".zip"):
        stem = stem[:-4]
    return stem.casefold()


def rounded(score: float) -> float:
    return round(score, SCORE_DECIMALS)


def item_ids(report: dict) -> set[str]:
    return set(report["correct_ids"]) | {f["id"] for f in report["failures"]}


def _natural(name: str) -> tuple[int, str]:
    digits = name.removeprefix("ckpt")
    return (int(digits), "") if digits.isdigit() else (1 << 30, name)


def claimed_from_summary(summary: dict) -> dict | None:
    """The team's own choice and its self-measured test accuracy (a judged summary's ``claimed``)."""
    claim = summary.get("claimed")
    if not claim or claim.get("best") not in claim.get("models", {}):
        return None
    return {"model": claim["best"], "accuracy": claim["models"][claim["best"]]["test"]}


def _declared_problem(team: Team) -> str | None:
    if team.params is None:
        return "no parameter count of the network (params.json) was made"
    if team.declared is None:
        return None
    counted = team.params["trainable_parameters"]
    stated = team.declared.get("trainable_parameters")
    if stated is not None and stated != counted:
        return (f"declared {stated:,} trainable parameters, but the network of its checkpoint "
                f"has {counted:,}")
    return None


def best_entry(team: Team) -> dict | str:
    """The team's counted row (its best valid checkpoint), or why it has none."""
    problem = _declared_problem(team)
    if problem:
        return problem
    ratio = team.params["official_ratio"]
    trainable = team.params["trainable_parameters"]
    if team.kind == "npy":
        report = team.math.get(NPY_MODEL)
        if report is None:
            return "no rescored result_npy.npy"
        row = _row(team, NPY_MODEL, report, ratio, trainable, f1=None, em=None, squad="not judged")
        if team.claimed:
            row["claimed"] = {**team.claimed, "judged_accuracy": report["accuracy"]}
        return row
    if team.summary is None:
        return "no judged summary"
    marks = team.summary["thresholds"]
    candidates = []
    for row in team.summary["models"]:
        name = row["model"]
        if name == BASE or name not in team.math:
            continue
        if row["f1"] >= marks["f1"] and row["em"] >= marks["em"]:
            candidates.append(_row(team, name, team.math[name], ratio, trainable,
                                   f1=row["f1"], em=row["em"], squad="pass"))
    if not candidates:
        return (f"no checkpoint keeps SQuAD at the marks (F1 >= {marks['f1']:.3f}, "
                f"EM >= {marks['em']:.3f})")
    candidates.sort(key=lambda r: _natural(r["model"]))
    best = max(candidates, key=lambda r: rounded(r["score"]))  # max keeps the earliest on ties
    claim = team.claimed or claimed_from_summary(team.summary)
    if claim:
        judged = team.math.get(claim["model"])
        best["claimed"] = {**claim, "judged_accuracy": judged["accuracy"] if judged else None}
    return best


def _row(team: Team, model: str, report: dict, ratio: float, trainable: int, *, f1, em,
         squad: str) -> dict:
    mode = report["primary_mode"]
    return {
        "team": team.name, "status": "ranked", "rank": None, "tie_group": None, "reason": None,
        "kind": team.kind, "source": team.source, "model": model,
        "accuracy": report["accuracy"], "accuracy_ci95": report["modes"][mode]["ci95"],
        "trainable_parameters": trainable, "ratio": ratio,
        "score": rounded(composite(report["accuracy"], ratio)),
        "f1": f1, "em": em, "squad": squad, "n": report["n"],
        "claimed": None,
        "categories": {name: {"n": c["n"], "accuracy": c[mode]["accuracy"]}
                       for name, c in sorted(report["categories"].items())},
        "inputs": team.inputs,
    }


def refused_row(team: Team, reason: str) -> dict:
    return {"team": team.name, "status": "refused", "rank": None, "tie_group": None,
            "reason": reason, "kind": team.kind, "source": team.source, "inputs": team.inputs}


def adjacent_test(upper: dict, lower: dict, right: dict[str, set[str]], items: list[str], *,
                  resamples: int, seed: int, alpha: float) -> dict:
    """McNemar and a paired bootstrap of the score difference (upper minus lower) on the same items."""
    import numpy as np

    mine, theirs = right[upper["team"]], right[lower["team"]]
    only_upper, only_lower = len(mine - theirs), len(theirs - mine)
    p = mcnemar_exact(only_upper, only_lower)
    up = np.fromiter((i in mine for i in items), dtype=float, count=len(items))
    low = np.fromiter((i in theirs for i in items), dtype=float, count=len(items))
    rng = np.random.default_rng(seed)  # the same resamples for every pair
    idx = rng.integers(0, len(items), size=(resamples, len(items)))
    differences = (ACCURACY_WEIGHT * (up - low)[idx].mean(axis=1)
                   + RATIO_WEIGHT * (lower["ratio"] - upper["ratio"]))
    lo, hi = (float(v) for v in np.percentile(differences, [2.5, 97.5]))
    difference = upper["score"] - lower["score"]
    distinct = p < alpha and (lo > 0 or hi < 0)
    return {"upper": upper["team"], "lower": lower["team"], "score_difference": rounded(difference),
            "only_upper": only_upper, "only_lower": only_lower, "mcnemar_p": p,
            "bootstrap_ci95": [lo, hi], "tied": not distinct}


def place(rows: list[dict]) -> list[dict]:
    """Sort by score (9 decimals) and give competition places: equal scores share one."""
    rows = sorted(rows, key=lambda r: (-r["score"], team_key(r["team"])))
    for position, row in enumerate(rows, start=1):
        previous = rows[position - 2] if position > 1 else None
        row["rank"] = previous["rank"] if previous and previous["score"] == row["score"] else position
    return rows


def tie_groups(ranked: list[dict], pairs: list[dict]) -> list[list[str]]:
    """Chains of adjacent places the paired tests cannot tell apart (a singleton stands alone)."""
    groups: list[list[str]] = []
    for position, row in enumerate(ranked):
        if position and pairs[position - 1]["tied"]:
            groups[-1].append(row["team"])
        else:
            groups.append([row["team"]])
    return groups


def award_rows(ranked: list[dict], groups: list[list[str]],
               awards: tuple[tuple[str, int], ...]) -> list[dict]:
    """Each tier takes the next places in order; ``contested`` when a tie group crosses its lower
    boundary (the last awarded team is not distinguishable from the first one below it)."""
    group_of = {name: number for number, group in enumerate(groups, start=1) for name in group}
    rows, start = [], 0
    for award, places in awards:
        taken = ranked[start:start + places]
        if not taken:
            break
        start += len(taken)
        below = ranked[start] if start < len(ranked) else None
        rows.append({"award": award, "teams": [r["team"] for r in taken],
                     "ranks": [r["rank"] for r in taken], "scores": [r["score"] for r in taken],
                     "contested": bool(below and group_of[below["team"]] == group_of[taken[-1]["team"]])})
    return rows


def build(teams: list[Team], *, hidden_items: int | None = None,
          resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED, alpha: float = ALPHA,
          awards: tuple[tuple[str, int], ...] = DEFAULT_AWARDS) -> dict[str, Any]:
    """The leaderboard body (without schema version and provenance)."""
    names = Counter(team_key(t.name) for t in teams)
    entries, refused = [], []
    for team in teams:
        if names[team_key(team.name)] > 1:
            refused.append(refused_row(team, f"{names[team_key(team.name)]} submissions are named "
                                             f"{team.name!r}: duplicate team name"))
            continue
        if team.refused:
            refused.append(refused_row(team, team.refused))
            continue
        entry = best_entry(team)
        if isinstance(entry, str):
            refused.append(refused_row(team, entry))
        else:
            entries.append((team, entry))

    # every ranked team must have been scored on the same hidden items (pairing needs it)
    item_sets = {team.name: item_ids(team.math[row["model"]]) for team, row in entries}
    reference = None
    if item_sets:
        common = Counter(frozenset(s) for s in item_sets.values()).most_common(1)[0][0]
        reference = sorted(common, key=_item_order)
        if hidden_items is not None and len(common) != hidden_items:
            reference = None
    ranked_rows, right = [], {}
    for team, row in entries:
        ids = item_sets[team.name]
        expected = hidden_items if hidden_items is not None else len(reference or [])
        if reference is None or ids != set(reference):
            refused.append(refused_row(team, f"scored on {len(ids)} items, not the "
                                             f"{expected} hidden items every team is judged on"))
            continue
        ranked_rows.append(row)
        right[team.name] = set(team.math[row["model"]]["correct_ids"])

    ranked = place(ranked_rows)
    pairs = [adjacent_test(upper, lower, right, reference, resamples=resamples, seed=seed,
                           alpha=alpha)
             for upper, lower in zip(ranked, ranked[1:])]
    groups = tie_groups(ranked, pairs)
    for number, group in enumerate(groups, start=1):
        for row in ranked:
            if row["team"] in group:
                row["tie_group"] = number
    refused.sort(key=lambda r: team_key(r["team"]))
    return {
        "hidden_items": len(reference) if reference else (hidden_items or 0),
        "rule": {"score": f"(1 - ratio) * {RATIO_WEIGHT} + accuracy * {ACCURACY_WEIGHT}",
                 "decimals": SCORE_DECIMALS, "squad": "F1 and EM at the judged summary's marks",
                 "ratio": "trainable parameters of the network, counted by the judge, / 8.03e9"},
        "tests": {"alpha": alpha, "mcnemar": "exact, two-sided",
                  "bootstrap": {"resamples": resamples, "seed": seed, "interval": "percentile 95 %"}},
        "teams": ranked + refused,
        "pairs": pairs,
        "tie_groups": groups,
        "awards": award_rows(ranked, groups, awards),
        "ranked": len(ranked),
        "refused": len(refused),
    }


def _item_order(item: str) -> tuple[int, str]:
    return (int(item), "") if item.isdigit() else (1 << 62, item)


def ranked_published(rows: list[dict]) -> list[dict]:
    """Places from published numbers alone (team, accuracy, ratio): the contest's table, no items."""
    scored = [{**row, "score": rounded(composite(row["accuracy"], row["ratio"]))} for row in rows]
    return place(scored)
