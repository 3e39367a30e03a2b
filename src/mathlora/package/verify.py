"""Verify a submission zip without extracting it; exit 0 only when every check passes.

The archive is first inspected from its central directory alone (member names, symlinks,
encryption, sizes, compression ratios); only a safe archive is read further, member by member
through size-limited streams. Then: the manifest against the members (presence, sizes, sha256),
every JSON report against its schema, the required contents, the low-parameter ratio recounted
from the bundled yaml against the reported one, https links, no absolute paths of the build
machine and no secrets. The checkpoints are walked through their framing (a truncated
or damaged file fails, whatever the manifest says). Every check is listed in the report (``--json`` prints it as JSON,
``--out`` writes it as a ``verify`` artifact).
"""

from __future__ import annotations

import hashlib
import io
import json
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mathlora.artifacts import file_sha256, validate
from mathlora.contest import OFFICIAL_DENOMINATOR
from mathlora.errors import InputError, MathloraError
from mathlora.model.params import params_counts
from mathlora.package import scan
from mathlora.package.bundle import role_fits
from mathlora.package.links import all_urls, is_placeholder, parse_links

MANIFEST = "manifest.json"
RATIO_TOLERANCE = 1e-12
# Roles whose text is scanned for any absolute path; code is only checked against the build roots
# (source code legitimately mentions example paths).
GENERIC_PATH_ROLES = {"submission", "report", "document", "log", "benchmark", "yaml", "manifest"}
UNSCANNED_ROLES = {"checkpoint", "figure"}
REQUIRED_PATHS = ("REPORT.md", "submission/run_llama3_test.py", "submission/links.yaml",
                  "code/pyproject.toml", "code/Snakefile", "code/src/mathlora/__init__.py")
REQUIRED_KINDS = ("prepare", "params", "math", "squad", "summary")


@dataclass(frozen=True)
class Limits:
    """What a safe archive may hold; anything beyond is refused before a byte is decompressed."""

    max_members: int = 100_000
    max_member_bytes: int = 40 * 2**30     # a full bf16 Llama3-8B checkpoint is ~16 GB
    max_total_bytes: int = 256 * 2**30
    max_ratio: float = 200.0               # uncompressed / compressed, for members above ratio_floor
    ratio_floor: int = 4 * 2**20
    max_text_bytes: int = 64 * 2**20       # members read whole (JSON, yaml, text scans)


@dataclass
class Check:
    name: str
    status: str  # pass | fail | skip
    detail: str


@dataclass
class Outcome:
    checks: list[Check] = field(default_factory=list)
    manifest: dict[str, Any] | None = None  # the manifest, once it passed manifest.valid

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, "pass" if ok else "fail", detail))
        return ok

    def skip(self, name: str, detail: str) -> None:
        self.checks.append(Check(name, "skip", detail))

    @property
    def failures(self) -> int:
        return sum(c.status == "fail" for c in self.checks)

    @property
    def ok(self) -> bool:
        return self.failures == 0

    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]


class MemberTooLarge(Exception):
    pass


# A recount takes the path of a MindFormers yaml and returns {"trainable": int, "ratio": float}.
Recount = Callable[[Path], dict[str, Any]]


def recount_with_cli(yaml_path: Path) -> dict[str, Any]:
    """Count the trainable parameters of the network the yaml describes (``mathlora params``).

    Runs in a child process so MindSpore's memory and threads go away with it.
    """
    command = [sys.executable, "-m", "mathlora.cli", "params", "--yaml", str(yaml_path), "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise MathloraError(f"mathlora params failed: {done.stderr.strip()[-800:]}")
    result = last_json_object(done.stdout)
    if result is None:
        raise MathloraError(f"mathlora params printed no JSON: {done.stdout[-300:]!r}")
    return params_counts(result, "mathlora params --json")


def last_json_object(text: str) -> dict[str, Any] | None:
    """The JSON object that ends ``text`` (libraries may print lines before it)."""
    starts = [i for i, line in enumerate(text.splitlines(keepends=True)) if line.startswith("{")]
    lines = text.splitlines(keepends=True)
    for start in starts:
        try:
            value = json.loads("".join(lines[start:]))
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


# --- archive safety (central directory only) ------------------------------------------------------

def unsafe_name(name: str) -> str | None:
    """Why a member name could write outside the folder it is extracted to, or None."""
    if not name or "\x00" in name:
        return "empty name or NUL byte"
    if "\\" in name:
        return "backslash in name"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if any(part in ("..", ".") for part in name.rstrip("/").split("/")) or "//" in name:
        return "'..', '.' or empty path component"
    return None


def is_symlink(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return stat.S_ISLNK(mode)


def is_special(info: zipfile.ZipInfo) -> bool:
    """A device, fifo or socket: anything a Unix mode marks as neither file, folder nor link."""
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    return kind not in (0, stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK)


def name_problems(infos: list[zipfile.ZipInfo]) -> list[str]:
    """Member names that could write outside the extraction folder, and repeated names."""
    bad = [f"{i.filename!r}: {why}" for i in infos if (why := unsafe_name(i.filename))]
    duplicates = sorted(n for n, count in Counter(i.filename for i in infos).items() if count > 1)
    return bad + [f"duplicate {d!r}" for d in duplicates]


def link_problems(infos: list[zipfile.ZipInfo]) -> list[str]:
    return ([f"symlink {i.filename!r}" for i in infos if is_symlink(i)]
            + [f"special file {i.filename!r}" for i in infos if is_special(i)])


def encryption_problems(infos: list[zipfile.ZipInfo]) -> list[str]:
    return [f"encrypted {i.filename!r}" for i in infos if i.flag_bits & 0x1]


def size_problems(infos: list[zipfile.ZipInfo], limits: Limits) -> list[str]:
    total = sum(i.file_size for i in infos)
    oversized = [f"{i.filename} ({i.file_size} bytes)" for i in infos
                 if i.file_size > limits.max_member_bytes]
    problems = oversized[:5]  # the count and total stay visible however many members are too big
    if len(oversized) > 5:
        problems.append(f"{len(oversized)} members above {limits.max_member_bytes} bytes")
    if len(infos) > limits.max_members:
        problems.append(f"{len(infos)} members > {limits.max_members}")
    if total > limits.max_total_bytes:
        problems.append(f"total {total} bytes > {limits.max_total_bytes}")
    return problems


def ratio_problems(infos: list[zipfile.ZipInfo], limits: Limits) -> list[str]:
    return [f"{i.filename} ({i.file_size / max(i.compress_size, 1):.0f}:1)" for i in infos
            if i.file_size > limits.ratio_floor
            and i.file_size / max(i.compress_size, 1) > limits.max_ratio]


def hazards(infos: list[zipfile.ZipInfo], limits: Limits) -> list[str]:
    """Everything in a central directory that makes extracting the archive unsafe."""
    return (name_problems(infos) + link_problems(infos) + encryption_problems(infos)
            + size_problems(infos, limits)
            + [f"compression ratio above {limits.max_ratio:.0f}:1: {p}" for p in ratio_problems(infos, limits)])


def check_archive(infos: list[zipfile.ZipInfo], limits: Limits, out: Outcome) -> str | None:
    """Safety checks from the central directory; returns the single root folder if all pass."""
    bad = name_problems(infos)
    roots = {i.filename.split("/", 1)[0] for i in infos if not unsafe_name(i.filename)}
    loose = [i.filename for i in infos if "/" not in i.filename.rstrip("/")
             and not i.filename.endswith("/")]
    ok = out.add("archive.member_names", not bad and len(roots) == 1 and not loose,
                 "; ".join(bad[:10] + ([f"members under {len(roots)} top-level folders {sorted(roots)[:5]}"]
                                       if len(roots) != 1 else [])
                           + [f"{n!r} is not inside a folder" for n in loose[:5]])
                 or f"{len(infos)} members, all relative, under one folder")
    links = link_problems(infos)
    ok &= out.add("archive.no_symlinks", not links,
                  "; ".join(links[:10]) or "no symbolic links or special files")
    encrypted = encryption_problems(infos)
    ok &= out.add("archive.no_encryption", not encrypted,
                  "; ".join(encrypted[:5]) or "no encrypted members")
    sizes = size_problems(infos, limits)
    ok &= out.add("archive.sizes", not sizes,
                  "; ".join(sizes) or f"{sum(i.file_size for i in infos)} bytes uncompressed, "
                  f"largest member {max((i.file_size for i in infos), default=0)} <= "
                  f"{limits.max_member_bytes}")
    ratios = ratio_problems(infos, limits)
    ok &= out.add("archive.compression_ratio", not ratios,
                  f"compression ratio above {limits.max_ratio:.0f}:1: {ratios[:5]}" if ratios
                  else f"no member above {limits.max_ratio:.0f}:1")
    return roots.pop() if ok else None


# --- member reading (streams, never extraction) -----------------------------------------------------

def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """The bytes of one member, refusing to decompress more than ``limit`` bytes."""
    if info.file_size > limit:
        raise MemberTooLarge(f"{info.filename}: {info.file_size} bytes > {limit}")
    chunks, size = [], 0
    with archive.open(info) as stream:
        while chunk := stream.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise MemberTooLarge(f"{info.filename}: more than {limit} bytes")
            chunks.append(chunk)
    return b"".join(chunks)


def hash_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with archive.open(info) as stream:
        while chunk := stream.read(1 << 20):
            size += len(chunk)
            if size > info.file_size:  # zipfile stops at the declared size; belt and braces
                raise MemberTooLarge(f"{info.filename}: longer than its declared {info.file_size} bytes")
            digest.update(chunk)
    return digest.hexdigest(), size


class MemberWindow:
    """The bytes of a stored (uncompressed) member, read in place from the zip file with real seeks:
    walking a 16 GB checkpoint's framing then reads a few bytes per tensor, not the whole file."""

    def __init__(self, handle, start: int, size: int) -> None:
        self.handle, self.start, self.size, self.position = handle, start, size, 0

    def seek(self, position: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.position, 2: self.size}[whence]
        self.position = max(0, base + position)
        return self.position

    def tell(self) -> int:
        return self.position

    def read(self, count: int = -1) -> bytes:
        left = max(0, self.size - self.position)
        count = left if count is None or count < 0 else min(count, left)
        self.handle.seek(self.start + self.position)
        data = self.handle.read(count)
        self.position += len(data)
        return data


def member_stream(archive: zipfile.ZipFile, info: zipfile.ZipInfo, raw: io.BufferedReader):
    """A seekable view of one member: in place for a stored member, else zipfile's own stream."""
    if info.compress_type == zipfile.ZIP_STORED and not info.flag_bits & 0x1:
        raw.seek(info.header_offset)
        header = raw.read(30)
        if len(header) == 30 and header[:4] == b"PK\x03\x04":
            name_length, extra_length = int.from_bytes(header[26:28], "little"), \
                int.from_bytes(header[28:30], "little")
            return MemberWindow(raw, info.header_offset + 30 + name_length + extra_length,
                                info.file_size)
    return archive.open(info)


def checkpoint_layout(archive: zipfile.ZipFile, info: zipfile.ZipInfo, raw) -> dict[str, list[int]]:
    """Tag -> the lengths of its values, from the framing alone (see ``checkpoint_file.index``)."""
    from mathlora.model import checkpoint_file

    stream = member_stream(archive, info, raw)
    try:
        found = checkpoint_file.index_stream(stream, info.file_size, info.filename)
    finally:
        if not isinstance(stream, MemberWindow):
            stream.close()
    return {tag: [v.length for v in values] for tag, values in found.items()}


# --- the checks -------------------------------------------------------------------------------------

class Verifier:
    def __init__(self, archive: zipfile.ZipFile, root: str, limits: Limits, out: Outcome,
                 recount: Recount | None, build_roots: list[str], fail_fast: bool = False) -> None:
        self.archive, self.root, self.limits, self.out = archive, root, limits, out
        self.fail_fast = fail_fast
        self.recount, self.roots = recount, scan.root_pattern(build_roots)
        self.infos = {i.filename[len(root) + 1:]: i for i in archive.infolist()
                      if not i.filename.endswith("/")}
        self.manifest: dict[str, Any] | None = None
        self.entries: dict[str, dict[str, Any]] = {}
        self._cache: dict[str, bytes] = {}

    def read(self, rel: str) -> bytes:
        if rel not in self._cache:
            self._cache[rel] = read_member(self.archive, self.infos[rel], self.limits.max_text_bytes)
        return self._cache[rel]

    def read_json(self, rel: str) -> Any:
        return json.loads(self.read(rel).decode("utf-8"))

    CHECKS = ("manifest.members", "manifest.roles", "manifest.sha256", "checkpoints.readable",
              "contents.required", "json.schemas", "links.https", "ratio.recomputed",
              "paths.no_absolute", "secrets.none")

    def run(self) -> None:
        if not self.check_manifest():
            for name in self.CHECKS:
                self.out.skip(name, "no valid manifest to check against")
            return
        steps = (self.check_members, self.check_roles, self.check_hashes, self.check_checkpoints,
                 self.check_required, self.check_json, self.check_links, self.check_ratio,
                 self.check_text)
        for step in steps:
            if self.fail_fast and not self.out.ok:  # a judge stops at the first failure
                done = {c.name for c in self.out.checks}
                for name in (n for n in self.CHECKS if n not in done):
                    self.out.skip(name, "not run: an earlier check failed")
                return
            step()

    def check_manifest(self) -> bool:
        if MANIFEST not in self.infos:
            return self.out.add("manifest.valid", False, f"{self.root}/{MANIFEST} is missing")
        try:
            manifest = self.read_json(MANIFEST)
            validate(manifest, "manifest", source=MANIFEST)
        except (MathloraError, MemberTooLarge, UnicodeDecodeError, json.JSONDecodeError,
                zipfile.BadZipFile) as exc:
            return self.out.add("manifest.valid", False, f"{MANIFEST}: {exc}")
        if manifest["root"] != self.root:
            return self.out.add("manifest.valid", False,
                                f"manifest root {manifest['root']!r} but members are under {self.root!r}")
        paths = [e["path"] for e in manifest["members"]]
        unsafe = [p for p in paths if unsafe_name(p)]
        if unsafe or len(set(paths)) != len(paths):
            return self.out.add("manifest.valid", False, f"unsafe or repeated paths: {unsafe[:5]}")
        self.manifest, self.entries = manifest, {e["path"]: e for e in manifest["members"]}
        self.out.manifest = manifest
        return self.out.add("manifest.valid", True,
                            f"{len(paths)} members listed, checkpoints: {manifest['checkpoints']}")

    def check_members(self) -> None:
        present = set(self.infos) - {MANIFEST}
        listed = set(self.entries)
        missing = sorted(listed - present)
        extra = sorted(present - listed)
        wrong = sorted(p for p in listed & present if self.infos[p].file_size != self.entries[p]["size"])
        detail = "; ".join(filter(None, [
            f"listed but missing: {missing[:5]}" if missing else "",
            f"present but not listed: {extra[:5]}" if extra else "",
            f"size differs: {wrong[:5]}" if wrong else ""]))
        self.out.add("manifest.members", not (missing or extra or wrong),
                     detail or f"all {len(listed)} listed members present with their sizes")

    def check_roles(self) -> None:
        wrong = [f"{p} as {e['role']}" for p, e in sorted(self.entries.items())
                 if not role_fits(e["role"], p)]
        self.out.add("manifest.roles", not wrong,
                     f"roles that do not fit their paths: {wrong[:5]}" if wrong
                     else "every role fits where the bundle puts it (checkpoints: "
                          "results/<run>/merged/ckpt<k>.ckpt)")

    def check_checkpoints(self) -> None:
        """Each checkpoint's framing is whole, and all hold the same tensors with the same sizes."""
        names = self.members_with("checkpoint")
        if not names:
            self.out.add("checkpoints.readable", True, "no checkpoint members (links)")
            return
        layouts, problems = {}, []
        with open(self.archive.filename, "rb") as raw:
            for rel in names:
                try:
                    layouts[rel] = checkpoint_layout(self.archive, self.infos[rel], raw)
                except (MathloraError, zipfile.BadZipFile, OSError, EOFError) as exc:
                    problems.append(f"{rel}: {getattr(exc, 'problem', exc)}")
        if layouts and not problems:
            first, layout = next(iter(layouts.items()))
            for rel, other in layouts.items():
                if other != layout:
                    missing = sorted(set(layout) - set(other))
                    problems.append(f"{rel}: {len(other)} tensors, {first} {len(layout)}"
                                    + (f" (missing {missing[:3]})" if missing else
                                       " (tensor sizes differ)"))
        self.out.add("checkpoints.readable", not problems, "; ".join(problems[:5])
                     or f"{len(names)} checkpoints whole, each {len(next(iter(layouts.values())))} "
                        "tensors of the same sizes")

    def check_hashes(self) -> None:
        wrong, errors = [], []
        for rel, entry in sorted(self.entries.items()):
            if rel not in self.infos:
                continue
            try:
                digest, size = hash_member(self.archive, self.infos[rel])
            except (zipfile.BadZipFile, MemberTooLarge, OSError, EOFError) as exc:
                errors.append(f"{rel}: {exc}")
                continue
            if digest != entry["sha256"] or size != entry["size"]:
                wrong.append(rel)
        self.out.add("manifest.sha256", not wrong and not errors,
                     "; ".join([f"sha256 differs: {wrong[:5]}"] * bool(wrong) + errors[:5])
                     or f"sha256 of {len(self.entries)} members match")

    def members_with(self, role: str) -> list[str]:
        return sorted(p for p, e in self.entries.items() if e["role"] == role and p in self.infos)

    def check_required(self) -> None:
        problems = [f"missing {p}" for p in REQUIRED_PATHS if p not in self.infos]
        kinds = {e.get("kind") for e in self.entries.values() if e["role"] == "report"}
        problems += [f"no {k} report" for k in REQUIRED_KINDS if k not in kinds]
        if not self.members_with("log"):
            problems.append("no logs")
        if len(self.members_with("yaml")) != 1:
            problems.append(f"expected one training yaml (role yaml), found {self.members_with('yaml')}")
        if not [p for p in self.members_with("code") if p.startswith("code/src/")]:
            problems.append("no source code under code/src/")
        checkpoints = self.members_with("checkpoint")
        if self.manifest["checkpoints"] == "local" and not checkpoints:
            problems.append("checkpoints: local, but no checkpoint members")
        if self.manifest["checkpoints"] == "links" and checkpoints:
            problems.append("checkpoints: links, but checkpoint files are bundled too")
        self.out.add("contents.required", not problems, "; ".join(problems)
                     or f"report, predict script, links, code, {len(self.members_with('log'))} logs, "
                        f"reports {sorted(k for k in kinds if k)}, "
                        + (f"{len(checkpoints)} checkpoints" if checkpoints else "checkpoint links"))

    def check_json(self) -> None:
        problems, count = [], 0
        for rel in sorted(self.infos):
            if not rel.endswith(".json") or rel == MANIFEST:
                continue
            entry = self.entries.get(rel, {})
            count += 1
            try:
                document = self.read_json(rel)
                if entry.get("role") == "report":
                    if "kind" not in entry:
                        problems.append(f"{rel}: report without a kind in the manifest")
                    else:
                        validate(document, entry["kind"], source=rel)
                elif rel.endswith(".schema.json"):
                    import jsonschema

                    jsonschema.Draft202012Validator.check_schema(document)
            except (MathloraError, MemberTooLarge, UnicodeDecodeError, json.JSONDecodeError,
                    zipfile.BadZipFile) as exc:
                problems.append(f"{rel}: {exc}")
            except Exception as exc:  # jsonschema.SchemaError and friends
                problems.append(f"{rel}: {type(exc).__name__}: {str(exc)[:200]}")
        self.out.add("json.schemas", not problems, "; ".join(problems[:5])
                     or f"{count} JSON members parse; reports match their schemas")

    def check_links(self) -> None:
        rel = "submission/links.yaml"
        if rel not in self.infos:
            self.out.add("links.https", False, f"{rel} is missing")
            return
        try:
            links = parse_links(self.read(rel).decode("utf-8"), rel)
        except (MathloraError, MemberTooLarge, UnicodeDecodeError) as exc:
            self.out.add("links.https", False, str(exc))
            return
        placeholders = [u for u in all_urls(links) if is_placeholder(u)]
        if self.manifest["checkpoints"] == "links" and placeholders:
            self.out.add("links.https", False, f"{len(placeholders)} placeholder URLs on .invalid "
                                               "remain; replace them with the published links")
            return
        note = f" ({len(placeholders)} placeholders; checkpoints are bundled)" if placeholders else ""
        self.out.add("links.https", True,
                     f"code package + {len(links['checkpoints'])} checkpoint links, all https{note}")

    def check_ratio(self) -> None:
        reports = [p for p in self.members_with("report") if self.entries[p].get("kind") == "params"]
        yamls = self.members_with("yaml")
        if len(reports) != 1 or len(yamls) != 1:
            self.out.add("ratio.recomputed", False, "needs exactly one params report and one yaml")
            return
        if self.recount is None:
            self.out.skip("ratio.recomputed", "recount disabled (--no-recount)")
            return
        try:
            reported = self.read_json(reports[0])
            with tempfile.TemporaryDirectory(prefix="mathlora-verify-") as tmp:
                path = Path(tmp) / "finetune.yaml"
                path.write_bytes(self.read(yamls[0]))
                counted = self.recount(path)
        except (MathloraError, MemberTooLarge, UnicodeDecodeError, json.JSONDecodeError, KeyError,
                ValueError, OSError, subprocess.SubprocessError) as exc:
            self.out.add("ratio.recomputed", False, f"could not recount: {exc}")
            return
        problems = []
        try:
            claimed = params_counts(reported, reports[0])
        except MathloraError as exc:
            claimed = {"trainable": None, "ratio": None}
            problems.append(str(exc))
        if claimed["trainable"] != counted["trainable"]:
            problems.append(f"trainable reported {claimed['trainable']}, counted {counted['trainable']}")
        if claimed["ratio"] is None or abs(claimed["ratio"] - counted["ratio"]) > RATIO_TOLERANCE:
            problems.append(f"ratio reported {claimed['ratio']}, counted {counted['ratio']}")
        expected = counted["trainable"] / OFFICIAL_DENOMINATOR
        if abs(counted["ratio"] - expected) > RATIO_TOLERANCE:
            problems.append(f"ratio {counted['ratio']} is not trainable / {OFFICIAL_DENOMINATOR}")
        for path in (p for p in self.members_with("report") if self.entries[p].get("kind") == "summary"):
            try:
                rows = self.read_json(path)["models"]
                wrong = [r["model"] for r in rows if r["model"] != "base"
                         and abs(r["ratio"] - counted["ratio"]) > RATIO_TOLERANCE]
            except (KeyError, TypeError, ValueError, MemberTooLarge) as exc:
                wrong = [f"unreadable ({exc})"]
            if wrong:
                problems.append(f"{path}: ratio of {wrong[:5]} differs from the recount")
        self.out.add("ratio.recomputed", not problems, "; ".join(problems)
                     or f"{counted['trainable']} trainable parameters, ratio {counted['ratio']:.9f} "
                        f"recounted from {yamls[0]}")

    def check_text(self) -> None:
        paths, secrets, unread = [], [], []
        for rel in sorted(self.infos):
            role = self.entries.get(rel, {}).get("role", "manifest" if rel == MANIFEST else "code")
            if role in UNSCANNED_ROLES:
                continue
            try:
                text = self.read(rel).decode("utf-8", errors="replace")
            except MemberTooLarge:
                unread.append(rel)
                continue
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                unread.append(f"{rel} ({exc})")
                continue
            self._cache.pop(rel, None)
            found = scan.find_paths(text, roots=self.roots, generic=role in GENERIC_PATH_ROLES)
            if found:
                paths.append(f"{rel}: {found[0]}")
            secrets += [f"{rel}: {name}" for name in scan.find_secrets(text)]
        self.out.add("paths.no_absolute", not paths and not unread,
                     "; ".join(paths[:5] + [f"too large to scan: {u}" for u in unread[:3]])
                     or "no absolute paths of the build machine")
        self.out.add("secrets.none", not secrets and not unread,
                     "; ".join(secrets[:5] + [f"too large to scan: {u}" for u in unread[:3]])
                     or "no access keys, secret keys, tokens or private keys")


def verify_zip(path: str | Path, *, recount: Recount | None = recount_with_cli,
               limits: Limits = Limits(), build_roots: list[str] | None = None,
               fail_fast: bool = False) -> Outcome:
    """Every check of a submission zip, in order; reading stops early for unsafe archives (and,
    with ``fail_fast``, at the first failed check: a judge needs no more to refuse it)."""
    path = Path(path)
    out = Outcome()
    if build_roots is None:
        build_roots = list(scan.build_roots().values())
    if not path.is_file():
        raise InputError(path, "submission zip not found")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        out.add("archive.readable", False, f"not a zip file ({exc})")
        return out
    with archive:
        infos = archive.infolist()
        out.add("archive.readable", bool(infos), f"{len(infos)} members" if infos else "empty archive")
        root = check_archive(infos, limits, out) if infos else None
        if root is None:
            out.skip("contents", "archive is unsafe or empty: members were not read")
            return out
        Verifier(archive, root, limits, out, recount, build_roots, fail_fast).run()
    return out


def payload(path: Path, outcome: Outcome) -> dict[str, Any]:
    return {"bundle": path.name, "bundle_sha256": file_sha256(path), "ok": outcome.ok,
            "failures": outcome.failures,
            "checks": [{"name": c.name, "status": c.status, "detail": c.detail} for c in outcome.checks]}


def render_text(path: Path, outcome: Outcome) -> str:
    lines = [f"{c.status.upper():4}  {c.name}: {c.detail}" for c in outcome.checks]
    verdict = "OK" if outcome.ok else f"FAILED ({outcome.failures} checks)"
    return "\n".join([f"verify {path.name}", *lines, verdict]) + "\n"
