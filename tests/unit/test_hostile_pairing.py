"""Texts paired with the wrong items: rescore and math refuse them instead of mis-scoring.

A result file saved for another test order used to be scored as if it fitted: the continuation was
found by the answer marker alone, which every prompt ends with.
"""

from __future__ import annotations

import json
import random

import pytest

from mathlora.cli import main as cli
from mathlora.evaluate.predict import write_result_npy
from mathlora.prompts import math_prompt

TEST = [{"problem": f"计算 {a} + {b} 等于多少？", "solution": f"{a} + {b} = {a + b}"}
        for a, b in ((1, 2), (30, 4), (5, 60), (7, 8), (90, 10), (11, 12))]
ANSWERS = [f" {t['solution']}\n" for t in TEST]  # every one right


def write_test(tmp_path):
    path = tmp_path / "test.jsonl"
    path.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in TEST), "utf-8")
    return path


def rescore(tmp_path, texts, *extra):
    npy = tmp_path / "result_npy.npy"
    write_result_npy(npy, texts)
    return cli(["rescore", "--predictions", str(npy), "--test", str(write_test(tmp_path)), *extra])


def honest_texts():
    return [math_prompt(t["problem"]) + a for t, a in zip(TEST, ANSWERS)]


def test_the_honest_file_scores_all_and_shows_prompt_not_found(tmp_path, capsys):
    assert rescore(tmp_path, honest_texts()) == 0
    out = capsys.readouterr().out
    assert "prompt not found: 0" in out and "unknown category: 0" in out
    assert "overall" in out and "1.0000" in out


def test_shuffled_texts_are_refused_naming_the_first_mismatched_item(tmp_path, capsys):
    texts = honest_texts()
    order = [1, 0, 2, 3, 5, 4]  # items 1, 2, 5 and 6 swapped in pairs
    assert rescore(tmp_path, [texts[i] for i in order]) == 1
    err = capsys.readouterr().err
    assert "4 of 6 texts start with another problem's prompt" in err
    assert "items 1, 2, 5, 6;" in err
    assert "item 1 is '计算 1 + 2 等于多少？' but its text asks '计算 30 + 4 等于多少？" in err


def test_a_random_shuffle_is_refused(tmp_path, capsys):
    texts = honest_texts()
    random.Random(3).shuffle(texts)
    assert texts != honest_texts()
    assert rescore(tmp_path, texts) == 1
    assert "start with another problem's prompt" in capsys.readouterr().err


def test_texts_without_prompt_fail_past_the_threshold_and_are_counted_below_it(tmp_path, capsys):
    bare = list(ANSWERS)
    assert rescore(tmp_path, bare) == 1
    err = capsys.readouterr().err
    assert "6 of 6 texts hold no prompt (prompt_not_found; items 1, 2, 3, 4, 5 and 1 more)" in err
    assert "more than evaluate.max_prompt_not_found 0" in err
    assert rescore(tmp_path, bare, "--max-prompt-not-found", "6") == 0
    assert "prompt not found: 6" in capsys.readouterr().out


def test_a_generation_that_invents_a_new_question_is_not_another_items_prompt(tmp_path, capsys):
    texts = honest_texts()
    texts[0] += math_prompt(TEST[3]["problem"]) + " 15"  # a model running on into a new question
    assert rescore(tmp_path, texts) == 0
    assert "prompt not found: 0" in capsys.readouterr().out


def test_whitespace_the_tokenizer_changed_still_pairs(tmp_path, capsys):
    texts = [t.replace("\n ", "\n", 1) for t in honest_texts()]
    assert rescore(tmp_path, texts) == 0
    assert "prompt not found: 0" in capsys.readouterr().out


def test_negative_threshold_is_a_configuration_error(tmp_path, capsys):
    assert rescore(tmp_path, honest_texts(), "--max-prompt-not-found", "-1") == 1
    assert "evaluate.max_prompt_not_found: -1 is less than the minimum of 0" in capsys.readouterr().err


@pytest.mark.parametrize("swap", [True, False])
def test_math_refuses_outputs_of_other_items(tmp_path, capsys, swap):
    outputs = honest_texts()
    if swap:
        outputs[2], outputs[3] = outputs[3], outputs[2]
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text("".join(json.dumps(
        {"id": str(i), "prompt": math_prompt(t["problem"]), "output": o,
         "generation": o[len(math_prompt(t["problem"])):]}, ensure_ascii=False) + "\n"
        for i, (t, o) in enumerate(zip(TEST, outputs), start=1)), "utf-8")
    code = cli(["math", "--predictions", str(predictions), "--test", str(write_test(tmp_path)),
                "--out", str(tmp_path / "math.json")])
    captured = capsys.readouterr()
    if swap:
        assert code == 1 and "items 3, 4;" in captured.err
        assert not (tmp_path / "math.json").exists()
    else:
        assert code == 0 and "prompt not found: 0" in captured.out
