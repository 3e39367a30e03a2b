"""Judge a submission: ``snakemake judge`` on it, with the graph's own rules.

Judging is a target of the workflow (``workflow/rules/judge.smk``): a zip passes verify's
protective checks, and a mathlora bundle the whole of ``verify``, before anything is extracted or
scored; each checkpoint becomes full weights (merged here when the LoRA matrices are still inside,
or onto the base for a LoRA-only file), and the same evaluate, math and summary commands as the
graph's own models score it. This command first runs ``mathlora verify --fail-fast`` on a bundle,
so a tampered one is refused in seconds, before Snakemake starts; then it builds the Snakemake
call: the configuration (``--configfile``) names the tokenizer, the SQuAD dev file, the base model
and the test set; ``--submission`` and ``--test`` override the last two of ``evaluate``. The
configuration's model must be the submission's: the shape of the training yaml a bundle ships (its
manifest's ``yaml`` member) or a folder's yaml is read first; without ``--configfile`` the
project's configuration of that shape is taken (config/config.yaml when the submission names
none), and a configuration of another shape is refused naming both. To rescore a saved
``result_npy.npy`` without a model, use ``mathlora rescore``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import yaml

from mathlora.errors import ConfigError, InputError

DEFAULT_CONFIG = "config/config.yaml"
# The keys that fix a checkpoint's shapes; the vocabulary may come from the tokenizer instead.
SHAPE_KEYS = ("hidden_size", "num_layers", "num_heads", "n_kv_heads", "intermediate_size")
YAML_LIMIT = 1 << 20  # a model yaml is a few KB; more is not one


def _shape(model: Any) -> dict[str, Any] | None:
    if not isinstance(model, dict) or any(key not in model for key in SHAPE_KEYS):
        return None
    return {key: model[key] for key in SHAPE_KEYS}


def _yaml_shape(text: bytes) -> dict[str, Any] | None:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    model = document.get("model") if isinstance(document, dict) else None
    return _shape(model.get("model_config") if isinstance(model, dict) else None)


def _read_member(archive: zipfile.ZipFile, name: str) -> bytes | None:
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    return archive.read(info) if info.file_size <= YAML_LIMIT else None


def submission_model(submission: Path) -> tuple[str, dict[str, Any]] | None:
    """(where, model shape) of the training yaml a submission ships, or None if it ships none.

    Only read, never extracted: a zip's ``<root>/manifest.json`` names its ``yaml`` member; a
    folder's ``*.yaml`` files are looked at (the first with a model_config). Anything unreadable
    is left to ``mathlora unpack``, which checks the archive before judging it.
    """
    if submission.is_dir():
        for path in sorted(submission.glob("*.yaml")):
            if path.stat().st_size <= YAML_LIMIT:
                shape = _yaml_shape(path.read_bytes())
                if shape is not None:
                    return str(path), shape
        return None
    try:
        with zipfile.ZipFile(submission) as archive:
            manifests = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith("/manifest.json")]
            if len(manifests) != 1:
                return None
            root = manifests[0].split("/")[0]
            manifest = json.loads(_read_member(archive, manifests[0]) or b"null")
            members = manifest.get("members", []) if isinstance(manifest, dict) else []
            for member in members:
                if isinstance(member, dict) and member.get("role") == "yaml":
                    name = f"{root}/{member.get('path')}"
                    shape = _yaml_shape(_read_member(archive, name) or b"")
                    return (f"{submission}:{name}", shape) if shape is not None else None
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    return None


def config_model(configfiles: list[str]) -> dict[str, Any] | None:
    """The model shape of configuration files merged in order (later ones override keys)."""
    model: dict[str, Any] = {}
    for path in configfiles:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if isinstance(document, dict) and isinstance(document.get("model"), dict):
            model.update(document["model"])
    return _shape(model)


def _describe(shape: dict[str, Any]) -> str:
    return ", ".join(f"{key} {shape[key]}" for key in SHAPE_KEYS)


def choose_configs(requested: list[str] | None, submission: Path) -> list[str]:
    """The configuration files to judge ``submission`` with, checked against its model."""
    found = submission_model(submission)
    if requested is None:
        if found is None:
            return [DEFAULT_CONFIG]
        where, shape = found
        candidates = [DEFAULT_CONFIG] + sorted(str(p) for p in Path("config").glob("*.yaml")
                                               if str(p) != DEFAULT_CONFIG)
        for candidate in candidates:
            if Path(candidate).is_file() and config_model([candidate]) == shape:
                print(f"judging with {candidate}: its model is the one {where} describes", flush=True)
                return [candidate]
        raise ConfigError(f"{where}: the submission's model ({_describe(shape)}) is the model of no "
                          f"configuration in config/; give --configfile with that model")
    if found is not None:
        where, shape = found
        mine = config_model(requested)
        if mine is not None and mine != shape:
            raise ConfigError(f"{where}: the submission's model ({_describe(shape)}) is not the one of "
                              f"{' '.join(requested)} ({_describe(mine)}); judge it with a "
                              "configuration of its model (e.g. --configfile config/ascend.yaml for "
                              "the 8B entry)")
    return requested


def tools_bin() -> Path:
    """The folder of the running interpreter's tools (``.venv/bin``: snakemake, mathlora)."""
    return Path(sys.executable).parent


def tools_env() -> dict[str, str]:
    """This environment with the tools' folder first on PATH (the venv need not be activated)."""
    path = os.environ.get("PATH", "")
    return {**os.environ, "PATH": os.pathsep.join(filter(None, [str(tools_bin()), path]))}


def is_bundle(path: Path) -> bool:
    """A zip with a ``manifest.json`` at the top or one folder down, as ``mathlora bundle`` writes."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(n.split("/")[-1] == "manifest.json" and n.count("/") <= 1
                       for n in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False  # not a zip: the graph's unpack says so


def verify_first(bundle: Path) -> None:
    """The whole of ``mathlora verify`` on a bundle, stopping at the first failed check."""
    command = [sys.executable, "-m", "mathlora.cli", "verify", str(bundle), "--fail-fast"]
    done = subprocess.run(command, env=tools_env())
    if done.returncode != 0:
        raise InputError(bundle, "refused by verify (the failed check above); nothing was judged")


def snakemake_command(configfiles: list[str], overlay: Path, *, cores: int, dry_run: bool) -> list[str]:
    """``snakemake judge`` on the configuration files and the overlay that names the submission."""
    sibling = tools_bin() / "snakemake"
    executable = str(sibling) if sibling.is_file() else shutil.which("snakemake") or "snakemake"
    command = [executable, "judge", "--cores", str(cores), "--configfile", *configfiles, str(overlay)]
    if dry_run:
        command += ["--dry-run", "--printshellcmds"]
    return command
