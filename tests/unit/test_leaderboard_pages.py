"""LEADERBOARD.md and the HTML page carry the JSON's numbers; the page is rendered in a real
headless Chromium and its tables read back from the DOM the browser built."""

import json
import os
import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from leaderboard_kit import bundle_team, npy_team

from mathlora.artifacts import read_artifact, write_artifact
from mathlora.evaluate.leaderboard import build
from mathlora.evaluate.leaderboard_pages import markdown, write_pages

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def first(k):
    return set(range(1, k + 1))


def board():
    teams = [bundle_team("alpha", {"ckpt1": first(160)},
                         claimed={"path": "s.json", "chosen_on": "dev", "best": "ckpt1",
                                  "models": {"ckpt1": {"dev": 0.85, "test": 0.83}}}),
             bundle_team("beta <b>", {"ckpt1": first(158)}),
             npy_team("gamma", first(100)),
             bundle_team("hostile", {}, refused="a member escapes the folder: ../../etc")]
    return build(teams, resamples=300)


class Tables(HTMLParser):
    """Rows of each table by id: every cell's data-field -> text (the rendered DOM, not our string)."""

    def __init__(self):
        super().__init__()
        self.tables, self.table, self.row, self.field, self.items, self.in_refused = {}, None, None, None, [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.table = self.tables.setdefault(attrs.get("id"), [])
        elif tag == "tr" and self.table is not None and "data-team" in attrs:
            self.row = {"_team": attrs["data-team"], "_group": attrs.get("data-group")}
            self.table.append(self.row)
        elif tag == "tr" and self.table is not None:
            self.row = {}
            self.table.append(self.row)
        elif tag == "td" and self.row is not None:
            self.field = attrs.get("data-field")
            if self.field:
                self.row[self.field] = ""
        elif tag == "ul" and attrs.get("id") == "refused":
            self.in_refused = True
        elif tag == "li" and self.in_refused:
            self.items.append("")

    def handle_endtag(self, tag):
        if tag == "td":
            self.field = None
        elif tag == "table":
            self.table = None
        elif tag == "ul":
            self.in_refused = False

    def handle_data(self, data):
        if self.field and self.row is not None:
            self.row[self.field] += data
        elif self.in_refused and self.items:
            self.items[-1] += data


def browser():
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def test_markdown_lists_every_team():
    text = markdown(board())
    assert "| 1 | alpha | 1 | ckpt1 | 0.8000 |" in text
    assert "- hostile: refused: a member escapes the folder: ../../etc" in text
    assert "0.8300 (ckpt1)" in text


@pytest.mark.skipif(browser() is None, reason="no Chromium installed (apt-get install -y chromium); "
                                              "the page is checked only in a real browser")
def test_page_renders_in_headless_chromium_with_the_json_numbers(tmp_path):
    json_path = tmp_path / "leaderboard.json"
    write_artifact(json_path, "leaderboard", board())
    document = read_artifact(json_path, "leaderboard")
    write_pages(document, tmp_path / "LEADERBOARD.md", tmp_path / "leaderboard.html")
    profile = tmp_path / "profile"
    run = subprocess.run(
        [browser(), "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
         f"--user-data-dir={profile}", "--dump-dom", (tmp_path / "leaderboard.html").as_uri()],
        capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)})
    assert run.returncode == 0, run.stderr[-2000:]
    parsed = Tables()
    parsed.feed(run.stdout)
    ranked = [r for r in document["teams"] if r["status"] == "ranked"]
    shown = parsed.tables["ranking"][1:]  # after the header row
    assert [r["_team"] for r in shown] == [r["team"] for r in ranked]
    for want, got in zip(ranked, shown):
        assert got["team"] == want["team"]
        assert int(got["rank"]) == want["rank"]
        assert float(got["score"]) == want["score"]
        assert float(got["accuracy"]) == pytest.approx(want["accuracy"], abs=5e-5)
        assert float(got["ratio"]) == pytest.approx(want["ratio"], abs=5e-10)
        assert int(got["_group"]) == want["tie_group"]
    # the tie groups drawn: one bracket cell per group, spanning its members
    brackets = [r["tie_group"] for r in shown if "tie_group" in r]
    assert len(brackets) == len(document["tie_groups"])
    assert brackets[0] == ("group 1 (tied)" if len(document["tie_groups"][0]) > 1 else "group 1")
    pairs = parsed.tables["pairs"][1:]
    assert [(p["upper"], p["lower"], p["verdict"]) for p in pairs] == [
        (p["upper"], p["lower"], "tied" if p["tied"] else "distinct") for p in document["pairs"]]
    categories = {r["_team"]: r for r in parsed.tables["categories"][1:]}
    for row in ranked:
        for name, cat in row["categories"].items():
            assert float(categories[row["team"]][f"category:{name}"]) == pytest.approx(cat["accuracy"], abs=5e-5)
    assert parsed.items == ["hostile: refused: a member escapes the folder: ../../etc"]
    assert json.loads(json_path.read_text())["teams"][1]["team"] == "beta <b>"  # escaped, not markup


def test_all_three_outputs_are_written(tmp_path):
    from mathlora.evaluate.leaderboard_pages import write_leaderboard

    document = write_leaderboard(board(), tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "LEADERBOARD.md", "leaderboard.html", "leaderboard.json"]
    assert document["provenance"]["command"]
