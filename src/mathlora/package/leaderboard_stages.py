"""Judge a whole contest: ``mathlora leaderboard <stage>``, one stage per job of ``snakemake
leaderboard`` (each team one wildcard), and ``mathlora leaderboard run`` that runs that target.

A contest is a folder with one entry per team: a zip (a mathlora bundle or the entry's kind), a
folder of checkpoints (links downloaded, with or without their links.yaml), or a folder holding
just ``result_npy.npy`` and the team's declared counts (``declared.yaml`` or ``declared.json``:
``trainable_parameters``, and ``lora: {rank, target_modules, alpha}`` so the judge can build the
network and count it). The team's name is the entry's file name without ``.zip``.

Every team stage writes one record (``teams/<entry>/<stage>.json``, kind ``leaderboard_team``) and
never fails for the team's fault: a hostile zip, a broken checkpoint, a wrong item count or counts
that disagree with the network refuse the team with that reason, and each later stage passes the
refusal on without work. So one team's failure never stops the others, and the final ``rank``
stage lists it as "refused: <reason>".

Stages: ``intake`` (what the entry is; safe unpacking through ``mathlora unpack``; sha256 of every
file), ``params`` (the judge counts the network of the team's training yaml, or of its declared
LoRA settings on the graph's yaml), ``evaluate`` (per checkpoint: full weights, predict, math, SQuAD
with the same subcommands and settings as the judge rules; a ``result_npy.npy`` is rescored),
``summary`` (the judged summary, SQuAD marks from the base's numbers) and ``rank`` (the leaderboard
and its pages).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from mathlora.artifacts import file_sha256, read_artifact, write_artifact
from mathlora.errors import ConfigError, InputError, MathloraError
from mathlora.settings import EvaluationSettings, MathSettings, PredictSettings, SquadSettings

JUDGING_SETTINGS = (PredictSettings, MathSettings, SquadSettings)

STAGES = ("intake", "params", "evaluate", "summary")
DECLARED_FILES = ("declared.yaml", "declared.yml", "declared.json")
RESULT_NPY = "result_npy.npy"


# ---------------------------------------------------------------- records

def team_name(entry: Path) -> str:
    return entry.name[:-4] if entry.name.lower().endswith(".zip") else entry.name


def contest_entries(folder: str | Path) -> list[str]:
    """The entries of a contest folder (hidden files left out), in name order."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(root, "contest folder not found: expected one subfolder or zip per team")
    return sorted(p.name for p in root.iterdir() if not p.name.startswith("."))


def duplicate_names(entries: list[str]) -> dict[str, str]:
    """Entries whose team names collide (case, ``.zip``): refused before any judging work."""
    from collections import Counter

    from mathlora.evaluate.leaderboard import team_key

    counts = Counter(team_key(e) for e in entries)
    return {e: f"{counts[team_key(e)]} submissions are named {team_name(Path(e))!r}: duplicate "
               "team name" for e in entries if counts[team_key(e)] > 1}


def record(previous: dict | None = None, **fields: Any) -> dict:
    """A team record: the previous stage's, updated."""
    base = {"team": "", "entry": "", "stage": "intake", "submission": "unknown", "refused": None,
            "files": {}, "declared": None, "claimed": None, "inputs": [], "seconds": {}}
    if previous:
        base.update({k: v for k, v in previous.items()
                     if k not in ("schema_version", "kind", "provenance")})
    base.update(fields)
    return base


def write_record(path: str | Path, body: dict) -> dict:
    return write_artifact(path, "leaderboard_team", body)


def read_record(path: str | Path) -> dict:
    return dict(read_artifact(path, "leaderboard_team"))


def timed(body: dict, stage: str, started: float) -> dict:
    body["seconds"] = {**body["seconds"], stage: round(time.monotonic() - started, 3)}
    return body


def _file_inputs(entry: Path) -> list[dict]:
    if entry.is_file():
        return [{"path": str(entry), "sha256": file_sha256(entry)}]
    files = sorted(p for p in entry.rglob("*") if p.is_file() and not p.is_symlink())
    return [{"path": str(p), "sha256": file_sha256(p)} for p in files]


# ---------------------------------------------------------------- intake

def read_declared(path: Path) -> dict:
    """A team's declared counts: ``trainable_parameters`` and optionally ``lora`` and ``accuracy``."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InputError(path, f"not readable declared counts ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(path, "expected a mapping with trainable_parameters")
    trainable = data.get("trainable_parameters")
    if not isinstance(trainable, int) or isinstance(trainable, bool) or trainable < 0:
        raise InputError(path, "expected a non-negative integer", field="trainable_parameters")
    lora = data.get("lora")
    if lora is not None:
        if not (isinstance(lora, dict) and isinstance(lora.get("rank"), int)
                and isinstance(lora.get("target_modules"), str)):
            raise InputError(path, "expected {rank: int, target_modules: regex, alpha: number}",
                             field="lora")
        lora = {"rank": lora["rank"], "target_modules": lora["target_modules"],
                "alpha": float(lora["alpha"]) if lora.get("alpha") is not None else None}
    accuracy = data.get("accuracy")
    if accuracy is not None and not (isinstance(accuracy, (int, float)) and 0 <= accuracy <= 1):
        raise InputError(path, "expected a number in [0, 1]", field="accuracy")
    return {"trainable_parameters": trainable, "lora": lora,
            "accuracy": None if accuracy is None else float(accuracy)}


def _declared_from_bundle(unpacked: Path) -> dict | None:
    own = unpacked / "params.json"
    if not own.is_file():
        return None
    try:
        trainable = json.loads(own.read_text(encoding="utf-8")).get("trainable_parameters")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(own, f"the bundle's params report is not JSON ({exc})") from None
    if not isinstance(trainable, int) or isinstance(trainable, bool):
        raise InputError(own, "expected an integer", field="trainable_parameters")
    return {"trainable_parameters": trainable, "lora": None, "accuracy": None}


def intake(entry: Path, out_dir: Path, refuse: str | None = None) -> dict:
    """What a contest entry is, its unpacked files and declared counts, or why it is refused
    (``refuse``: a reason known beforehand, such as a duplicate name: nothing is unpacked)."""
    from mathlora.package.unpack import unpack

    body = record(team=team_name(entry), entry=str(entry))
    out_dir.mkdir(parents=True, exist_ok=True)
    if refuse:
        return record(body, refused=refuse, inputs=_file_inputs(entry) if entry.exists() else [])
    if not entry.exists():
        return record(body, refused=f"{entry}: not found")
    body["inputs"] = _file_inputs(entry)
    try:
        if entry.is_dir() and (entry / RESULT_NPY).is_file():
            declared = next((entry / n for n in DECLARED_FILES if (entry / n).is_file()), None)
            if declared is None:
                return record(body, submission="npy", refused=(
                    f"{RESULT_NPY} without declared parameter counts (one of "
                    f"{', '.join(DECLARED_FILES)} with trainable_parameters and lora)"))
            counts = read_declared(declared)
            target = out_dir / RESULT_NPY
            shutil.copyfile(entry / RESULT_NPY, target)
            files = {"result_npy": str(target)}
            if (entry / "finetune.yaml").is_file():
                shutil.copyfile(entry / "finetune.yaml", out_dir / "finetune.yaml")
                files["yaml"] = str(out_dir / "finetune.yaml")
            claimed = ({"model": "result_npy", "accuracy": counts["accuracy"]}
                       if counts["accuracy"] is not None else None)
            return record(body, submission="npy", files=files, declared=counts, claimed=claimed)
        is_zip = entry.is_file() and entry.name.lower().endswith(".zip")
        folder_bundle = entry.is_dir() and (any(entry.glob("*.ckpt")) or (entry / "links.yaml").is_file())
        if not (is_zip or folder_bundle):
            return record(body, refused=(
                "no recognisable submission: expected a zip bundle, a folder of *.ckpt files or "
                f"a folder with {RESULT_NPY} and its declared counts"))
        links = entry / "links.yaml" if entry.is_dir() and (entry / "links.yaml").is_file() else None
        report = unpack(entry, out_dir, links=links)
        files = {"unpacked": str(out_dir)}
        if (out_dir / "finetune.yaml").is_file():
            files["yaml"] = str(out_dir / "finetune.yaml")
        if (out_dir / "summary.json").is_file():
            files["claimed_summary"] = str(out_dir / "summary.json")
        checkpoints = sum(m["role"] == "checkpoint" for m in report["members"])
        body = record(body, submission="bundle", files={**files, "checkpoints": str(checkpoints)},
                      declared=_declared_from_bundle(out_dir))
        return body
    except MathloraError as error:
        return record(body, submission="bundle" if entry.suffix == ".zip" else body["submission"],
                      refused=str(error))


# ---------------------------------------------------------------- params

def count_network(body: dict, graph_yaml: str) -> dict:
    """The judge's parameter count of the team's network (never the team's own number)."""
    from mathlora.model import params

    lora = (body["declared"] or {}).get("lora")
    yaml_path = body["files"].get("yaml")
    if yaml_path is None and body["submission"] == "npy" and lora is None:
        raise InputError(body["entry"], "declares no lora {rank, target_modules}: the judge "
                                        "cannot build the network to count it", field="lora")
    yaml_path = yaml_path or graph_yaml
    with _stdout_to_stderr():
        model_config = params.model_config_from_yaml(yaml_path)
        if yaml_path == graph_yaml and lora is not None:
            return {**params.count(model_config, lora_rank=lora["rank"],
                                   target_modules=lora["target_modules"],
                                   lora_alpha=lora["alpha"]), "source": yaml_path}
        return {**params.count(model_config), "source": yaml_path}


class _stdout_to_stderr:
    def __enter__(self):
        import contextlib

        self._redirect = contextlib.redirect_stdout(sys.stderr)
        return self._redirect.__enter__()

    def __exit__(self, *exc):
        return self._redirect.__exit__(*exc)


def stage_params(body: dict, out: Path, graph_yaml: str, counter=count_network) -> dict:
    if body["refused"]:
        return record(body, stage="params")
    try:
        report = counter(body, graph_yaml)
        path = out.with_name("params.report.json")
        write_artifact(path, "params", report)
    except MathloraError as error:
        return record(body, stage="params", refused=f"parameter count: {error}")
    declared = (body["declared"] or {}).get("trainable_parameters")
    counted = report["trainable_parameters"]
    refused = None
    if declared is not None and declared != counted:
        refused = (f"declared {declared:,} trainable parameters, but the network of its "
                   f"{'yaml' if body['files'].get('yaml') else 'declared LoRA settings'} has {counted:,}")
    return record(body, stage="params", refused=refused, files={**body["files"], "params": str(path)})


# ---------------------------------------------------------------- evaluate

def _run(command: list[str], log: Path) -> None:
    """Run one mathlora subcommand; its failure becomes an InputError with its last error line."""
    with log.open("a", encoding="utf-8") as handle:
        handle.write("$ " + " ".join(command) + "\n")
        handle.flush()
        done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env=os.environ)
    if done.returncode:
        lines = [line for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
        last = next((line for line in reversed(lines) if "error" in line.lower()), lines[-1] if lines else "")
        raise InputError(command[1], f"failed ({last.strip()[:300]})")


def mathlora_command() -> list[str]:
    found = shutil.which("mathlora")
    return [found] if found else [sys.executable, "-m", "mathlora.cli"]


def evaluate_bundle(body: dict, work: Path, settings: dict, log: Path, run=_run) -> dict[str, str]:
    """Full weights, predictions, math and SQuAD of every checkpoint; the files written, by role."""
    mathlora = mathlora_command()
    unpacked = Path(body["files"]["unpacked"])
    models = sorted((p.stem for p in unpacked.glob("ckpt*.ckpt")),
                    key=lambda m: int(m.removeprefix("ckpt")))
    yaml_path = body["files"].get("yaml") or settings["predict_yaml"]

    def stage_json(kind) -> str:
        return kind.from_section(settings["evaluate"], source="--settings").to_json()

    predict = PredictSettings.from_section(settings["evaluate"], source="--settings")

    files = {}
    for model in models:
        weights = work / "weights" / f"{model}.ckpt"
        folder = work / "eval" / model
        folder.mkdir(parents=True, exist_ok=True)
        weights.parent.mkdir(parents=True, exist_ok=True)
        step = "full weights"
        try:
            run([*mathlora, "full-weights", "--checkpoint", str(unpacked / f"{model}.ckpt"),
                 "--yaml", yaml_path, "--base-checkpoint", settings["base_checkpoint"],
                 "--out", str(weights), "--report", str(work / "weights" / f"{model}.json")], log)
            step = "evaluate"  # its predictions and SQuAD, with the model loaded once
            run([*mathlora, "evaluate", "--model", model, "--model-yaml", settings["predict_yaml"],
                 "--checkpoint", str(weights), "--tokenizer", settings["tokenizer"],
                 "--settings", stage_json(EvaluationSettings),
                 "--math", settings["test"], predict.prompt, str(folder / "predictions.jsonl"),
                 str(folder / RESULT_NPY), str(folder / "predict.json"),
                 "--squad", settings["squad_dev"], str(folder / "squad.json")], log)
            step = "math"
            run([*mathlora, "math", "--model", model, "--predictions", str(folder / "predictions.jsonl"),
                 "--test", settings["test"], "--settings", stage_json(MathSettings),
                 "--out", str(folder / "math.json"), "--png", str(folder / "math.png")], log)
        except MathloraError as error:
            raise InputError(f"checkpoint {model}", f"{step} {error}") from None
        finally:
            weights.unlink(missing_ok=True)  # full weights are many GB; the reports are kept
        files[f"math:{model}"] = str(folder / "math.json")
        files[f"squad:{model}"] = str(folder / "squad.json")
    return files


def evaluate_npy(body: dict, work: Path, settings: dict) -> dict[str, str]:
    from mathlora.evaluate.math_eval import equality_rule
    from mathlora.evaluate.rescore import rescore

    math = MathSettings.from_section(settings["evaluate"], source="--settings")
    rule = equality_rule(math.rel_tol, math.round_to_reference)
    predictions = body["files"]["result_npy"]
    report = {"predictions": predictions, "test": settings["test"],
              **rescore(predictions, settings["test"], rule, math.prompt)}
    path = work / "rescore.json"
    write_artifact(path, "rescore", report)
    return {"rescore": str(path)}


def stage_evaluate(body: dict, work: Path, settings: dict, log: Path, run=_run) -> dict:
    if body["refused"]:
        return record(body, stage="evaluate")
    try:
        files = (evaluate_npy(body, work, settings) if body["submission"] == "npy"
                 else evaluate_bundle(body, work, settings, log, run))
    except MathloraError as error:
        return record(body, stage="evaluate", refused=str(error))
    return record(body, stage="evaluate", files={**body["files"], **files})


# ---------------------------------------------------------------- summary

def stage_summary(body: dict, out: Path, base_math: str | None, base_squad: str | None,
                  marks: dict) -> dict:
    """The judged summary of a bundle team (its checkpoints beside the base)."""
    from mathlora.evaluate import summary as summary_module

    if body["refused"] or body["submission"] != "bundle":
        return record(body, stage="summary")
    try:
        math_paths = [v for k, v in body["files"].items() if k.startswith("math:")]
        squad_paths = [v for k, v in body["files"].items() if k.startswith("squad:")]
        if base_math and base_squad:
            math_paths, squad_paths = [base_math, *math_paths], [base_squad, *squad_paths]
        math = summary_module.by_model(math_paths, "math")
        squad = summary_module.by_model(squad_paths, "squad")
        ratio = read_artifact(body["files"]["params"], "params")["official_ratio"]
        limits = summary_module.thresholds(marks["mode"], relative=marks["relative"],
                                           fixed_f1=marks["f1"], fixed_em=marks["em"],
                                           base=squad.get(summary_module.BASE))
        judged = summary_module.summarise(ratio, math, squad, limits)
        if body["files"].get("claimed_summary"):
            try:
                judged["claimed"] = summary_module.claimed_numbers(body["files"]["claimed_summary"])
            except MathloraError:
                pass  # an unreadable self-measurement is shown as none, not a refusal
        path = out.with_name("summary.report.json")
        write_artifact(path, "summary", judged)
    except MathloraError as error:
        return record(body, stage="summary", refused=f"summary: {error}")
    return record(body, stage="summary", files={**body["files"], "summary": str(path)})


# ---------------------------------------------------------------- rank

def team_from_record(body: dict):
    """A :class:`~mathlora.evaluate.leaderboard.Team` from a team's last record and its reports."""
    from mathlora.evaluate.leaderboard import NPY_MODEL, Team

    files = body["files"]
    inputs = list(body["inputs"])
    team = Team(name=body["team"], source=body["entry"], kind=body["submission"],
                refused=body["refused"], declared=body["declared"], claimed=body["claimed"],
                inputs=inputs)
    if team.refused:
        return team
    try:
        used = []
        if "params" in files:
            team.params = dict(read_artifact(files["params"], "params"))
            used.append(files["params"])
        if body["submission"] == "npy":
            team.math = {NPY_MODEL: dict(read_artifact(files["rescore"], "rescore"))}
            used.append(files["rescore"])
        else:
            team.summary = dict(read_artifact(files["summary"], "summary"))
            used.append(files["summary"])
            for key, path in files.items():
                if key.startswith("math:"):
                    team.math[key.removeprefix("math:")] = dict(read_artifact(path, "math"))
                    used.append(path)
        team.inputs = inputs + [{"path": p, "sha256": file_sha256(p)} for p in used]
    except (MathloraError, KeyError) as error:
        team.refused = f"judged reports unreadable: {error}"
    return team


def rank(records: list[str], out_dir: str | Path, *, test: str | None, resamples: int, seed: int,
         awards: tuple[tuple[str, int], ...]) -> dict:
    from mathlora.evaluate.leaderboard import build
    from mathlora.evaluate.leaderboard_pages import write_leaderboard
    from mathlora.jsonl import read_test_file

    teams = [team_from_record(read_record(path)) for path in records]
    hidden = len(read_test_file(test)) if test else None
    return write_leaderboard(build(teams, hidden_items=hidden, resamples=resamples, seed=seed,
                                   awards=awards), out_dir)


def parse_awards(text: str) -> tuple[tuple[str, int], ...]:
    """``"first prize:1,second prize:2"`` -> tiers of places."""
    tiers = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, places = part.rpartition(":")
        if not name or not places.isdigit() or int(places) < 1:
            raise ConfigError(f"--awards: {part!r} is not 'name:places' (places >= 1)")
        tiers.append((name.strip(), int(places)))
    return tuple(tiers)


# ---------------------------------------------------------------- run (snakemake leaderboard)

def snakemake_command(configfiles: list[str], overlay: Path, *, cores: int, dry_run: bool,
                      profile: str | None) -> list[str]:
    executable = shutil.which("snakemake") or str(Path(sys.executable).with_name("snakemake"))
    command = [executable, "leaderboard", "--configfile", *configfiles, str(overlay)]
    command += ["--profile", profile] if profile else ["--cores", str(cores)]
    if dry_run:
        command += ["--dry-run"]
    return command


def run_name(configfiles: list[str]) -> str:
    """The run_name the configuration files give (the last one that names it)."""
    name = None
    for path in configfiles:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        name = loaded.get("run_name", name) if isinstance(loaded, dict) else name
    if not name:
        raise ConfigError(f"no run_name in {', '.join(configfiles)}")
    return name


def run_contest(submissions: str | Path, *, test: str | None, configfiles: list[str], cores: int,
                dry_run: bool, profile: str) -> int:
    """``snakemake leaderboard`` on the contest folder; the exit status counts the refused teams."""
    contest = Path(submissions)
    contest_entries(contest)  # a missing or empty-named folder is the user's to fix, said at once
    if not Path("Snakefile").is_file():
        raise ConfigError("run mathlora leaderboard from the project's folder (the one with the Snakefile)")
    evaluate = {"contest": str(contest.resolve())}
    if test:
        evaluate["judge_test"] = str(Path(test).resolve())
    with tempfile.TemporaryDirectory(prefix="mathlora-leaderboard-") as folder:
        overlay = Path(folder) / "leaderboard.yaml"
        overlay.write_text(yaml.safe_dump({"evaluate": evaluate}), encoding="utf-8")
        command = snakemake_command(configfiles, overlay, cores=cores,
                                    dry_run=dry_run, profile=profile)
        print(" ".join(command), flush=True)
        code = subprocess.run(command, env=os.environ).returncode
    if code or dry_run:
        return code
    path = Path("results") / run_name(configfiles) / "leaderboard" / "leaderboard.json"
    if not path.is_file():
        raise InputError(path, "snakemake finished but wrote no leaderboard")
    board = read_artifact(path, "leaderboard")
    print(f"{path}: {board['ranked']} ranked, {board['refused']} refused")
    return min(board["refused"], 100)  # the exit status says how many teams were refused


# ---------------------------------------------------------------- the evaluate stage's settings

def evaluate_section(text: str) -> dict[str, Any]:
    """The evaluate keys of ``--settings``: each checkpoint's predict, math and SQuAD read theirs."""
    try:
        section = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--settings: not a JSON object ({exc})") from None
    if not isinstance(section, dict):
        raise ConfigError("--settings: expected a JSON object of evaluate keys")
    read = {key for kind in JUDGING_SETTINGS for key in kind.keys()}
    unknown = sorted(set(section) - read)
    if unknown:
        raise ConfigError(f"--settings: evaluate keys {unknown} are read by no judging stage; "
                          f"expected some of {sorted(read)}")
    for kind in JUDGING_SETTINGS:  # each stage's keys checked now, not at the first checkpoint
        kind.from_section(section, source="--settings")
    return section


def rebase_paths(body: dict, staging: str, final: str) -> dict:
    """Paths written inside the staging folder, as they are once it is renamed into place."""
    body["files"] = {k: v.replace(staging, final, 1) if isinstance(v, str) else v
                     for k, v in body["files"].items()}
    return body
