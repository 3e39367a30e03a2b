"""``submission/links.yaml``: where the code package and the merged checkpoints are published.

The file is maintained by hand, so it is validated on every read: the ``links`` schema allows only
https URLs. URLs on the reserved ``.invalid`` domain are placeholders that a team must replace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from mathlora.artifacts import validate
from mathlora.errors import ArtifactError, InputError

PLACEHOLDER_SUFFIX = ".invalid"


def parse_links(text: str, source: str | Path = "links.yaml") -> dict[str, Any]:
    """Parse and validate the text of a links file; errors name the file and field."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(source, f"not valid YAML ({exc})") from None
    if not isinstance(document, dict):
        raise InputError(source, "expected a mapping with code_package, checkpoints and best")
    try:
        validate(document, "links", source=source)
    except ArtifactError as exc:
        raise InputError(source, f"{exc} (every URL must be https://...)") from None
    indexes = [item["index"] for item in document["checkpoints"]]
    if indexes != list(range(1, len(indexes) + 1)):
        raise InputError(source, f"checkpoint indexes must be 1..{len(indexes)} in training order, "
                                 f"got {indexes}", field="checkpoints")
    if document["best"]["index"] not in indexes:
        raise InputError(source, f"best index {document['best']['index']} is not a listed checkpoint",
                         field="best.index")
    return document


def load_links(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, "links file not found") from None
    return parse_links(text, path)


def all_urls(links: dict[str, Any]) -> list[str]:
    """The code-package URL, then the checkpoint URLs in training order."""
    return [links["code_package"], *(item["url"] for item in links["checkpoints"])]


def is_placeholder(url: str) -> bool:
    """True for a URL on the reserved ``.invalid`` domain (never resolves)."""
    host = (urlsplit(url).hostname or "").lower()
    return host == PLACEHOLDER_SUFFIX[1:] or host.endswith(PLACEHOLDER_SUFFIX)
