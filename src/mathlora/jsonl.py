"""Strict reading of the project's JSON inputs: every problem is reported with its file and line.

JSON Lines (the organisers' train.json and the test sets), a test set as one JSON array, and the
training conversation JSON of the organisers' data_converter.

The organisers' files are UTF-8 JSON Lines with LF endings and string fields. Anything else (a BOM,
CRLF, invalid UTF-8, a line that is not a JSON object, a missing or non-string field, a field
holding a NUL or a lone surrogate escape such as ``\\ud800`` that no UTF-8 writer can write, a
``NaN`` or ``Infinity`` token, a number beyond Python's digit limit, nesting too deep to parse) is
an :class:`InputError` naming the file and line, unless the caller asks to skip bad lines, in which
case each skipped line is counted by reason and nothing is dropped silently.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mathlora.errors import InputError

BOM = b"\xef\xbb\xbf"


@dataclass
class BadLines:
    """Lines skipped under ``on_error="skip"``, counted by reason (first example kept for the report)."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def add(self, error: InputError) -> None:
        reason = error.problem.split(":")[0]
        self.counts[reason] += 1
        self.examples.setdefault(reason, str(error))

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def iter_records(path: str | Path, fields: Sequence[str], *, on_error: str = "fail",
                 bad: BadLines | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, record)`` for each line; every name in ``fields`` must be a string.

    ``on_error`` is ``"fail"`` (raise on the first bad line) or ``"skip"`` (count it in ``bad``).
    An empty file is always an error: a stage fed nothing has nothing honest to report.
    """
    path, lines = _read_lines(path, fields, on_error)
    for number, raw in enumerate(lines, start=1):
        record = _checked(path, number, raw, fields, on_error, bad)
        if record is not None:
            yield number, record


def _read_lines(path: str | Path, fields: Sequence[str], on_error: str) -> tuple[Path, list[bytes]]:
    """(path, lines without their LF); lines are split on LF alone, a final LF ends the last one."""
    if on_error not in ("fail", "skip"):
        raise ValueError(f"on_error must be 'fail' or 'skip', not {on_error!r}")
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    if not data:
        raise InputError(path, "file is empty: expected JSON Lines with " + ", ".join(fields))
    lines = data.split(b"\n")
    if not lines[-1]:
        lines.pop()
    return path, lines


def _checked(path: Path, number: int, raw: bytes, fields: Sequence[str], on_error: str,
             bad: BadLines | None) -> dict[str, Any] | None:
    """The record of a line, or None for a bad line skipped under ``on_error="skip"``."""
    try:
        return _parse_line(path, number, raw, fields)
    except InputError as error:
        if on_error == "fail":
            raise
        if bad is not None:
            bad.add(error)
        return None


@dataclass
class Distinct:
    """A JSON Lines file as its distinct lines and, per valid line, which distinct line it is."""

    records: list[dict[str, Any] | None]  # per distinct line, first-occurrence order; None: invalid
    numbers: Any  # numpy int64: 1-based numbers of the valid lines, in file order
    ids: Any      # numpy int64: index into ``records`` of each valid line
    lines: int = 0  # lines in the file, valid or not

    def multiplicity(self) -> Any:
        """How many valid lines each distinct line stands for (numpy int64)."""
        import numpy as np

        return np.bincount(self.ids, minlength=len(self.records))


def read_distinct(path: str | Path, fields: Sequence[str], *, on_error: str = "fail",
                  bad: BadLines | None = None) -> Distinct:
    """The whole file at once, as :func:`iter_records` would read it, each distinct line checked once.

    The organisers' file repeats a third of its lines; every check depends on the line's bytes
    alone (and the first line's number, for a BOM), so each distinct line is checked once and bad
    lines are still diagnosed (and counted) in file order. Records are shared by identical lines:
    callers must not change them.
    """
    import numpy as np

    path, lines = _read_lines(path, fields, on_error)
    position: dict[bytes, int] = {}
    records: list[dict[str, Any] | None] = []
    numbers, ids = [], []
    for number, raw in enumerate(lines, start=1):
        index = position.get(raw)
        if index is None or number == 1:  # line 1 alone may hold a BOM
            record = _checked(path, number, raw, fields, on_error, bad)
            if index is None:
                index = position[raw] = len(records)
                records.append(record)
        elif records[index] is None:  # the same bad line again: counted again
            _checked(path, number, raw, fields, on_error, bad)
        if records[index] is not None:
            numbers.append(number)
            ids.append(index)
    return Distinct(records, np.asarray(numbers, dtype=np.int64), np.asarray(ids, dtype=np.int64),
                    len(lines))


class DuplicateKey(ValueError):
    """A key twice in one object: the last value would win silently."""


class NotJsonNumber(ValueError):
    """``NaN``, ``Infinity`` or ``-Infinity``: Python's json reads them, JSON has no such tokens."""


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = dict(pairs)
    if len(record) != len(pairs):
        seen: set[str] = set()
        repeated = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise DuplicateKey(f"duplicate key {repeated!r}")
    return record


def _no_constant(name: str) -> Any:
    raise NotJsonNumber(f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)


def _decode_problem(exc: ValueError | RecursionError) -> str:
    """What a failed decode means, in words (json.JSONDecodeError is handled by the callers)."""
    if isinstance(exc, DuplicateKey):
        return f"{exc}: expected each key once"
    if isinstance(exc, NotJsonNumber):
        return f"{exc}: expected numbers as JSON writes them"
    if isinstance(exc, RecursionError):
        return "nesting too deep to parse: expected a flat JSON object"
    if "integer string conversion" in str(exc):  # Python's digit limit (sys.int_info)
        return "an integer with more digits than Python reads (4300): expected a number of sane size"
    return f"unreadable JSON value ({exc})"


def _unwritable(value: str) -> str | None:
    """Why a decoded string cannot be a field of the organisers' files (None: it can)."""
    if "\x00" in value:
        return "NUL character in a field: expected text"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (f"lone surrogate in a field: \\u{ord(value[exc.start]):04x} at character "
                f"{exc.start} has no UTF-8 form; expected text")
    return None


def _parse_line(path: Path, number: int, raw: bytes, fields: Sequence[str]) -> dict[str, Any]:
    if number == 1 and raw.startswith(BOM):
        raise InputError(path, "UTF-8 byte-order mark: expected plain UTF-8 without a BOM", line=number)
    if raw.endswith(b"\r"):
        raise InputError(path, "CRLF line ending: expected LF (\\n) line endings", line=number)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"invalid UTF-8: byte {exc.start} cannot be decoded",
                         line=number) from None
    if not text.strip():
        raise InputError(path, "blank line: expected one JSON object per line", line=number)
    try:
        record = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"malformed JSON: {exc.msg} at column {exc.colno}",
                         line=number) from None
    except (ValueError, RecursionError) as exc:
        raise InputError(path, _decode_problem(exc), line=number) from None
    if not isinstance(record, dict):
        raise InputError(path, f"not a JSON object: expected {{{', '.join(fields)}}}, "
                               f"got {type(record).__name__}", line=number)
    for name in fields:
        if name not in record:
            raise InputError(path, "missing field: expected a string", line=number, field=name)
        if not isinstance(record[name], str):
            raise InputError(path, f"non-string field: expected a string, got "
                                   f"{type(record[name]).__name__}", line=number, field=name)
        if why := _unwritable(record[name]):
            raise InputError(path, why, line=number, field=name)
    return record


def read_records(path: str | Path, fields: Sequence[str]) -> list[dict[str, Any]]:
    """All records of a file that must be entirely valid."""
    return [record for _, record in iter_records(path, fields)]


def read_test_file(path: str | Path, fields: Sequence[str] = ("problem", "solution")) -> list[dict[str, Any]]:
    """A test set in either format the entry's ``run_llama3_test.py`` reads, detected by content.

    One JSON array of objects (what its ``json.load`` expects; the first non-blank byte is ``[``),
    or JSON Lines. Either way every record needs the string ``fields``; errors name the file, the
    line and, in an array, the item (1-based).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    if data.lstrip()[:1] != b"[":
        return read_records(path, fields)
    return _read_array(path, data, fields)


def _read_array(path: Path, data: bytes, fields: Sequence[str]) -> list[dict[str, Any]]:
    if data.startswith(BOM):
        raise InputError(path, "UTF-8 byte-order mark: expected plain UTF-8 without a BOM", line=1)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise InputError(path, f"invalid UTF-8: byte {exc.start} cannot be decoded", line=line) from None
    records: list[dict[str, Any]] = []
    at = text.index("[") + 1
    while True:
        at = _skip_blank(text, at)
        if text.startswith("]", at) and not records:
            raise InputError(path, "empty JSON array: expected at least one {"
                             + ", ".join(fields) + "} object", line=_line_of(text, at))
        line, item = _line_of(text, at), len(records) + 1
        try:
            record, at = _DECODER.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            raise InputError(path, f"malformed JSON in array item {item}: {exc.msg}",
                             line=exc.lineno) from None
        except (ValueError, RecursionError) as exc:  # the same refusals as the JSON Lines reader's
            raise InputError(path, f"array item {item}: {_decode_problem(exc)}", line=line) from None
        where = f"array item {item}"
        if not isinstance(record, dict):
            raise InputError(path, f"{where} is {_json_type(record)}: expected an object with "
                             + ", ".join(fields), line=line)
        for name in fields:
            if name not in record:
                raise InputError(path, f"{where}: missing field, expected a string", line=line,
                                 field=name)
            if not isinstance(record[name], str):
                raise InputError(path, f"{where}: expected a string, got {_json_type(record[name])}",
                                 line=line, field=name)
            if why := _unwritable(record[name]):
                raise InputError(path, f"{where}: {why}", line=line, field=name)
        records.append(record)
        at = _skip_blank(text, at)
        if text.startswith(",", at):
            at += 1
            continue
        if text.startswith("]", at) and not text[at + 1:].strip():
            return records
        raise InputError(path, f"after array item {item}: expected ',' or a final ']'",
                         line=_line_of(text, at))


def _json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, with its article."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _skip_blank(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    return at


def _line_of(text: str, at: int) -> int:
    return text.count("\n", 0, at) + 1


def read_conversations(path: str | Path) -> list[tuple[str, str]]:
    """(human, gpt) pairs of a conversation JSON; anything off-format is an InputError."""
    path = Path(path)
    try:
        document = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, f"invalid UTF-8 at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise InputError(path, f"malformed JSON: {exc.msg}", line=exc.lineno) from None
    except (ValueError, RecursionError) as exc:
        raise InputError(path, _decode_problem(exc)) from None
    if not isinstance(document, list) or not document:
        raise InputError(path, "expected a non-empty JSON list of conversations")
    pairs = []
    for index, item in enumerate(document):
        turns = item.get("conversations") if isinstance(item, dict) else None
        if (not isinstance(turns, list) or len(turns) != 2
                or [t.get("from") if isinstance(t, dict) else None for t in turns] != ["human", "gpt"]
                or not all(isinstance(t.get("value"), str) for t in turns)):
            raise InputError(path, "expected {'id', 'conversations': [{'from': 'human', 'value': str}, "
                                   "{'from': 'gpt', 'value': str}]}", field=f"[{index}]")
        pairs.append((turns[0]["value"], turns[1]["value"]))
    return pairs


def dumps_line(record: dict[str, Any]) -> str:
    """One JSON Lines line in the organisers' style (UTF-8 kept readable)."""
    return json.dumps(record, ensure_ascii=False) + "\n"


def write_problems(path: str | Path, pairs: Iterable[tuple[str, str]]) -> None:
    """``(problem, solution)`` pairs as the organisers' JSON Lines, LF endings, written atomically."""
    from mathlora.artifacts import atomic_output  # artifacts pulls in jsonschema: only when writing

    with atomic_output(path) as tmp, tmp.open("w", encoding="utf-8", newline="\n") as handle:
        handle.writelines(dumps_line({"problem": problem, "solution": solution})
                          for problem, solution in pairs)
