import json

import pytest

from mathlora.artifacts import read_artifact
from mathlora.cli import main as cli
from mathlora.errors import InputError
from mathlora.jsonl import read_conversations


def test_conversation_format(tmp_path):
    source = tmp_path / "train.jsonl"
    rows = [{"problem": "计算 1 + 1 等于多少？", "solution": "1 + 1 = 2"},
            {"problem": "Compute $x$.", "solution": "$\\boxed{3}$"}]
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "conv.json"
    assert cli(["conversation", "--in", str(source), "--out", str(out),
                "--report", str(tmp_path / "conversation.json")]) == 0
    text = out.read_text(encoding="utf-8")
    assert "请解答如下数学问题" in text  # UTF-8 kept, not \u-escaped
    assert json.loads(text) == [
        {"id": "1", "conversations": [{"from": "human", "value": "请解答如下数学问题： 计算 1 + 1 等于多少？"},
                                      {"from": "gpt", "value": "1 + 1 = 2"}]},
        {"id": "2", "conversations": [{"from": "human", "value": "请解答如下数学问题： Compute $x$."},
                                      {"from": "gpt", "value": "$\\boxed{3}$"}]},
    ]
    assert read_conversations(out)[1] == ("请解答如下数学问题： Compute $x$.", "$\\boxed{3}$")


@pytest.mark.parametrize("content, message", [
    ("[]", "non-empty JSON list"),
    ('[{"id": "1", "conversations": [{"from": "gpt", "value": "x"}]}]', "[0]"),
    ('[{"id": "1"', "malformed JSON"),
])
def test_bad_conversation_files(tmp_path, content, message):
    path = tmp_path / "c.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_conversations(path)


def test_bad_training_line_names_the_line(tmp_path, capsys):
    source = tmp_path / "train.jsonl"
    source.write_text('{"problem": "a", "solution": "b"}\n{"problem": "a"}\n', encoding="utf-8")
    out = tmp_path / "conv.json"
    assert cli(["conversation", "--in", str(source), "--out", str(out),
                "--report", str(tmp_path / "conversation.json")]) == 1
    assert f"{source}:2" in capsys.readouterr().err and not out.exists()


SAMPLE = [("计算 1 + 1 等于多少？", "1 + 1 = 2"), ("解方程 2x + 4 = 0", "x = -2"),
          ("计算 5 - 3 等于多少？", "5 - 3 = 2"), ("Compute $x$.", "$3$"), ("某种说法", "7"),
          ("计算 9 + 1 等于多少？", "9 + 1 = 10")]


def write_sample(path):
    path.write_text("".join(json.dumps({"problem": p, "solution": s}, ensure_ascii=False) + "\n"
                            for p, s in SAMPLE), encoding="utf-8")
    return path


def test_categories_keep_their_lines_in_order_and_count_the_rest(tmp_path):
    source, out, report = write_sample(tmp_path / "train.jsonl"), tmp_path / "c.json", tmp_path / "r.json"
    assert cli(["conversation", "--in", str(source), "--finetune-categories", '["subtract", "add"]',
                "--out", str(out), "--report", str(report)]) == 0
    assert [row["id"] for row in json.loads(out.read_text(encoding="utf-8"))] == ["1", "2", "3"]
    kept = ("计算 1 + 1 等于多少？", "计算 5 - 3 等于多少？", "计算 9 + 1 等于多少？")
    assert [problem for problem, _ in read_conversations(out)] == [f"请解答如下数学问题： {p}" for p in kept]
    counts = read_artifact(report, "conversation")
    assert counts.categories == ["add", "subtract"]
    assert (counts.lines_read, counts.written, counts.left_out) == (6, 3, 3)
    assert counts.written_by_category == {"add": 2, "subtract": 1}
    assert counts.left_out_by_category == {"english": 1, "equation": 1, "unknown": 1}


def test_without_categories_every_line_is_written(tmp_path):
    source, out, report = write_sample(tmp_path / "train.jsonl"), tmp_path / "c.json", tmp_path / "r.json"
    assert cli(["conversation", "--in", str(source), "--out", str(out), "--report", str(report)]) == 0
    counts = read_artifact(report, "conversation")
    assert (counts.categories, counts.written, counts.left_out_by_category) == ("all", 6, {})
    assert len(read_conversations(out)) == len(SAMPLE)


def test_categories_that_leave_nothing_are_refused(tmp_path, capsys):
    source, out = write_sample(tmp_path / "train.jsonl"), tmp_path / "c.json"
    assert cli(["conversation", "--in", str(source), "--finetune-categories", '["sqrt"]', "--out", str(out),
                "--report", str(tmp_path / "r.json")]) == 1
    err = capsys.readouterr().err
    assert str(source) in err and "no line of the categories sqrt among its 6" in err
    assert not out.exists() and not (tmp_path / "r.json").exists()


def test_an_empty_sample_is_refused(tmp_path, capsys):
    source, out = tmp_path / "train.jsonl", tmp_path / "c.json"
    source.write_text("", encoding="utf-8")
    assert cli(["conversation", "--in", str(source), "--out", str(out),
                "--report", str(tmp_path / "r.json")]) == 1
    assert str(source) in capsys.readouterr().err and not out.exists()
