"""`mathlora rescore` of a saved result_npy.npy, without a model."""

import json

import numpy as np

from mathlora.artifacts import read_artifact
from mathlora.cli import main as cli
from mathlora.evaluate.predict import write_result_npy
from mathlora.prompts import math_prompt

TEST = [
    {"problem": "计算 1.25 + 2.5 等于多少？", "solution": "1.25 + 2.5 = 3.75"},
    {"problem": "计算 10 - 2.5 等于多少？", "solution": "10 - 2.5 = 7.5"},
    {"problem": "求以下数据的平均值：[1, 2]", "solution": "平均值为 1.5"},
    {"problem": "计算 7 / 3 等于多少？", "solution": "7 / 3 = 2.3333333333333335"},
]
CONTINUATIONS = [" 1.25 + 2.5 = 3.75\n计算 9 + 9", " 10 - 2.5 = 7.44", "", " 7 / 3 = 2.3333"]


def setup(tmp_path, continuations=CONTINUATIONS):
    test = tmp_path / "test.jsonl"
    test.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in TEST), "utf-8")
    npy = tmp_path / "result_npy.npy"
    write_result_npy(npy, [math_prompt(t["problem"]) + c for t, c in zip(TEST, continuations)])
    return test, npy


def test_rescore_json_and_sweep(tmp_path, capsys):
    test, npy = setup(tmp_path)
    out = tmp_path / "rescore.json"
    assert cli(["rescore", "--predictions", str(npy), "--test", str(test), "--json",
                "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["n"] == 4 and printed["modes"]["first_answer"]["correct"] == 1
    assert printed["modes"]["first_answer"]["no_answer"] == 1
    sweep = {name: block["correct"] for name, block in printed["sweep"].items()}
    # 2.3333 vs 2.3333333333333335 is off by 1.4e-5 relative: right only from 1e-4 on
    assert sweep == {"exact": 1, "rel0.0001": 2, "rel0.01": 3}
    assert read_artifact(out, "rescore")["accuracy"] == 0.25


def test_rescore_table(tmp_path, capsys):
    test, npy = setup(tmp_path)
    assert cli(["rescore", "--predictions", str(npy), "--test", str(test)]) == 0
    out = capsys.readouterr().out
    assert "overall" in out and "tolerance sweep" in out


def test_count_mismatch(tmp_path, capsys):
    test, npy = setup(tmp_path)
    write_result_npy(npy, ["only one"])
    assert cli(["rescore", "--predictions", str(npy), "--test", str(test)]) == 1
    assert "1 predictions for 4 test items (fewer" in capsys.readouterr().err


def test_refuses_foreign_pickle(tmp_path, capsys):
    test, npy = setup(tmp_path)
    array = np.empty(4, dtype=object)
    array[:] = [{"text_generation_text": ["x"]}] * 3 + [set()]
    np.save(npy, array, allow_pickle=True)
    assert cli(["rescore", "--predictions", str(npy), "--test", str(test)]) == 1
    assert "refused to unpickle builtins.set" in capsys.readouterr().err
