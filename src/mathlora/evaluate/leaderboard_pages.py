"""The leaderboard as people read it: ``LEADERBOARD.md`` and one static HTML page.

Both are drawn from the validated ``leaderboard.json`` document only, so the three never disagree.
The HTML page needs no script and no network: the ranking table (tie groups drawn as a bracket
cell spanning their rows, and a colour band), the paired tests between neighbours, the award rows,
per-team per-category accuracy, and the refused teams with their reasons. Cells that carry numbers
have a ``data-field`` attribute so a test can read the rendered page back.
"""

from __future__ import annotations

import html
from pathlib import Path

from mathlora.artifacts import atomic_output

GROUP_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
                 "#ff9da7", "#9c755f", "#bab0ac")


def _ranked(board: dict) -> list[dict]:
    return [r for r in board["teams"] if r["status"] == "ranked"]


def _refused(board: dict) -> list[dict]:
    return [r for r in board["teams"] if r["status"] == "refused"]


def _claim(row: dict) -> str:
    claim = row["claimed"]
    if not claim:
        return "-"
    return f"{claim['accuracy']:.4f} ({claim['model']})"


def _squad(row: dict) -> str:
    if row["squad"] != "pass":
        return row["squad"]
    return f"pass (F1 {row['f1']:.2f}, EM {row['em']:.2f})"


def markdown(board: dict) -> str:
    lines = ["# Leaderboard", "",
             f"{board['ranked']} teams ranked on the same {board['hidden_items']} hidden items, "
             f"{board['refused']} refused. Score = {board['rule']['score']} "
             f"({board['rule']['decimals']} decimals); ratio = {board['rule']['ratio']}.", "",
             "| place | team | tie group | checkpoint | accuracy | 95 % CI | ratio | score | SQuAD "
             "| self-measured |",
             "|---:|---|---:|---|---:|---|---:|---:|---|---|"]
    for r in _ranked(board):
        lo, hi = r["accuracy_ci95"]
        lines.append(f"| {r['rank']} | {r['team']} | {r['tie_group']} | {r['model']} | "
                     f"{r['accuracy']:.4f} | [{lo:.3f}, {hi:.3f}] | {r['ratio']:.9f} | "
                     f"{r['score']:.9f} | {_squad(r)} | {_claim(r)} |")
    tests = board["tests"]
    lines += ["", "## Adjacent places on the same items", "",
              f"Exact McNemar test and a paired bootstrap 95 % interval of the score difference "
              f"({tests['bootstrap']['resamples']} resamples, seed {tests['bootstrap']['seed']}); "
              f"two places are told apart only when p < {tests['alpha']} and the interval "
              "excludes 0.", "",
              "| upper | lower | score difference | only upper / only lower | McNemar p "
              "| bootstrap 95 % | verdict |", "|---|---|---:|---:|---:|---|---|"]
    for p in board["pairs"]:
        lo, hi = p["bootstrap_ci95"]
        lines.append(f"| {p['upper']} | {p['lower']} | {p['score_difference']:+.9f} | "
                     f"{p['only_upper']} / {p['only_lower']} | {p['mcnemar_p']:.3g} | "
                     f"[{lo:+.4f}, {hi:+.4f}] | {'tied' if p['tied'] else 'distinct'} |")
    lines += ["", "Tie groups: " + "; ".join(
        f"{n}: {', '.join(g)}" for n, g in enumerate(board["tie_groups"], start=1)) if
        board["tie_groups"] else "Tie groups: none", "", "## Awards", ""]
    for a in board["awards"]:
        note = " (contested: its last place is tied with the next)" if a["contested"] else ""
        lines.append(f"- {a['award']}: " + ", ".join(
            f"{t} (place {k}, {s:.9f})" for t, k, s in zip(a["teams"], a["ranks"], a["scores"])) + note)
    refused = _refused(board)
    if refused:
        lines += ["", "## Refused", ""]
        lines += [f"- {r['team']}: refused: {r['reason']}" for r in refused]
    return "\n".join(lines) + "\n"


def _cell(value: str, field: str | None = None, **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{html.escape(v)}"' for k, v in attrs.items())
    data = f' data-field="{field}"' if field else ""
    return f"<td{data}{extra}>{html.escape(value)}</td>"


def page(board: dict) -> str:
    ranked = _ranked(board)
    first_of_group: dict[int, int] = {}
    for r in ranked:
        first_of_group.setdefault(r["tie_group"], 0)
        first_of_group[r["tie_group"]] += 1
    rows, drawn = [], set()
    for r in ranked:
        colour = GROUP_COLOURS[(r["tie_group"] - 1) % len(GROUP_COLOURS)]
        lo, hi = r["accuracy_ci95"]
        cells = [_cell(str(r["rank"]), "rank"), _cell(r["team"], "team")]
        if r["tie_group"] not in drawn:  # one bracket cell spans the whole group
            drawn.add(r["tie_group"])
            size = first_of_group[r["tie_group"]]
            label = f"group {r['tie_group']}" + (" (tied)" if size > 1 else "")
            cells.append(f'<td class="group" rowspan="{size}" data-field="tie_group" '
                         f'style="border-left: 6px solid {colour}">{html.escape(label)}</td>')
        cells += [_cell(r["model"], "model"), _cell(f"{r['accuracy']:.4f}", "accuracy"),
                  _cell(f"[{lo:.3f}, {hi:.3f}]"), _cell(f"{r['ratio']:.9f}", "ratio"),
                  _cell(f"{r['score']:.9f}", "score"), _cell(_squad(r), "squad"),
                  _cell(_claim(r), "claimed")]
        rows.append(f'<tr data-team="{html.escape(r["team"])}" data-group="{r["tie_group"]}" '
                    f'style="box-shadow: inset 4px 0 {colour}">' + "".join(cells) + "</tr>")
    categories = sorted({c for r in ranked for c in r["categories"]})
    category_rows = []
    for r in ranked:
        cells = [_cell(r["team"], "team")]
        for c in categories:
            found = r["categories"].get(c)
            cells.append(_cell(f"{found['accuracy']:.4f}" if found else "-", f"category:{c}",
                               title=f"n = {found['n']}" if found else "not in its items"))
        category_rows.append(f'<tr data-team="{html.escape(r["team"])}">' + "".join(cells) + "</tr>")
    pair_rows = []
    for p in board["pairs"]:
        lo, hi = p["bootstrap_ci95"]
        pair_rows.append("<tr>" + "".join([
            _cell(p["upper"], "upper"), _cell(p["lower"], "lower"),
            _cell(f"{p['score_difference']:+.9f}", "score_difference"),
            _cell(f"{p['only_upper']} / {p['only_lower']}"), _cell(f"{p['mcnemar_p']:.3g}", "mcnemar_p"),
            _cell(f"[{lo:+.4f}, {hi:+.4f}]"), _cell("tied" if p["tied"] else "distinct", "verdict")])
            + "</tr>")
    awards = "".join(
        f"<li>{html.escape(a['award'])}: " + html.escape(", ".join(
            f"{t} (place {k})" for t, k in zip(a["teams"], a["ranks"])))
        + (" <em>contested: its last place is tied with the next</em>" if a["contested"] else "")
        + "</li>" for a in board["awards"])
    refused = "".join(f'<li data-team="{html.escape(r["team"])}">{html.escape(r["team"])}: '
                      f'refused: {html.escape(r["reason"])}</li>' for r in _refused(board))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in categories)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Leaderboard</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
td, th {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }}
td.group {{ text-align: left; vertical-align: middle; font-size: 0.9em; }}
</style></head>
<body>
<h1>Leaderboard</h1>
<p>{board['ranked']} teams ranked on the same {board['hidden_items']} hidden items, {board['refused']}
refused. Score = {html.escape(board['rule']['score'])}; ratio = {html.escape(board['rule']['ratio'])}.
Teams in one tie group cannot be told apart at 95 % (exact McNemar and paired bootstrap).</p>
<table id="ranking">
<thead><tr><th>place</th><th>team</th><th>tie group</th><th>checkpoint</th><th>accuracy</th>
<th>95 % CI</th><th>ratio</th><th>score</th><th>SQuAD</th><th>self-measured</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
<h2>Adjacent places</h2>
<table id="pairs">
<thead><tr><th>upper</th><th>lower</th><th>score difference</th><th>only upper / only lower</th>
<th>McNemar p</th><th>bootstrap 95 %</th><th>verdict</th></tr></thead>
<tbody>
{chr(10).join(pair_rows)}
</tbody></table>
<h2>Awards</h2>
<ul id="awards">{awards}</ul>
<h2>Accuracy per category</h2>
<table id="categories">
<thead><tr><th>team</th>{head}</tr></thead>
<tbody>
{chr(10).join(category_rows)}
</tbody></table>
<h2>Refused</h2>
<ul id="refused">{refused or '<li>none</li>'}</ul>
</body></html>
"""


def write_pages(board: dict, markdown_path: str | Path, html_path: str | Path) -> None:
    for path, text in ((markdown_path, markdown(board)), (html_path, page(board))):
        with atomic_output(path) as tmp:
            tmp.write_text(text, encoding="utf-8")


def write_leaderboard(body: dict, out_dir: str | Path) -> dict:
    """leaderboard.json (validated first), then LEADERBOARD.md and leaderboard.html from it."""
    from mathlora.artifacts import write_artifact

    out = Path(out_dir)
    document = write_artifact(out / "leaderboard.json", "leaderboard", body)
    write_pages(document, out / "LEADERBOARD.md", out / "leaderboard.html")
    return document
