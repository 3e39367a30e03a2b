"""Take what judging needs out of an outside submission zip, safely.

A contestant's zip is hostile until checked. Before a byte is extracted, the archive passes the
checks of ``mathlora verify`` that protect the machine, from its central directory alone: member
count and sizes, compression ratios (a zip bomb), names that escape the folder, symbolic links and
special files, encryption. A mathlora bundle (one with ``manifest.json``) then passes the whole of
``verify``: every member's size and sha256 against the manifest, roles that fit their paths, whole
checkpoints, schemas, the recounted ratio. Then only the members judging needs are extracted, each
through a stream that never writes more than the size the archive (for a bundle: the manifest)
declares for it and whose sha256 must be the manifest's, to a temporary name renamed into place
once complete:

- from a mathlora bundle: its checkpoints, the members of role ``checkpoint`` at the path the
  bundle gives them (``results/<run>/merged/ckpt<k>.ckpt``), as ``ckpt1.ckpt .. ckptN.ckpt`` in
  natural order; the training yaml and the params report. Any other ``*.ckpt`` (the tiny base of
  its code package) is left out and listed;
- from any other zip: every ``*.ckpt`` member, as ``ckpt1.ckpt .. ckptN.ckpt`` in natural order of
  their file names (the entry's five, earliest first), whatever folders they were in. A zip that
  holds a bundle's contents without its manifest is refused.

A folder of checkpoints (links downloaded by hand) is taken the same way, without the archive
checks; with ``--links`` (a links.yaml) its files are the ones the links name, in the links' order
(the entry published ``ckpt_merged_res1`` .. ``ckpt_7_28_merged``, most without a ``.ckpt``
suffix, in an order no file-name sort recovers). ``unpack.json`` lists what was taken, from where,
with sizes and sha256, and the checks verify passed.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any

from mathlora.artifacts import atomic_output
from mathlora.errors import InputError
from mathlora.package.verify import (
    MANIFEST,
    REQUIRED_PATHS,
    Limits,
    Outcome,
    Recount,
    hazards,
    recount_with_cli,
    verify_zip,
)

CHUNK = 1 << 20


def natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def split_checkpoints(names: list[str]) -> tuple[list[str], list[dict[str, str]]]:
    """The ``*.ckpt`` names that are checkpoints, in natural order, and those left out (with why).

    MindSpore's parallel strategy files share the suffix (``ckpt_strategy_rank_0.ckpt``,
    ``merged_strategy.ckpt``); taken as checkpoints they would shift every number after them.
    """
    taken, skipped = [], []
    for name in names:
        if not name.endswith(".ckpt"):
            continue
        if "strategy" in Path(name).name.lower():
            skipped.append({"member": name, "reason": "a parallel strategy file, not a checkpoint"})
        else:
            taken.append(name)
    return sorted(taken, key=lambda n: natural_key(Path(n).name)), skipped


def copy_capped(source, target: Path, limit: int, name: str,
                expected_sha256: str | None = None) -> tuple[int, str]:
    """Stream ``source`` into ``target``; refuse to write more than ``limit`` bytes, and, when
    ``expected_sha256`` is given (a manifest's word), anything but exactly those bytes."""
    digest, size = hashlib.sha256(), 0
    with open(target, "wb") as out:
        while chunk := source.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise InputError(name, f"decompresses to more than its declared {limit} bytes; "
                                       "refused (a forged archive)")
            digest.update(chunk)
            out.write(chunk)
    if expected_sha256 is not None:
        if size != limit:
            raise InputError(name, f"{size} bytes, but the manifest lists {limit}; refused")
        if digest.hexdigest() != expected_sha256:
            raise InputError(name, f"sha256 {digest.hexdigest()[:16]}... differs from the "
                                   f"manifest's {expected_sha256[:16]}...; refused")
    return size, digest.hexdigest()


def safety_checks(archive: zipfile.ZipFile, source: Path, limits: Limits) -> None:
    """Refuse an archive that is unsafe to extract (verify's protective checks)."""
    infos = archive.infolist()
    if not infos:
        raise InputError(source, "empty archive")
    found = hazards(infos, limits)
    if found:
        raise InputError(source, f"unsafe archive, nothing extracted: {'; '.join(found[:5])}"
                         + (f" (and {len(found) - 5} more)" if len(found) > 5 else ""))


def manifest_members(infos: dict[str, zipfile.ZipInfo]) -> list[str]:
    """Members named ``manifest.json`` at the top or one folder down (where a bundle keeps it)."""
    return [name for name in infos if name.split("/")[-1] == MANIFEST and name.count("/") <= 1]


def looks_like_bundle(infos: dict[str, zipfile.ZipInfo]) -> bool:
    """A mathlora bundle's required contents under one folder, manifest or not."""
    roots = {name.split("/", 1)[0] for name in infos if "/" in name}
    return any(all(f"{root}/{rel}" in infos for rel in REQUIRED_PATHS) for root in roots)


def check_submission(source: str | Path, limits: Limits = Limits(),
                     recount: Recount | None = recount_with_cli) -> Outcome | None:
    """Refuse a submission zip that is unsafe to extract or, for a mathlora bundle, fails any
    check of ``verify`` (stopping at the first failure). Returns verify's outcome for a bundle,
    None for a zip without a manifest."""
    source = Path(source)
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(source, f"not a zip file ({exc})") from None
    with archive:
        safety_checks(archive, source, limits)
        infos = {i.filename: i for i in archive.infolist() if not i.is_dir()}
        if not manifest_members(infos):
            if looks_like_bundle(infos):
                raise InputError(source, f"holds a mathlora bundle's contents without its {MANIFEST}; "
                                         "refused (nothing to check its members against)")
            return None
    outcome = verify_zip(source, recount=recount, limits=limits, fail_fast=True)
    if not outcome.ok:
        failed = outcome.failed()
        raise InputError(source, "verify failed, nothing extracted: " + "; ".join(
            f"{c.name}: {c.detail}" for c in failed[:3]))
    return outcome


def unpack_zip(source: Path, out_dir: Path, limits: Limits,
               recount: Recount | None = recount_with_cli) -> dict[str, Any]:
    outcome = check_submission(source, limits, recount)
    with zipfile.ZipFile(source) as archive:
        infos = {i.filename: i for i in archive.infolist() if not i.is_dir()}
        names, skipped = split_checkpoints(list(infos))
        expected: dict[str, dict[str, Any]] = {}  # member -> its manifest entry
        extra: list[tuple[str, str, str]] = []
        if outcome is not None:
            root = outcome.manifest["root"]
            expected = {f"{root}/{e['path']}": e for e in outcome.manifest["members"]}
            names, shipped = bundle_checkpoints(names, expected)
            skipped += shipped
            extra = bundle_extras(expected)
        checkpoints = [infos[name] for name in names]
        names = [Path(i.filename).name for i in checkpoints]
        if len(set(names)) != len(names):
            raise InputError(source, "two checkpoints with the same file name in the bundle")
        wanted = [(info, f"ckpt{k}.ckpt", "checkpoint") for k, info in enumerate(checkpoints, 1)]
        wanted += [(infos[path], target, role) for path, target, role in extra if path in infos]
        taken = []
        for info, target, role in wanted:
            entry = expected.get(info.filename)
            limit = entry["size"] if entry else info.file_size
            try:
                with atomic_output(out_dir / target, suffix=Path(target).suffix) as tmp, \
                        archive.open(info) as stream:
                    size, digest = copy_capped(stream, tmp, limit, f"{source}:{info.filename}",
                                               entry["sha256"] if entry else None)
            except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
                raise InputError(source, f"{info.filename}: damaged member ({exc}); nothing of it "
                                         "was kept") from None
            taken.append({"member": info.filename, "path": target, "role": role, "size": size,
                          "sha256": digest})
    verified = None if outcome is None else [
        {"name": c.name, "status": c.status, "detail": c.detail} for c in outcome.checks]
    return {"mathlora_bundle": outcome is not None, "verified": verified, "members": taken,
            "skipped": skipped}


def bundle_checkpoints(names: list[str], entries: dict[str, dict[str, Any]]) -> tuple[list[str], list[dict[str, str]]]:
    """The ``*.ckpt`` members a mathlora bundle ships as checkpoints (role and path as the bundle
    writes them, which verify checked); any other (the tiny base inside its code package) is left
    out, or it would be judged as one more checkpoint."""
    taken = [name for name in names if entries.get(name, {}).get("role") == "checkpoint"]
    skipped = [{"member": name, "reason": f"a bundle member of role "
                                          f"{entries.get(name, {}).get('role')!r}, not a submitted checkpoint"}
               for name in names if name not in taken]
    return taken, skipped


def bundle_extras(entries: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(archive path, target name, role) of the yaml, the params report and the summary (the
    bundle's own claim, shown beside the judge's numbers) of a mathlora bundle."""
    out = []
    for member, entry in entries.items():
        if entry.get("role") == "yaml":
            out.append((member, "finetune.yaml", "yaml"))
        elif entry.get("role") == "report" and entry.get("kind") in ("params", "summary"):
            out.append((member, f"{entry['kind']}.json", entry["kind"]))
    return out[:3]


def linked_files(source: Path, links_path: Path) -> list[Path]:
    """The files of ``source`` that the links name, in training order."""
    from urllib.parse import unquote, urlsplit

    from mathlora.package.links import load_links

    links = load_links(links_path)
    files = []
    for item in links["checkpoints"]:
        name = unquote(urlsplit(item["url"]).path.rsplit("/", 1)[-1])
        path = source / name
        if not path.is_file() or path.is_symlink():
            raise InputError(path, f"checkpoint {item['index']} of {links_path} ({item['url']}) was "
                                   "not downloaded into the folder")
        files.append(path)
    return files


def unpack_folder(source: Path, out_dir: Path, links: Path | None = None) -> dict[str, Any]:
    skipped: list[dict[str, str]] = []
    if links is not None:
        checkpoints = linked_files(source, links)
    else:
        files = [p.name for p in source.glob("*.ckpt") if p.is_file() and not p.is_symlink()]
        names, skipped = split_checkpoints(files)
        checkpoints = [source / name for name in names]
    taken = []
    for k, path in enumerate(checkpoints, 1):
        with atomic_output(out_dir / f"ckpt{k}.ckpt", suffix=".ckpt") as tmp, path.open("rb") as stream:
            size, digest = copy_capped(stream, tmp, path.stat().st_size, str(path))
        taken.append({"member": path.name, "path": f"ckpt{k}.ckpt", "role": "checkpoint",
                      "size": size, "sha256": digest})
    return {"mathlora_bundle": False, "verified": None, "members": taken, "skipped": skipped}


def unpack(source: str | Path, out_dir: str | Path, limits: Limits = Limits(),
           links: str | Path | None = None,
           recount: Recount | None = recount_with_cli) -> dict[str, Any]:
    """Extract the checkpoints (and yaml, params) of a submission into ``out_dir``."""
    source, out_dir = Path(source), Path(out_dir)
    if source.is_dir():
        found = unpack_folder(source, out_dir, Path(links) if links else None)
    elif source.is_file():
        found = unpack_zip(source, out_dir, limits, recount)
    else:
        raise InputError(source, "submission not found")
    if not any(m["role"] == "checkpoint" for m in found["members"]):
        raise InputError(source, "holds no *.ckpt file: a bundle with checkpoint links must be "
                                 "downloaded first (its links.yaml lists them)")
    return {"submission": str(source), **found}
