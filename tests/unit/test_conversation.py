import json

import pytest

from mathlora.cli import main as cli
from mathlora.errors import InputError
from mathlora.jsonl import read_conversations


def test_conversation_format(tmp_path):
    source = tmp_path / "train.jsonl"
    rows = [{"problem": "计算 1 + 1 等于多少？", "solution": "1 + 1 = 2"},
            {"problem": "Compute $x$.", "solution": "$\\boxed{3}$"}]
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "conv.json"
    assert cli(["conversation", "--in", str(source), "--out", str(out)]) == 0
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
    assert cli(["conversation", "--in", str(source), "--out", str(out)]) == 1
    assert f"{source}:2" in capsys.readouterr().err and not out.exists()
