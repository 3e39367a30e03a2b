import json

import pytest

from mathlora.cli import main as cli
from mathlora.data import synth
from mathlora.jsonl import write_problems


def read(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def build(tmp_path, size, pool="all", test_rows=None):
    raw = tmp_path / "train.json"
    write_problems(raw, synth.generate(600, 20, seed=4, template_rate=0.05))
    train, prep = tmp_path / "train.jsonl", tmp_path / "prepare.json"
    assert cli(["prepare", "--in", str(raw), "--chinese-lines", "600", "--seed", "9", "--chinese", "200",
                "--english", "5", "--out", str(train), "--report", str(prep)]) == 0
    if test_rows is not None:  # a training sample written by hand
        train.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in test_rows),
                         encoding="utf-8")
    test, report = tmp_path / "test.jsonl", tmp_path / "split.json"
    code = cli(["split", "--in", str(raw), "--train", str(train), "--chinese-lines", "600", "--seed", "9",
                "--size", str(size), "--pool", pool, "--out", str(test), "--report", str(report)])
    return code, raw, train, test, report


def test_test_set_never_overlaps_training(tmp_path):
    code, raw, train, test, report = build(tmp_path, 50)
    assert code == 0
    train_problems = {r["problem"] for r in read(train)}
    rows = read(test)
    assert len(rows) == 50 and len({r["problem"] for r in rows}) == 50
    assert not train_problems & {r["problem"] for r in rows}
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["overlap"] == {"exact": 0, "normalized": 0} and doc["test_size"] == 50
    assert doc["excluded"]["in_training_exact"] >= 205  # every sampled line at least
    assert doc["lines_read"] == 620


def test_whitespace_and_case_variants_count_as_overlap(tmp_path):
    code, raw, *_ = build(tmp_path, 5)
    raw_rows = read(raw)
    variant = dict(raw_rows[0], problem="  " + raw_rows[0]["problem"].upper().replace(" ", "   ") + " ")
    code, raw, train, test, report = build(tmp_path, 5, test_rows=[variant])
    assert code == 0
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["excluded"]["in_training_normalized"] >= 1
    assert raw_rows[0]["problem"] not in {r["problem"] for r in read(test)}


def test_kept_pool_has_no_multiplication_or_division(tmp_path):
    code, raw, train, test, report = build(tmp_path, 100, pool="kept")
    assert code == 0
    assert not any(" * " in r["solution"] or " / " in r["solution"] for r in read(test)
                   if r["problem"].startswith("计算"))
    assert json.loads(report.read_text(encoding="utf-8"))["excluded"]["dropped_by_prepare_rules"] > 0


def test_too_large_a_test_set_is_a_config_error(tmp_path, capsys):
    code, raw, train, test, report = build(tmp_path, 10_000)
    assert code == 1 and "data.test_size" in capsys.readouterr().err
    assert not test.exists() and not report.exists()


def split_by_hand(tmp_path, pool, size):
    """A hand-made raw file: 6 additions, 2 multiplications, and three lines that clean to empty."""
    from mathlora.prompts import ENTRY, TRAIN_HUMAN_PREFIX

    rows = [{"problem": f"计算 {i}.00 + 1.00 等于多少？", "solution": f"{i}.00 + 1.00 = {i + 1}.00"}
            for i in range(6)]
    rows += [{"problem": f"计算 {i}.00 * 2.00 等于多少？", "solution": f"{i}.00 * 2.00 = {2 * i}.0000"}
             for i in range(2)]
    # template text only: nothing left to answer (two lines) or to ask (one line)
    rows += [{"problem": "计算 9.00 + 9.00 等于多少？", "solution": TRAIN_HUMAN_PREFIX},
             {"problem": "计算 8.00 + 8.00 等于多少？", "solution": TRAIN_HUMAN_PREFIX},
             {"problem": ENTRY.prefix, "solution": "7"}]
    raw, train = tmp_path / "train.json", tmp_path / "train.jsonl"
    raw.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    train.write_text(json.dumps({"problem": "计算 0.00 + 1.00 等于多少？", "solution": "1.00"},
                                ensure_ascii=False) + "\n", encoding="utf-8")
    test, report = tmp_path / f"test-{pool}.jsonl", tmp_path / f"split-{pool}.json"
    code = cli(["split", "--in", str(raw), "--train", str(train), "--chinese-lines", "100", "--seed", "3",
                "--size", str(size), "--pool", pool, "--out", str(test), "--report", str(report)])
    return code, test, report


@pytest.mark.parametrize("pool, candidates, dropped", [("all", 7, 0), ("kept", 5, 2)])
def test_lines_empty_after_template_removal_are_never_test_items(tmp_path, pool, candidates, dropped):
    code, test, report = split_by_hand(tmp_path, pool, candidates)
    assert code == 0
    rows = read(test)
    assert len(rows) == candidates and all(r["problem"].strip() and r["solution"].strip() for r in rows)
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["excluded"]["empty_after_template_removal"] == 3
    assert doc["excluded"]["dropped_by_prepare_rules"] == dropped
    assert doc["excluded"]["in_training_exact"] == 1 and doc["candidates"] == candidates


@pytest.mark.parametrize("pool, candidates", [("all", 7), ("kept", 5)])
def test_an_empty_line_does_not_make_up_a_short_pool(tmp_path, capsys, pool, candidates):
    code, test, report = split_by_hand(tmp_path, pool, candidates + 1)
    assert code == 1 and f"only {candidates} distinct problems" in capsys.readouterr().err
