"""Overlap of test problems with the training data, exact and normalised."""

import json

from mathlora.artifacts import read_artifact
from mathlora.cli import main as cli
from mathlora.evaluate.contamination import canonical_problem, overlap


def test_normalisation():
    assert canonical_problem("计算 3.50 + 2 等于多少？") == canonical_problem("计算 3.5+2 等于多少？")
    assert canonical_problem("计算 -0 + 1") == canonical_problem("计算 0 + 1")
    assert canonical_problem("计算 ３ + 1") == canonical_problem("计算 3 + 1")
    assert canonical_problem("计算 3.5 + 2") != canonical_problem("计算 3.6 + 2")
    # an operator is not a sign: these are different problems
    assert canonical_problem("计算 3 + 10 等于多少？") != canonical_problem("计算 31 + 0 等于多少？")
    assert canonical_problem("计算 5 - 12") != canonical_problem("计算 51 - 2")
    assert canonical_problem("计算 5 - -2") == canonical_problem("计算 5 - -2.0")


def test_overlap_counts():
    train = ["计算 1 + 2 等于多少？", "计算 3.50 + 2 等于多少？"]
    test = ["计算 1 + 2 等于多少？", "计算 3.5 +2 等于多少？", "计算 9 + 9 等于多少？"]
    report = overlap(train, test)
    assert report["exact"]["count"] == 1
    assert report["normalised"]["count"] == 2
    assert report["normalised"]["examples"][1] == {"test_line": 2, "train_line": 2,
                                                   "problem": test[1]}


def test_cli_disjoint_split_shows_zero(tmp_path):
    def write(name, problems):
        path = tmp_path / name
        path.write_text("".join(json.dumps({"problem": p, "solution": "0"}, ensure_ascii=False)
                                + "\n" for p in problems), "utf-8")
        return path

    train = write("train.jsonl", [f"计算 {i} + 1 等于多少？" for i in range(50)])
    test = write("test.jsonl", [f"计算 {i} + 1 等于多少？" for i in range(50, 60)])
    out = tmp_path / "c.json"
    assert cli(["contamination", "--train", str(train), "--test", str(test), "--out", str(out)]) == 0
    report = read_artifact(out, "contamination")
    assert report["exact"]["count"] == 0 and report["normalised"]["count"] == 0
    assert report["n_test"] == 10
