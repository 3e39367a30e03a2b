import json
from collections import Counter

import pytest

from mathlora.cli import main as cli
from mathlora.data import synth
from mathlora.data.categories import category_of
from mathlora.data.split import allocate
from mathlora.jsonl import write_problems


def read(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def build(tmp_path, dev_size, test_size=None, pool="all", test_rows=None):
    raw = tmp_path / "train.json"
    write_problems(raw, synth.generate(600, 20, seed=4, template_rate=0.05))
    train, prep = tmp_path / "train.jsonl", tmp_path / "prepare.json"
    assert cli(["prepare", "--in", str(raw), "--chinese-lines", "600", "--seed", "9",
                "--sample", '{"chinese": 200, "english": 5}', "--out", str(train),
                "--report", str(prep)]) == 0
    if test_rows is not None:  # a training sample written by hand
        train.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in test_rows),
                         encoding="utf-8")
    dev, test, report = tmp_path / "dev.jsonl", tmp_path / "test.jsonl", tmp_path / "split.json"
    code = cli(["split", "--in", str(raw), "--train", str(train), "--chinese-lines", "600", "--seed", "9",
                "--dev-size", str(dev_size), "--test-size", str(dev_size if test_size is None else test_size),
                "--test-pool", pool, "--out-dev", str(dev), "--out-test", str(test), "--report", str(report)])
    return code, raw, train, dev, test, report


def test_held_out_sets_never_overlap_training_or_each_other(tmp_path):
    code, raw, train, dev, test, report = build(tmp_path, 50)
    assert code == 0
    train_problems = {r["problem"] for r in read(train)}
    dev_problems, test_problems = {r["problem"] for r in read(dev)}, {r["problem"] for r in read(test)}
    assert len(dev_problems) == len(test_problems) == 50
    assert not train_problems & dev_problems and not train_problems & test_problems
    assert not dev_problems & test_problems
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["splits"]["dev"]["size"] == doc["splits"]["test"]["size"] == 50
    assert doc["splits"]["test"]["overlap"] == {"train": {"exact": 0, "normalized": 0},
                                                "dev": {"exact": 0, "normalized": 0}}
    assert doc["excluded"]["in_training_exact"] >= 205  # every sampled line at least
    assert doc["lines_read"] == 620


def test_test_set_follows_the_development_sets_stratification(tmp_path):
    code, raw, train, dev, test, report = build(tmp_path, 60, 30)
    assert code == 0
    dev_counts = Counter(category_of(r["problem"]) for r in read(dev))
    test_counts = Counter(category_of(r["problem"]) for r in read(test))
    assert sum(test_counts.values()) == 30 and set(test_counts) == set(dev_counts)
    for name, count in dev_counts.items():  # proportional, to within one item
        assert abs(test_counts[name] - count * 30 / 60) <= 1
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["splits"]["test"]["by_category"] == {k: test_counts[k] for k in doc["splits"]["test"]["by_category"]}


def test_development_set_does_not_move_with_the_test_size(tmp_path):
    build(tmp_path, 40, 10)
    first = read(tmp_path / "dev.jsonl")
    build(tmp_path, 40, 30)
    assert read(tmp_path / "dev.jsonl") == first


def test_allocation_is_proportional_with_one_item_per_category():
    assert allocate(Counter(add=37, subtract=35, sqrt=24), 96) == {"add": 37, "subtract": 35, "sqrt": 24}
    counts = allocate(Counter(add=50, sqrt=49, mean=1), 10)
    assert sum(counts.values()) == 10 and counts["mean"] == 1 and counts["add"] >= counts["sqrt"]


def test_a_test_set_smaller_than_the_stratification_needs_names_the_split(tmp_path, capsys):
    code, *_, dev, test, report = build(tmp_path, 60, 2)
    error = capsys.readouterr().err
    assert code == 1 and "data.test_size" in error and "categories" in error
    assert not test.exists() and not report.exists()


@pytest.mark.parametrize("dev_size, test_size, field", [(0, 5, "data.dev_size: 0 is less than the minimum of 1"),
                                                          (5, 0, "data.test_size: 0 is less than the minimum of 1")])
def test_an_empty_split_is_refused(tmp_path, capsys, dev_size, test_size, field):
    code, *_, dev, test, report = build(tmp_path, dev_size, test_size)
    assert code == 1 and field in capsys.readouterr().err
    assert not dev.exists() and not report.exists()


def test_whitespace_and_case_variants_count_as_overlap(tmp_path):
    code, raw, *_ = build(tmp_path, 5)
    raw_rows = read(raw)
    variant = dict(raw_rows[0], problem="  " + raw_rows[0]["problem"].upper().replace(" ", "   ") + " ")
    code, raw, train, dev, test, report = build(tmp_path, 5, test_rows=[variant])
    assert code == 0
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["excluded"]["in_training_normalized"] >= 1
    assert raw_rows[0]["problem"] not in {r["problem"] for r in read(dev) + read(test)}


def test_kept_pool_has_no_multiplication_or_division(tmp_path):
    code, raw, train, dev, test, report = build(tmp_path, 40, 20, pool="kept")
    assert code == 0
    assert not any(" * " in r["solution"] or " / " in r["solution"] for r in read(dev) + read(test)
                   if r["problem"].startswith("计算"))
    assert json.loads(report.read_text(encoding="utf-8"))["excluded"]["dropped_by_prepare_rules"] > 0


def test_too_large_a_development_set_is_a_config_error(tmp_path, capsys):
    code, raw, train, dev, test, report = build(tmp_path, 10_000)
    assert code == 1 and "data.dev_size" in capsys.readouterr().err
    assert not dev.exists() and not test.exists() and not report.exists()


def test_too_large_a_test_set_names_the_category_short_of_items(tmp_path, capsys):
    code, raw, train, dev, test, report = build(tmp_path, 100, 400)
    error = capsys.readouterr().err
    assert code == 1 and "data.test_size" in error and "remain outside" in error
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
    dev, test, report = (tmp_path / f"{name}-{pool}.json" for name in ("dev", "test", "split"))
    code = cli(["split", "--in", str(raw), "--train", str(train), "--chinese-lines", str(len(rows)), "--seed", "3",
                "--dev-size", str(size), "--test-size", "1", "--test-pool", pool, "--out-dev", str(dev),
                "--out-test", str(test), "--report", str(report)])
    return code, dev, report


@pytest.mark.parametrize("pool, candidates, dropped", [("all", 7, 0), ("kept", 5, 2)])
def test_lines_empty_after_template_removal_are_never_held_out(tmp_path, pool, candidates, dropped):
    code, dev, report = split_by_hand(tmp_path, pool, 1)
    assert code == 0
    rows = read(dev) + read(tmp_path / f"test-{pool}.json")
    assert len(rows) == 2 and all(r["problem"].strip() and r["solution"].strip() for r in rows)
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["excluded"]["empty_after_template_removal"] == 3
    assert doc["excluded"]["dropped_by_prepare_rules"] == dropped
    assert doc["excluded"]["in_training_exact"] == 1 and doc["candidates"] == candidates


@pytest.mark.parametrize("pool, candidates", [("all", 7), ("kept", 5)])
def test_an_empty_line_does_not_make_up_a_short_pool(tmp_path, capsys, pool, candidates):
    code, dev, report = split_by_hand(tmp_path, pool, candidates + 1)
    assert code == 1 and f"only {candidates} distinct problems" in capsys.readouterr().err
