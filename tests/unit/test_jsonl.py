import json

import pytest

from mathlora.errors import InputError
from mathlora.jsonl import BadLines, iter_records, read_records, read_test_file

FIELDS = ("problem", "solution")


def write(tmp_path, data: bytes):
    path = tmp_path / "train.json"
    path.write_bytes(data)
    return path


def test_reads_valid_lines(tmp_path):
    path = write(tmp_path, '{"problem": "计算 1 + 2 等于多少？", "solution": "1 + 2 = 3"}\n'
                           '{"problem": "p", "solution": "s", "extra": 1}\n'.encode())
    records = read_records(path, FIELDS)
    assert [r["problem"] for r in records] == ["计算 1 + 2 等于多少？", "p"]


@pytest.mark.parametrize("data, line, message", [
    (b'\xef\xbb\xbf{"problem": "a", "solution": "b"}\n', 1, "byte-order mark"),
    (b'{"problem": "a", "solution": "b"}\r\n', 1, "CRLF"),
    (b'{"problem": "a", "solution": "b"}\n{"problem": "\xff", "solution": "b"}\n', 2, "invalid UTF-8"),
    (b'{"problem": "a", "solution": "b"}\n{"problem": "a"\n', 2, "malformed JSON"),
    (b'{"problem": "a"}\n', 1, "missing field"),
    (b'{"problem": "a", "solution": 3}\n', 1, "non-string"),
    (b'["a", "b"]\n', 1, "not a JSON object"),
    (b'\n', 1, "blank line"),
])
def test_bad_lines_name_file_and_line(tmp_path, data, line, message):
    path = write(tmp_path, data)
    with pytest.raises(InputError, match=message) as info:
        read_records(path, FIELDS)
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}")


def test_empty_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="empty"):
        read_records(write(tmp_path, b""), FIELDS)
    with pytest.raises(InputError, match="not found"):
        read_records(tmp_path / "nope.json", FIELDS)


def test_skip_mode_counts_every_skipped_line(tmp_path):
    path = write(tmp_path, b'{"problem": "a", "solution": "b"}\n{bad\n{"problem": 1, "solution": "b"}\n'
                           b'{"problem": "c", "solution": "d"}\n{also bad\n')
    bad = BadLines()
    kept = [n for n, _ in iter_records(path, FIELDS, on_error="skip", bad=bad)]
    assert kept == [1, 4]
    assert bad.total == 3
    assert bad.counts == {"malformed JSON": 2, "non-string field": 1}


@pytest.mark.parametrize("on_error", ["fail", "skip"])
def test_whole_file_reading_equals_line_by_line(tmp_path, on_error):
    from mathlora.jsonl import read_distinct

    good, other = b'{"problem": "a", "solution": "b"}', b' {"problem": "c", "solution": "d"} '
    lines = [good, other, good, b"{bad", good, b'{"problem": 1, "solution": "b"}', b"{bad", other]
    path = write(tmp_path, b"\n".join(lines))  # no final newline
    expected_bad, expected = BadLines(), []
    try:
        expected = list(iter_records(path, FIELDS, on_error=on_error, bad=expected_bad))
    except InputError as error:
        expected = str(error)
    bad = BadLines()
    try:
        table = read_distinct(path, FIELDS, on_error=on_error, bad=bad)
        got = [(int(n), table.records[i]) for n, i in zip(table.numbers, table.ids)]
        assert table.multiplicity().tolist()[:2] == [3, 2]
    except InputError as error:
        got = str(error)
    assert got == expected and bad.counts == expected_bad.counts and bad.examples == expected_bad.examples
    if on_error == "skip":
        assert [n for n, _ in got] == [1, 2, 3, 5, 8]


def test_a_key_twice_is_refused_not_silently_the_last(tmp_path):
    path = write(tmp_path, b'{"problem": "a", "solution": "b"}\n{"problem": "a", "solution": "b", "problem": "c"}\n')
    with pytest.raises(InputError, match=r":2: duplicate key 'problem': expected each key once"):
        list(iter_records(path, FIELDS))
    bad = BadLines()
    assert [n for n, _ in iter_records(path, FIELDS, on_error="skip", bad=bad)] == [1]
    assert bad.counts == {"duplicate key 'problem'": 1}


def test_a_test_set_is_read_as_a_json_array_or_json_lines(tmp_path):
    records = [{"problem": "计算 1 + 2 等于多少？", "solution": "3"}, {"problem": "5 - 1 = ?", "solution": "4"}]
    array = write(tmp_path, json.dumps(records, ensure_ascii=False, indent=2).encode())
    lines = tmp_path / "test.jsonl"
    lines.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    assert read_test_file(array) == read_test_file(lines) == records


@pytest.mark.parametrize("text, message", [
    ('[{"problem": "a", "solution": "b"},\n {"problem": "c"}]', r":2: field 'solution': array item 2: missing field"),
    ('[{"problem": "a", "solution": "b"},\n 7]', r":2: array item 2 is a number"),
    ('[{"problem": "a", "solution": "b", "problem": "c"}]', r":1: array item 1: duplicate key 'problem'"),
    ('[]', "empty JSON array"),
])
def test_a_bad_json_array_names_the_line_and_item(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        read_test_file(write(tmp_path, text.encode()))
