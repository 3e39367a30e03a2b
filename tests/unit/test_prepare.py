import json

import pytest

from mathlora.cli import main as cli
from mathlora.data.clean import strip_templates
from mathlora.prompts import ENTRY, TRAIN_HUMAN_PREFIX


def write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def row(problem, solution):
    return {"problem": problem, "solution": solution}


ADD = row("计算 1.00 + 2.00 等于多少？", "1.00 + 2.00 = 3.00")
MUL = row("计算 2.00 * 3.00 等于多少？", "2.00 * 3.00 = 6.0000")
DIV = row("计算 1.00 / -4.00 等于多少？", "1.00 / -4.00 = -0.25")
EQ = row("解方程 2x + 4 = 0", "方程的解为：-2")
ENG = row("Compute $1+1$.", "It is $\\boxed{2}$.")


def raw_file(tmp_path):
    rows = [ADD, MUL, DIV, EQ, ADD,  # duplicate
            row(f"{TRAIN_HUMAN_PREFIX} 计算 5.00 + 1.00 等于多少？", "5.00 + 1.00 = 6.00"),
            row(ENTRY.prefix + "计算 7.00 - 1.00 等于多少？" + ENTRY.suffix, "7.00 - 1.00 = 6.00"),
            row(TRAIN_HUMAN_PREFIX, "x"),  # nothing left after template removal
            ENG, row("Compute $2+2$.", "$\\boxed{4}$"), row("Compute $3 \\cdot 2$.", "$3 * 2 = 6$")]
    return write(tmp_path / "train.json", rows)


def run(tmp_path, source, chinese=3, english=2, extra=(), chinese_lines=8):
    out, report = tmp_path / "train.jsonl", tmp_path / "prepare.json"
    code = cli(["prepare", "--in", str(source), "--chinese-lines", str(chinese_lines), "--seed", "11",
                "--sample", json.dumps({"chinese": chinese, "english": english}), "--out", str(out),
                "--report", str(report),
                *extra])
    return code, out, report


def test_strip_templates_removes_every_occurrence():
    text = ENTRY.prefix + "计算 1 + 1 等于多少？" + ENTRY.suffix
    assert strip_templates(text) == ("计算 1 + 1 等于多少？", 2)
    assert strip_templates(f"{TRAIN_HUMAN_PREFIX} a {TRAIN_HUMAN_PREFIX}") == ("a", 2)
    assert strip_templates("  untouched ") == ("  untouched ", 0)


def test_every_rule_is_applied_and_counted(tmp_path):
    code, out, report = run(tmp_path, raw_file(tmp_path), chinese=5, english=2)
    assert code == 0
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["lines_read"] == 11 and doc["valid"] == 11 and doc["invalid"]["total"] == 0
    assert doc["template_text"]["lines"] == 3 and doc["template_text"]["occurrences"] == 4
    assert doc["removed"] == {"multiplication": 1, "division": 1, "empty_after_template_removal": 1}
    assert doc["duplicates"]["input"] == 1
    # Chinese kept: ADD, EQ, ADD, 5+1, 7-1 = 5; English: lines 9..11, the "3 * 2" solution is not a bare a * b = c.
    assert doc["eligible"] == {"chinese": 5, "english": 3}
    assert doc["sampled"] == {"chinese": 5, "english": 2, "total": 7}
    assert doc["duplicates"]["sample"] == 1
    sample = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    problems = [r["problem"] for r in sample]
    assert "计算 5.00 + 1.00 等于多少？" in problems and "计算 7.00 - 1.00 等于多少？" in problems
    assert not any("*" in r["solution"] and "Compute" not in r["problem"] for r in sample)
    assert {k: doc["sampled_by_category"][k] for k in ("add", "subtract", "equation")} == {
        "add": 3, "subtract": 1, "equation": 1}


def test_sample_is_seeded(tmp_path):
    source = raw_file(tmp_path)
    first = run(tmp_path, source, chinese=2, english=1)[1].read_bytes()
    second = run(tmp_path, source, chinese=2, english=1)[1].read_bytes()
    assert first == second


def test_too_large_a_sample_is_a_config_error(tmp_path, capsys):
    code, out, report = run(tmp_path, raw_file(tmp_path), chinese=6)
    assert code == 1 and "data.sample.chinese" in capsys.readouterr().err
    assert not out.exists() and not report.exists()


BAD = {
    "malformed": (b'{"problem": "a", "solution": "b"}\n{"problem": \n', "malformed JSON", ":2"),
    "missing": (b'{"problem": "a"}\n', "missing field", ":1"),
    "non_string": (b'{"problem": "a", "solution": 3}\n', "non-string field", ":1"),
    "bom": (b'\xef\xbb\xbf{"problem": "a", "solution": "b"}\n', "byte-order mark", ":1"),
    "crlf": (b'{"problem": "a", "solution": "b"}\r\n', "CRLF", ":1"),
    "utf8": (b'{"problem": "a", "solution": "b"}\n{"problem": "\xff", "solution": "b"}\n', "invalid UTF-8", ":2"),
    "empty": (b"", "file is empty", ""),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_fails_with_file_and_line(tmp_path, capsys, case):
    data, message, where = BAD[case]
    source = tmp_path / "train.json"
    source.write_bytes(data)
    code, out, report = run(tmp_path, source, chinese=0, english=0)
    err = capsys.readouterr().err
    assert code == 1 and message in err and f"{source}{where}" in err
    assert not out.exists() and not report.exists()


def test_skip_counts_each_bad_line(tmp_path):
    source = tmp_path / "train.json"
    good = json.dumps(ADD, ensure_ascii=False).encode()
    source.write_bytes(b"\n".join([good, b'{"problem": ', b'{"problem": "a"}', good,
                                   b'{"problem": "\xff", "solution": "x"}', b'[1]']) + b"\n")
    code, out, report = run(tmp_path, source, chinese=2, english=0, extra=["--on-error", "skip"],
                            chinese_lines=6)
    assert code == 0
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["lines_read"] == 6 and doc["valid"] == 2
    assert doc["invalid"]["total"] == 4
    assert doc["invalid"]["by_reason"] == {"malformed JSON": 1, "missing field": 1,
                                           "invalid UTF-8": 1, "not a JSON object": 1}
