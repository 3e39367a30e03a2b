"""One error family for everything a user can get wrong.

The CLI prints a ``MathloraError`` as one line (no traceback) and exits non-zero, so each message
must stand on its own: which file, which line or field, and what was expected.
"""

from __future__ import annotations

from pathlib import Path


class MathloraError(Exception):
    """Base class of every error the CLI reports without a traceback."""


class InputError(MathloraError):
    """Bad input data: names the file, the line (1-based) or field, and what was expected."""

    def __init__(self, path: str | Path, problem: str, *, line: int | None = None,
                 field: str | None = None) -> None:
        self.path, self.line, self.field, self.problem = str(path), line, field, problem
        where = self.path
        if line is not None:
            where += f":{line}"
        if field is not None:
            where += f": field {field!r}"
        super().__init__(f"{where}: {problem}")


class ConfigError(MathloraError):
    """A configuration value that cannot work; names the key and the expected value."""


class ArtifactError(MathloraError):
    """An artifact that does not match its schema (a bug or a tampered file)."""
