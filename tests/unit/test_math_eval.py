"""`mathlora math` on predictions the test writes: accuracy, categories, failures, bad input."""

import json

import pytest

from mathlora.artifacts import read_artifact
from mathlora.cli import main as cli
from mathlora.evaluate.math_eval import Item, score_item, summarise
from mathlora.evaluate.predict import prediction_records
from mathlora.prompts import math_prompt

TEST = [
    {"problem": "计算 12.35 + 3.1 等于多少？", "solution": "12.35 + 3.1 = 15.45"},
    {"problem": "解方程 3x + 5 = 0", "solution": "方程的解为：-1.6666666666666667"},
    {"problem": "求以下数据的平均值：[1, 2, 3, 4]", "solution": "平均值为 2.5"},
    {"problem": "What is $2+3$?", "solution": "We get $\\boxed{5}$."},
    {"problem": "计算 2 * 3 等于多少？", "solution": "2 * 3 = 6"},
    {"problem": "一个奇怪的问题 7", "solution": "7"},
]
GENERATIONS = [
    " 12.35 + 3.1 = 15.45\n计算 1 + 1 等于多少？\n1 + 1 = 2",   # right, then run-on
    " 解方程 3x + 5 = 0\n方程的解为：-1.67",                       # right after rounding? no: ref has 16 places
    "",                                                          # empty output: no answer
    " The sum is $\\boxed{5}$",                                  # right
    " 2 * 3 = 5",                                                # wrong
    " 7",                                                        # right, unknown category
]


def write(tmp_path, test=TEST, generations=GENERATIONS):
    test_path = tmp_path / "test.jsonl"
    test_path.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in test), "utf-8")
    prompts = [math_prompt(t["problem"]) for t in test]
    pred_path = tmp_path / "predictions.jsonl"
    pred_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n"
                                 for r in prediction_records(prompts, generations)), "utf-8")
    return test_path, pred_path


def test_cli_report(tmp_path, capsys):
    test_path, pred_path = write(tmp_path)
    out = tmp_path / "math.json"
    png = tmp_path / "math.png"
    assert cli(["math", "--predictions", str(pred_path), "--test", str(test_path), "--out", str(out),
                "--png", str(png), "--model", "ckpt1"]) == 0
    report = read_artifact(out, "math")
    assert report["n"] == 6
    assert report["modes"]["first_answer"]["correct"] == 3
    assert report["accuracy"] == pytest.approx(3 / 6)
    assert report["modes"]["first_answer"]["no_answer"] == 1
    # last_number takes the run-on "2" for item 1 and the last number for the equation
    assert report["modes"]["last_number"]["correct"] == 2
    assert report["categories"]["add"]["first_answer"]["correct"] == 1
    assert report["categories"]["english"]["first_answer"]["accuracy"] == 1.0
    assert report["unknown_category"] == 1 and report["categories"]["unknown"]["n"] == 1
    assert [f["id"] for f in report["failures"]] == ["2", "3", "5"]
    assert report["failures"][1]["first_answer"] is None
    lo, hi = report["modes"]["first_answer"]["ci95"]
    assert lo < 0.5 < hi
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "overall" in capsys.readouterr().out


def test_tolerance_changes_the_equation_item():
    item = Item("2", TEST[1]["problem"], TEST[1]["solution"],
                math_prompt(TEST[1]["problem"]) + GENERATIONS[1])
    from mathlora.evaluate.compare import Rule

    assert not score_item(item).correct["first_answer"]
    assert score_item(item, Rule(False, 1e-2)).correct["first_answer"]
    report = summarise([score_item(item)])
    assert report["sweep"]["rel0.01"]["correct"] == 1 and report["sweep"]["exact"]["correct"] == 0


@pytest.mark.parametrize("count", [5, 7])
def test_count_mismatch_is_an_error(tmp_path, capsys, count):
    extra = {"problem": "计算 1 + 0 等于多少？", "solution": "1 + 0 = 1"}
    # predictions for `count` items, scored against the 6-item test set
    _, pred_path = write(tmp_path, (TEST + [extra])[:count], (GENERATIONS + [" 1"])[:count])
    test_path = tmp_path / "six.jsonl"
    test_path.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in TEST), "utf-8")
    code = cli(["math", "--predictions", str(pred_path), "--test", str(test_path),
                "--out", str(tmp_path / "m.json")])
    assert code == 1
    assert f"{count} predictions for 6 test items" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()


def test_malformed_test_line(tmp_path, capsys):
    test_path, pred_path = write(tmp_path)
    lines = test_path.read_text("utf-8").splitlines()
    lines[2] = '{"problem": "x"'
    test_path.write_text("\n".join(lines) + "\n", "utf-8")
    assert cli(["math", "--predictions", str(pred_path), "--test", str(test_path),
                "--out", str(tmp_path / "m.json")]) == 1
    assert "test.jsonl:3: malformed JSON" in capsys.readouterr().err


def test_predictions_in_another_order(tmp_path, capsys):
    test_path, pred_path = write(tmp_path)
    lines = pred_path.read_text("utf-8").splitlines()
    lines[0], lines[1] = lines[1], lines[0]
    pred_path.write_text("\n".join(lines) + "\n", "utf-8")
    assert cli(["math", "--predictions", str(pred_path), "--test", str(test_path),
                "--out", str(tmp_path / "m.json")]) == 1
    assert "prompt does not match test item 1" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_rel_tol_must_be_a_finite_non_negative_number(tmp_path, capsys, value):
    assert cli(["math", "--predictions", str(tmp_path / "p.jsonl"), "--test", str(tmp_path / "t.jsonl"),
                "--out", str(tmp_path / "m.json"), "--rel-tol", value]) == 1
    error = capsys.readouterr().err
    if float(value) < 0:  # the schema's minimum, named as the config key the graph sets
        assert "evaluate.rel_tol: -1.0 is less than the minimum of 0" in error
    else:
        assert f"evaluate.rel_tol: must be a finite number >= 0, got {float(value)}" in error


def test_math_report_of_records_equals_the_report_of_the_predictions_file(tmp_path):
    from mathlora.evaluate.compare import DEFAULT_RULE
    from mathlora.evaluate.math_eval import items_from_records, math_report

    test = [{"problem": "1 + 2 = ?", "solution": "1 + 2 = 3"}, {"problem": "5 - 1 = ?", "solution": "4"}]
    records = prediction_records([math_prompt(t["problem"]) for t in test], [" 3", " 7"])
    report = math_report("ckpt1", items_from_records(records, test), DEFAULT_RULE)
    assert (report["model"], report["n"], report["modes"]["first_answer"]["correct"]) == ("ckpt1", 2, 1)
