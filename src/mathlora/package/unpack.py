"""Take what judging needs out of an outside submission zip, safely.

A contestant's zip is hostile until checked. Before a byte is extracted, the archive passes the
checks of ``mathlora verify`` that protect the machine, from its central directory alone: member
count and sizes, compression ratios (a zip bomb), names that escape the folder, symbolic links and
special files, encryption. Then only the members judging needs are extracted, each through a
stream that never writes more than the size the archive declares for it, to a temporary name
renamed into place once complete:

- every ``*.ckpt`` member, as ``ckpt1.ckpt .. ckptN.ckpt`` in natural order of their file names
  (the entry's five, earliest first), whatever folders they were in; in a mathlora bundle only
  those its manifest lists as checkpoints (its code package ships the tiny base);
- from a mathlora bundle (one with ``manifest.json``): the training yaml and the params report.

A folder of checkpoints (links downloaded by hand) is taken the same way, without the archive
checks; with ``--links`` (a links.yaml) its files are the ones the links name, in the links' order
(the entry published ``ckpt_merged_res1`` .. ``ckpt_7_28_merged``, most without a ``.ckpt``
suffix, in an order no file-name sort recovers). ``unpack.json`` lists what was taken, from where,
with sizes and sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import zipfile
import zlib
from pathlib import Path
from typing import Any

from mathlora.artifacts import atomic_output, write_artifact
from mathlora.errors import InputError
from mathlora.package.verify import MANIFEST, Limits, hazards

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


def copy_capped(source, target: Path, limit: int, name: str) -> tuple[int, str]:
    """Stream ``source`` into ``target``; refuse to write more than ``limit`` bytes."""
    digest, size = hashlib.sha256(), 0
    with open(target, "wb") as out:
        while chunk := source.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise InputError(name, f"decompresses to more than its declared {limit} bytes; "
                                       "refused (a forged archive)")
            digest.update(chunk)
            out.write(chunk)
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


def unpack_zip(source: Path, out_dir: Path, limits: Limits) -> dict[str, Any]:
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(source, f"not a zip file ({exc})") from None
    with archive:
        safety_checks(archive, source, limits)
        infos = {i.filename: i for i in archive.infolist() if not i.is_dir()}
        manifest = _manifest(archive, infos, source, limits)
        names, skipped = split_checkpoints(list(infos))
        if manifest is not None:
            names, shipped = bundle_checkpoints(names, manifest)
            skipped += shipped
        checkpoints = [infos[name] for name in names]
        names = [Path(i.filename).name for i in checkpoints]
        if len(set(names)) != len(names):
            raise InputError(source, "two checkpoints with the same file name in the bundle")
        wanted = [(info, f"ckpt{k}.ckpt", "checkpoint") for k, info in enumerate(checkpoints, 1)]
        wanted += [(infos[path], target, role) for path, target, role in _manifest_members(manifest)
                   if path in infos]
        taken = []
        for info, target, role in wanted:
            try:
                with atomic_output(out_dir / target, suffix=Path(target).suffix) as tmp, \
                        archive.open(info) as stream:
                    size, digest = copy_capped(stream, tmp, info.file_size, f"{source}:{info.filename}")
            except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
                raise InputError(source, f"{info.filename}: damaged member ({exc}); nothing of it "
                                         "was kept") from None
            taken.append({"member": info.filename, "path": target, "role": role, "size": size,
                          "sha256": digest})
    return {"mathlora_bundle": manifest is not None, "members": taken, "skipped": skipped}


def _manifest(archive, infos, source: Path, limits: Limits) -> dict[str, Any] | None:
    found = [name for name in infos if name.split("/")[-1] == MANIFEST and name.count("/") <= 1]
    if not found:
        return None
    info = infos[found[0]]
    if info.file_size > limits.max_text_bytes:
        raise InputError(source, f"{info.filename}: {info.file_size} bytes is too large for a manifest")
    with archive.open(info) as stream:
        data = stream.read(limits.max_text_bytes + 1)
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(source, f"{info.filename}: not JSON ({exc})") from None
    root = info.filename.rsplit("/", 1)[0] + "/" if "/" in info.filename else ""
    listed = manifest.get("members", []) if isinstance(manifest, dict) else []
    # Members by their archive path; an entry without a path string names nothing to take.
    return {"members": [{**entry, "path": root + entry["path"]} for entry in listed
                        if isinstance(entry, dict) and isinstance(entry.get("path"), str)]}


def bundle_checkpoints(names: list[str], manifest: dict[str, Any]) -> tuple[list[str], list[dict[str, str]]]:
    """The names a mathlora bundle's manifest lists as checkpoints; any other ``*.ckpt`` (the tiny
    base inside its code package) is left out, or it would be judged as one more checkpoint."""
    roles = {entry["path"]: entry.get("role") for entry in manifest["members"]}
    taken = [name for name in names if roles.get(name) == "checkpoint"]
    skipped = [{"member": name, "reason": f"a bundle member of role {roles.get(name)!r}, not a "
                                          "submitted checkpoint"}
               for name in names if roles.get(name) != "checkpoint"]
    return taken, skipped


def _manifest_members(manifest: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    """(archive path, target name, role) of the yaml, the params report and the summary (the
    bundle's own claim, shown beside the judge's numbers) of a mathlora bundle."""
    if manifest is None:
        return []
    out = []
    for entry in manifest["members"]:
        if entry.get("role") == "yaml":
            out.append((entry["path"], "finetune.yaml", "yaml"))
        elif entry.get("role") == "report" and entry.get("kind") in ("params", "summary"):
            out.append((entry["path"], f"{entry['kind']}.json", entry["kind"]))
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
    return {"mathlora_bundle": False, "members": taken, "skipped": skipped}


def unpack(source: str | Path, out_dir: str | Path, limits: Limits = Limits(),
           links: str | Path | None = None) -> dict[str, Any]:
    """Extract the checkpoints (and yaml, params) of a submission into ``out_dir``."""
    source, out_dir = Path(source), Path(out_dir)
    if source.is_dir():
        found = unpack_folder(source, out_dir, Path(links) if links else None)
    elif source.is_file():
        found = unpack_zip(source, out_dir, limits)
    else:
        raise InputError(source, "submission not found")
    if not any(m["role"] == "checkpoint" for m in found["members"]):
        raise InputError(source, "holds no *.ckpt file: a bundle with checkpoint links must be "
                                 "downloaded first (its links.yaml lists them)")
    return {"submission": str(source), **found}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submission", help="a submission zip, or a folder of *.ckpt files")
    parser.add_argument("--out-dir", required=True, help="where ckpt1..N.ckpt (and yaml, params) go")
    parser.add_argument("--out", required=True, help="unpack.json report to write")
    parser.add_argument("--links", help="for a folder: the links.yaml whose checkpoints it holds "
                                        "(their order and file names)")
    parser.add_argument("--max-member-bytes", type=int, default=Limits.max_member_bytes,
                        help="refuse members larger than this (default: %(default)s)")
    parser.add_argument("--max-ratio", type=float, default=Limits.max_ratio,
                        help="refuse members compressed more than this ratio (default: %(default)s)")


def main(args: argparse.Namespace) -> int:
    out_dir = Path(args.out_dir)
    limits = Limits(max_member_bytes=args.max_member_bytes, max_ratio=args.max_ratio)
    # The folder appears whole or not at all; nothing is left from an earlier bundle.
    with atomic_output(out_dir) as staging:
        report = unpack(args.submission, staging, limits, args.links)
        if out_dir.exists():
            shutil.rmtree(out_dir)
    write_artifact(args.out, "unpack", report)
    checkpoints = sum(m["role"] == "checkpoint" for m in report["members"])
    print(f"{args.submission}: {checkpoints} checkpoints, {len(report['members']) - checkpoints} "
          f"other members -> {out_dir}; left out: {len(report['skipped'])}")
    for entry in report["skipped"]:
        print(f"  {entry['member']}: {entry['reason']}")
    return 0
