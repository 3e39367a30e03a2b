"""Text scans shared by the bundler and the verifier: secrets and build-machine paths.

Patterns are assembled from pieces so that this file (which ships in every code package) does not
match itself.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

_BEGIN = "-----" + "BEGIN"
SECRET_PATTERNS: dict[str, re.Pattern[str]] = {
    "private key": re.compile(_BEGIN + r" (?:[A-Z0-9]+ )*PRIVATE KEY-----"),
    "AWS-style access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    # access_key / secret_key / ak / sk assignments (OBS, AWS, Huawei Cloud) with a key-like value:
    # 16+ base64 characters holding at least one letter and one digit.
    "access/secret key assignment": re.compile(
        r"(?i)(?<![\w-])(?:access[_-]?key(?:[_-]?id)?|secret[_-]?(?:access[_-]?)?key|"
        r"(?:obs|aws|hw|huawei)?[_-]?(?:ak|sk)|api[_-]?key)[\"']?\s*[:=]\s*[\"']?"
        r"(?=[A-Za-z0-9/+=]*[0-9])(?=[A-Za-z0-9/+=]*[A-Za-z])[A-Za-z0-9/+=]{16,}(?![\w/+=])"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
}

# Absolute paths under the usual roots of user and scratch space on POSIX and Windows machines.
GENERIC_PATH = re.compile(
    r"(?<![\w./~:%-])/(?:home|Users|root|tmp|work|mnt|data|opt|srv|scratch|private|media|nfs|"
    r"var/folders)/[\w.-]+"
    r"|(?<![\w])[A-Za-z]:\\\\?(?:Users|Documents and Settings)\\")


def find_secrets(text: str) -> list[str]:
    """Names of the secret patterns found in ``text`` (the values themselves are never echoed)."""
    return [name for name, pattern in SECRET_PATTERNS.items() if pattern.search(text)]


def build_roots() -> dict[str, str]:
    """Absolute folders of this machine that must not leak into a bundle, by placeholder.

    The working directory (the project), the Python prefix, the home and the temporary folder;
    roots of fewer than two components (``/``, ``/usr``, ``/root``) are left to
    :data:`GENERIC_PATH`, which knows the usual ones.
    """
    candidates = {"<project>": os.getcwd(), "<python>": sys.prefix, "~": str(Path.home()),
                  "<tmp>": tempfile.gettempdir()}
    return {label: str(Path(path)) for label, path in candidates.items()
            if len(Path(path).parts) >= 3}


def root_pattern(roots: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern matching any of ``roots`` as a whole path prefix (``/a/b`` but not ``/a/bc``)."""
    roots = [r for r in roots if r]
    if not roots:
        return None
    alternatives = "|".join(re.escape(r) for r in sorted(roots, key=len, reverse=True))
    return re.compile(f"(?:{alternatives})(?![\\w.-])")


def find_paths(text: str, *, roots: re.Pattern[str] | None, generic: bool) -> list[str]:
    """Absolute paths in ``text``: under the given build roots, plus the usual roots if ``generic``."""
    found = [m.group(0) for m in roots.finditer(text)] if roots else []
    if generic:
        found += [m.group(0) for m in GENERIC_PATH.finditer(text)]
    return found


def redact_roots(text: str, roots: dict[str, str]) -> tuple[str, int]:
    """Replace each build root (deepest first) by its placeholder; returns the text and the count."""
    count = 0
    for label, root in sorted(roots.items(), key=lambda item: len(item[1]), reverse=True):
        text, n = re.subn(re.escape(root) + r"(?![\w.-])", label, text)
        count += n
    return text, count
