"""Strict JSON Lines reading: every problem is reported with its file and line.

The organisers' files are UTF-8 JSON Lines with LF endings and string fields. Anything else (a BOM,
CRLF, invalid UTF-8, a line that is not a JSON object, a missing or non-string field) is an
:class:`InputError` naming the file and line, unless the caller asks to skip bad lines, in which
case each skipped line is counted by reason and nothing is dropped silently.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
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
    if on_error not in ("fail", "skip"):
        raise ValueError(f"on_error must be 'fail' or 'skip', not {on_error!r}")
    path = Path(path)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    seen_any = False
    with handle:
        for number, raw in enumerate(handle, start=1):
            seen_any = True
            try:
                record = _parse_line(path, number, raw, fields)
            except InputError as error:
                if on_error == "fail":
                    raise
                if bad is not None:
                    bad.add(error)
                continue
            if record is not None:
                yield number, record
    if not seen_any:
        raise InputError(path, "file is empty: expected JSON Lines with " + ", ".join(fields))


def _parse_line(path: Path, number: int, raw: bytes, fields: Sequence[str]) -> dict[str, Any] | None:
    if number == 1 and raw.startswith(BOM):
        raise InputError(path, "UTF-8 byte-order mark: expected plain UTF-8 without a BOM", line=number)
    if raw.endswith(b"\r\n"):
        raise InputError(path, "CRLF line ending: expected LF (\\n) line endings", line=number)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"invalid UTF-8: byte {exc.start} cannot be decoded",
                         line=number) from None
    if not text.strip():
        raise InputError(path, "blank line: expected one JSON object per line", line=number)
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"malformed JSON: {exc.msg} at column {exc.colno}",
                         line=number) from None
    if not isinstance(record, dict):
        raise InputError(path, f"not a JSON object: expected {{{', '.join(fields)}}}, "
                               f"got {type(record).__name__}", line=number)
    for name in fields:
        if name not in record:
            raise InputError(path, "missing field: expected a string", line=number, field=name)
        if not isinstance(record[name], str):
            raise InputError(path, f"non-string field: expected a string, got "
                                   f"{type(record[name]).__name__}", line=number, field=name)
    return record


def read_records(path: str | Path, fields: Sequence[str]) -> list[dict[str, Any]]:
    """All records of a file that must be entirely valid."""
    return [record for _, record in iter_records(path, fields)]


def dumps_line(record: dict[str, Any]) -> str:
    """One JSON Lines line in the organisers' style (UTF-8 kept readable)."""
    return json.dumps(record, ensure_ascii=False) + "\n"
