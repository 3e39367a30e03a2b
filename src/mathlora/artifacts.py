"""Artifacts: JSON reports with a schema version and provenance, validated, written atomically.

Every JSON file the graph writes goes through :func:`write_artifact`: the payload gets
``schema_version`` (the ``const`` its schema declares, so the version lives in one place), its
``kind`` and ``provenance``, is validated against ``schemas/<kind>.schema.json`` and only then lands
on disk by temp file + rename. Readers use :func:`read_artifact`, which validates again and returns
a :class:`Report`: the document with attribute access limited to the fields its schema declares.

The schemas are package data (``mathlora/schemas``; the checkout's top-level ``schemas`` is the same
folder), so an installed ``mathlora`` writes and validates every artifact.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import jsonschema
import referencing
import referencing.jsonschema

from mathlora.errors import ArtifactError, InputError

SCHEMA_BASE_URI = "https://mathlora.invalid/schemas/"
CONFIG_SHA256_ENV = "MATHLORA_CONFIG_SHA256"
PROVENANCE_PACKAGES = ("mathlora", "mindspore", "mindformers", "snakemake", "tiktoken", "numpy",
                       "jsonschema")


def schema_dir() -> Path:
    """The package's ``schemas`` folder (or ``$MATHLORA_SCHEMAS``)."""
    override = os.environ.get("MATHLORA_SCHEMAS")
    return Path(override) if override else Path(__file__).resolve().parent / "schemas"


def artifact_kinds() -> list[str]:
    """Every kind of report :func:`write_artifact` writes (schemas that pin a ``kind``)."""
    kinds = []
    for path in sorted(schema_dir().glob("*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        if "const" in schema.get("properties", {}).get("kind", {}):
            kinds.append(schema["properties"]["kind"]["const"])
    return kinds


@functools.cache
def _registry() -> referencing.Registry:
    resources = []
    for path in sorted(schema_dir().glob("*.schema.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resource = referencing.jsonschema.DRAFT202012.create_resource(contents)
        resources.append((SCHEMA_BASE_URI + path.name, resource))
    return referencing.Registry().with_resources(resources)


@functools.cache
def validator(kind: str) -> jsonschema.Draft202012Validator:
    """A Draft 2020-12 validator for ``schemas/<kind>.schema.json`` (``$ref`` between schemas work)."""
    path = schema_dir() / f"{kind}.schema.json"
    if not path.is_file():
        raise ArtifactError(f"no schema for artifact kind {kind!r}: {path} does not exist")
    schema = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, registry=_registry(),
                                           format_checker=jsonschema.FormatChecker())


def schema_version(kind: str) -> str:
    """The version a schema pins with ``properties.schema_version.const``."""
    return validator(kind).schema["properties"]["schema_version"]["const"]


def validate(document: Any, kind: str, *, source: str | Path = "<artifact>") -> None:
    """Raise :class:`ArtifactError` naming the first failing field, if ``document`` breaks its schema."""
    errors = sorted(validator(kind).iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        field = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ArtifactError(f"{source}: field {field}: {first.message}{more} [schema {kind}]")


def git_state(repo: str | Path) -> tuple[str, bool]:
    """(HEAD commit, whether tracked files differ from it) of a git checkout; raises OSError or
    subprocess.SubprocessError when ``repo`` is no checkout with a commit."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              check=True, timeout=60).stdout.strip()

    return git("rev-parse", "HEAD"), bool(git("status", "--porcelain", "--untracked-files=no"))


@functools.cache
def _git_commit() -> str | None:
    try:
        head, dirty = git_state(Path(__file__).resolve().parents[2])
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("-dirty" if dirty else "")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PROVENANCE_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def provenance() -> dict[str, Any]:
    """Where an artifact came from: packages, config hash (set by the workflow), commit, time, command."""
    return {
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "config_sha256": os.environ.get(CONFIG_SHA256_ENV) or None,
        "packages": package_versions(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }


def file_sha256(path: str | Path) -> str:
    """sha256 of a file, read in 1 MiB chunks (checkpoints are many GB)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def config_sha256(config: Any) -> str:
    """Hash of a configuration mapping, independent of key order."""
    canonical = json.dumps(config, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@contextlib.contextmanager
def atomic_output(path: str | Path, *, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it into place only if the block succeeds.

    Works for files and directories alike; on any exception the temporary is removed, so a failed
    stage never leaves a half-written output behind. A temporary left by a writer that was killed
    (kill -9 leaves no chance to clean up) is removed before the new one is made: one job writes
    one output at a time, so any temporary of the same output is stale. An ``OSError`` of the
    block that names no file (a full disk, say) is raised again naming ``path``.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in stale_temporaries(target, suffix):
        _remove(stale)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix + ".tmp",
                                    dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        yield tmp
        if not tmp.exists():
            raise ArtifactError(f"{target}: the writer produced no output")
        os.replace(tmp, target)
    except OSError as exc:
        _remove(tmp)
        named = _named_for(exc, tmp, target)
        if named is exc:
            raise
        raise named from exc
    except BaseException:
        _remove(tmp)
        raise


def stale_temporaries(target: Path, suffix: str = "") -> list[Path]:
    """Temporaries :func:`atomic_output` made for ``target`` (``.<name>.<8 random><suffix>.tmp``)."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}{re.escape(suffix)}\.tmp")
    try:
        return [p for p in target.parent.iterdir() if pattern.fullmatch(p.name)]
    except OSError:
        return []


def _named_for(exc: OSError, tmp: Path, target: Path) -> OSError:
    """``exc`` naming the output the user asked for, not the temporary (or nothing) it named."""
    def public(name):
        text = str(name)
        if text == str(tmp) or text.startswith(f"{tmp}{os.sep}"):
            return str(target) + text[len(str(tmp)):]
        return name

    first, second = public(exc.filename), public(exc.filename2)
    if first is None and second is None:
        first = str(target)
    if (first, second) == (exc.filename, exc.filename2) or exc.errno is None or not exc.strerror:
        return exc
    return type(exc)(exc.errno, exc.strerror, first, None, second)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        import shutil

        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def dump_json(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def write_artifact(path: str | Path, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Stamp ``payload`` with schema version, kind and provenance, validate it, write it atomically."""
    document = {"schema_version": schema_version(kind), "kind": kind, **payload,
                "provenance": provenance()}
    validate(document, kind, source=path)
    with atomic_output(path) as tmp:
        tmp.write_text(dump_json(document), encoding="utf-8")
    return document


class Report(dict):
    """A validated artifact of one kind: its fields as attributes, limited to those its schema
    declares (a misspelt field is an ``AttributeError`` naming the schema, not a silent ``None``).
    It stays a ``dict``, so it serialises and compares as the document it is."""

    def __init__(self, document: dict[str, Any], kind: str) -> None:
        super().__init__(document)
        self.__dict__["_kind"] = kind

    def __getattr__(self, name: str) -> Any:
        fields = validator(self._kind).schema["properties"]
        if name not in fields:
            raise AttributeError(f"a {self._kind} report has no field {name!r} (schema "
                                 f"{self._kind}.schema.json: {', '.join(fields)})")
        return self.get(name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("reports are read-only")


def read_artifact(path: str | Path, kind: str) -> Report:
    """Load and validate an artifact; a missing or malformed file is an :class:`InputError`."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, f"{kind} report not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not a JSON {kind} report ({exc})") from None
    validate(document, kind, source=path)
    return Report(document, kind)
