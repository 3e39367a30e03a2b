"""Build the submission zip: code, predict script, yamls, report, logs, reports, checkpoints.

Everything lives under one folder named after the run. The code package is the project's source
tree at the current commit (``git archive HEAD``, so results and untracked files never leak in);
``submission/`` ships verbatim; JSON reports keep their paths under ``results/`` and are recorded
with their artifact kind; logs and benchmark timings have this machine's folders replaced by
placeholders. Checkpoints are either bundled (``--checkpoints local``) or referenced through
``submission/links.yaml`` (``--checkpoints links``). ``manifest.json`` lists every other member with
its size and sha256. Members are written in sorted order with fixed timestamps.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import tarfile
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mathlora.artifacts import artifact_kinds, atomic_output, dump_json, git_state, provenance, schema_version, validate
from mathlora.errors import ArtifactError, ConfigError, InputError
from mathlora.package import scan
from mathlora.package.links import all_urls, is_placeholder, load_links

ZIP_DATE = (1980, 1, 1, 0, 0, 0)
STORED_SUFFIXES = {".ckpt", ".npy", ".png", ".mindrecord", ".db", ".zip", ".gz", ".safetensors"}
BUILD_DIRS = ("results/", "resources/", "logs/", "benchmarks/", "output/", ".snakemake/")
SHIPPED_INPUTS = ("resources/base/",)  # the embedded default's tiny base is source, not build output
MAX_LOG_BYTES = 64 * 2**20  # the verifier reads text members whole, up to this size
CHUNK = 1 << 20
# Where the graph's merged checkpoints lie (results/<run>/merged/ckpt<k>.ckpt): the only members a
# bundle ships as checkpoints, and the only ones a judge takes as such.
CHECKPOINT_PATH = re.compile(r"results/(?:[^/]+/)*merged/ckpt[1-9][0-9]*\.ckpt")


def role_fits(role: str, path: str) -> bool:
    """Whether a member of this role can lie at this path in a bundle this module writes.

    A manifest is the contestant's word: verify holds it to this, so no member becomes a
    checkpoint (the tiny base of the code package, say) or code by its role alone.
    """
    if role == "checkpoint":
        return CHECKPOINT_PATH.fullmatch(path) is not None
    if role == "code":
        return path.startswith("code/")
    if role == "submission":
        return path.startswith("submission/") and path.count("/") == 1
    if role == "document":
        return path == "REPORT.md"
    return not path.startswith(("code/", "submission/")) and path != "REPORT.md"


@dataclass
class Member:
    path: str            # relative to the bundle root
    role: str
    data: bytes | None = None   # in-memory content, or
    source: Path | None = None  # a file streamed from disk
    kind: str | None = None
    redacted: int = 0


# --- collecting members ------------------------------------------------------------------------

def git(repo: Path, *args: str) -> bytes:
    try:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True,
                              timeout=300).stdout
    except subprocess.TimeoutExpired as exc:
        raise InputError(repo, f"git {' '.join(args)} did not finish within {exc.timeout:g} s") from None
    except (OSError, subprocess.CalledProcessError) as exc:
        stderr = getattr(exc, "stderr", b"") or b""
        raise InputError(repo, f"git {' '.join(args)} failed: {stderr.decode(errors='replace').strip()}"
                               " (the code package needs a git checkout with a commit)") from None


def code_members(repo: Path, skipped: list[dict[str, str]]) -> tuple[list[Member], dict[str, Any]]:
    """The tracked files of HEAD under ``code/``; build outputs and links are left out and listed."""
    try:
        commit, dirty = git_state(repo)
    except (OSError, subprocess.SubprocessError):
        raise InputError(repo, "the code package needs a git checkout with a commit") from None
    members = []
    # The source tree is small (the results are not in git): read the archive whole.
    archive = io.BytesIO(git(repo, "archive", "--format=tar", commit))
    with tarfile.open(fileobj=archive, mode="r:") as tar:
        for info in tar:
            if info.isdir() or info.name == "pax_global_header":
                continue
            if info.name.startswith(BUILD_DIRS) and not info.name.startswith(SHIPPED_INPUTS):
                skipped.append({"path": info.name, "reason": "build output tracked in git"})
            elif not info.isfile():
                skipped.append({"path": info.name, "reason": "not a regular file (link)"})
            else:
                members.append(Member(f"code/{info.name}", "code", data=tar.extractfile(info).read()))
    return members, {"commit": commit, "dirty": dirty, "files": len(members)}


def relative(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` as a POSIX string; paths outside the build tree are refused."""
    resolved = path.resolve() if path.is_absolute() else (base / path).resolve()
    try:
        return resolved.relative_to(base.resolve()).as_posix()
    except ValueError:
        raise InputError(path, f"is outside the build folder {base}: bundle inputs must be inside it") \
            from None


def require_file(path: Path) -> Path:
    if not path.is_file():
        raise InputError(path, "file not found")
    return path


def report_member(spec: str, base: Path) -> Member:
    """``PATH`` of a report (or ``KIND=PATH``, checked): its kind is the one it carries."""
    expected, _, name = spec.rpartition("=") if "=" in spec else (None, "", spec)
    path = require_file(Path(name))
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not a JSON report ({exc})") from None
    kind = document.get("kind") if isinstance(document, dict) else None
    if kind not in artifact_kinds():
        raise InputError(path, f"not a mathlora report: kind {kind!r}", field="kind")
    if expected and expected != kind:
        raise InputError(path, f"a {kind} report where a {expected} report was given", field="kind")
    validate(document, kind, source=path)
    return Member(relative(path, base), "report", source=path, kind=kind)


def text_with_placeholders(path: Path, roots: dict[str, str]) -> tuple[bytes, int]:
    """A log's bytes with this machine's folders replaced (undecodable bytes kept as they were)."""
    text = path.read_bytes().decode("utf-8", errors="surrogateescape")
    text, count = scan.redact_roots(text, roots)
    return text.encode("utf-8", errors="surrogateescape"), count


def file_member(path: Path, role: str, base: Path, roots: dict[str, str],
                skipped: list[dict[str, str]]) -> Member | None:
    """A log or benchmark file, redacted; symbolic links and huge files are listed as skipped."""
    rel = relative(path, base)
    if path.is_symlink():
        skipped.append({"path": rel, "reason": "symbolic link"})
        return None
    if path.stat().st_size > MAX_LOG_BYTES:
        skipped.append({"path": rel, "reason": f"larger than {MAX_LOG_BYTES} bytes"})
        return None
    data, count = text_with_placeholders(path, roots)
    return Member(rel, role, data=data, redacted=count)


def tree_members(folder: Path, base: Path, roots: dict[str, str],
                 skipped: list[dict[str, str]]) -> list[Member]:
    """Every file under a log folder (sorted, hidden files left out)."""
    if not folder.is_dir():
        return []
    paths = [p for p in sorted(folder.rglob("*"))
             if p.is_symlink() or (p.is_file() and not p.name.startswith("."))]
    return [m for m in (file_member(p, "log", base, roots, skipped) for p in paths) if m]


# --- writing ---------------------------------------------------------------------------------------

def chunks(member: Member) -> Iterator[bytes]:
    if member.data is not None:
        yield member.data
        return
    with member.source.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def zip_info(name: str, suffix: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.create_system = 3  # unix, so the mode below is read as a regular file
    info.external_attr = 0o100644 << 16
    info.compress_type = zipfile.ZIP_STORED if suffix in STORED_SUFFIXES else zipfile.ZIP_DEFLATED
    return info


def write_member(archive: zipfile.ZipFile, root: str, member: Member) -> dict[str, Any]:
    """Stream one member into the archive, hashing what is written."""
    digest, size = hashlib.sha256(), 0
    info = zip_info(f"{root}/{member.path}", Path(member.path).suffix)
    with archive.open(info, "w", force_zip64=True) as stream:
        for chunk in chunks(member):
            digest.update(chunk)
            size += len(chunk)
            stream.write(chunk)
    entry: dict[str, Any] = {"path": member.path, "size": size, "sha256": digest.hexdigest(),
                             "role": member.role}
    if member.kind:
        entry["kind"] = member.kind
    if member.redacted:
        entry["redacted"] = member.redacted
    return entry


def write_bundle(out: Path, name: str, members: list[Member], *, checkpoints: str,
                 code: dict[str, Any], skipped: list[dict[str, str]]) -> dict[str, Any]:
    """Write the zip atomically; returns the manifest (also stored as ``<name>/manifest.json``)."""
    duplicates = sorted(p for p, n in Counter(m.path for m in members).items() if n > 1)
    if duplicates:
        raise ArtifactError(f"two bundle members would share the paths {duplicates[:5]}")
    with atomic_output(out, suffix=".zip") as tmp:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as archive:
            entries = [write_member(archive, name, m) for m in sorted(members, key=lambda m: m.path)]
            manifest = {"schema_version": schema_version("manifest"), "name": name, "root": name,
                        "checkpoints": checkpoints, "code": code, "members": entries,
                        "skipped": skipped, "provenance": provenance()}
            validate(manifest, "manifest", source=f"{out}:manifest.json")
            archive.writestr(zip_info(f"{name}/manifest.json", ".json"),
                             dump_json(manifest).encode("utf-8"))
    return manifest


@dataclass(frozen=True)
class Contents:
    """What goes into a bundle (paths relative to the build folder)."""

    repo: Path
    report: Path
    submission_dir: Path
    yaml: Path
    checkpoints: str  # local | links
    artifacts: tuple[str, ...] = ()
    figures: tuple[Path, ...] = ()
    checkpoint_files: tuple[Path, ...] = ()
    logs: tuple[Path, ...] = ()        # log files of the graph's jobs (those not written are absent)
    log_dirs: tuple[Path, ...] = ()    # folders of logs the jobs' programs write (MindFormers, msrun)
    benchmarks: tuple[Path, ...] = ()


def declared_files(paths: tuple[Path, ...], role: str, base: Path, roots: dict[str, str],
                   skipped: list[dict[str, str]]) -> list[Member]:
    """The declared log or benchmark files that exist (a job this run did not need has none)."""
    found = [file_member(p, role, base, roots, skipped) for p in sorted(set(paths)) if p.is_file()]
    return [m for m in found if m]


def collect(contents: Contents, base: Path) -> tuple[list[Member], dict[str, Any], list[dict]]:
    skipped: list[dict[str, str]] = []
    roots = scan.build_roots()
    members, code = code_members(contents.repo, skipped)
    members.append(Member("REPORT.md", "document", source=require_file(contents.report)))
    submission = sorted(p for p in contents.submission_dir.iterdir()
                        if p.is_file() and not p.name.startswith(".")) \
        if contents.submission_dir.is_dir() else []
    if not submission:
        raise InputError(contents.submission_dir, "no submission files (run_llama3_test.py, links.yaml)")
    members += [Member(f"submission/{p.name}", "submission", source=p) for p in submission]
    links = load_links(contents.submission_dir / "links.yaml")
    if contents.checkpoints == "links":
        placeholders = [u for u in all_urls(links) if is_placeholder(u)]
        if placeholders:
            raise ConfigError(f"{contents.submission_dir / 'links.yaml'}: {len(placeholders)} URLs are "
                              "placeholders on .invalid; put the published https links there first")
        if contents.checkpoint_files:
            raise ConfigError("--checkpoints links bundles no checkpoint files; drop --checkpoint")
    elif not contents.checkpoint_files:
        raise ConfigError("--checkpoints local needs the merged checkpoints (--checkpoint PATH ...)")
    members.append(Member(relative(require_file(contents.yaml), base), "yaml", source=contents.yaml))
    members += [report_member(spec, base) for spec in contents.artifacts]
    members += [Member(relative(require_file(p), base), "figure", source=p) for p in contents.figures]
    checkpoints = [Member(relative(require_file(p), base), "checkpoint", source=p)
                   for p in contents.checkpoint_files]
    misplaced = [m.path for m in checkpoints if not role_fits("checkpoint", m.path)]
    if misplaced:
        raise ConfigError(f"--checkpoint {misplaced[0]}: a bundle ships the graph's merged "
                          "checkpoints, results/<run>/merged/ckpt<k>.ckpt, and judges take no other")
    members += checkpoints
    members += declared_files(contents.logs, "log", base, roots, skipped)
    for folder in contents.log_dirs:
        members += tree_members(folder, base, roots, skipped)
    members += declared_files(contents.benchmarks, "benchmark", base, roots, skipped)
    return members, code, skipped
