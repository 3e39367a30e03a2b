"""A contest judged stage by stage: intake of every kind of entry (zip, folder of checkpoints,
bare result_npy.npy, hostile zip, nothing recognisable, duplicate names), the judge's parameter
count against the declared one, evaluation (the model subcommands stood in for), summary, rank.
A team's failure at any stage refuses it with the reason and never stops the others."""

import itertools
import json
import zipfile
from pathlib import Path

import pytest
from leaderboard_kit import math_report, params_report

from mathlora.artifacts import read_artifact, write_artifact
from mathlora.cli import main as cli
from mathlora.cli.arguments import settings_from_arguments
from mathlora.errors import InputError
from mathlora.evaluate.predict import write_result_npy
from mathlora.package import leaderboard_stages as stages
from mathlora.prompts import math_prompt
from mathlora.settings import EvaluationSettings, MathSettings, PredictSettings

N = 40
TEST = [{"problem": f"计算 {i} + 1 等于多少？", "solution": f"{i} + 1 = {i + 1}"} for i in range(1, N + 1)]
MARKS = {"mode": "relative", "relative": 0.9, "f1": 53.883, "em": 39.753}
# right items per team and checkpoint (stand-in judged numbers), SQuAD per checkpoint
RIGHT = {"alpha": {"ckpt1": 30, "ckpt2": 36}, "beta": {"ckpt1": 20}, "broken": {"ckpt1": 10}}
SQUAD = {"ckpt1": (58.0, 43.0), "ckpt2": (50.0, 40.0)}  # alpha's ckpt2 loses SQuAD


def make_contest(root: Path) -> Path:
    contest = root / "contest"
    contest.mkdir()
    for team in ("alpha", "broken"):
        with zipfile.ZipFile(contest / f"{team}.zip", "w") as z:
            for k in range(1, len(RIGHT[team]) + 1):
                z.writestr(f"ckpts/step{k}.ckpt", b"weights")
    (contest / "beta").mkdir()
    (contest / "beta" / "model.ckpt").write_bytes(b"weights")
    with zipfile.ZipFile(contest / "hostile.zip", "w") as z:
        z.writestr("../../escape.ckpt", b"x")
    npy = contest / "gamma"
    npy.mkdir()
    write_result_npy(npy / "result_npy.npy",
                     [math_prompt(t["problem"]) + f" {i + 1 if i <= 25 else 0}"
                      for i, t in enumerate(TEST, start=1)])
    (npy / "declared.yaml").write_text("trainable_parameters: 3407872\naccuracy: 0.7\n"
                                       "lora: {rank: 8, target_modules: '.*wq|.*wv', alpha: 16}\n")
    short = contest / "short"
    short.mkdir()
    write_result_npy(short / "result_npy.npy", [math_prompt(TEST[0]["problem"]) + " 2"])
    (short / "declared.json").write_text(json.dumps({"trainable_parameters": 3407872,
                                                     "lora": {"rank": 8, "target_modules": ".*wq|.*wv"}}))
    liar = contest / "liar"
    liar.mkdir()
    write_result_npy(liar / "result_npy.npy", [math_prompt(t["problem"]) for t in TEST])
    (liar / "declared.yaml").write_text("trainable_parameters: 1000\n"
                                        "lora: {rank: 8, target_modules: '.*wq|.*wv'}\n")
    (contest / "empty").mkdir()
    (contest / "empty" / "README.txt").write_text("hello")
    (contest / "dup").mkdir()
    (contest / "dup" / "a.ckpt").write_bytes(b"w")
    with zipfile.ZipFile(contest / "DUP.zip", "w") as z:
        z.writestr("a.ckpt", b"w")
    return contest


# The evaluate keys a rule passes (config/config.yaml's, small); the others take the schema's defaults.
EVALUATE = {"batch_size": 4, "max_length": 64, "max_new_tokens": 8, "squad_max_new_tokens": 4,
            "rel_tol": 1e-6}


def counter(body, graph_yaml):
    return params_report(3_407_872)


def fake_run(team):
    """The model subcommands, stood in: each writes the report its real counterpart would."""
    def run(command, log):
        rest = command[len(stages.mathlora_command()):]
        name, options = rest[0], rest[1:]
        args = {}
        for i, option in enumerate(options):  # an option's values: the words up to the next option
            if option.startswith("--"):
                values = list(itertools.takewhile(lambda word: not word.startswith("--"), options[i + 1:]))
                args[option] = values[0] if len(values) == 1 else values
        if name == "full-weights":
            if team == "broken":
                raise InputError("full-weights", "failed (mathlora full-weights: error: not a checkpoint)")
            Path(args["--out"]).write_bytes(b"full")
        elif name == "math":
            right = RIGHT[team][args["--model"]]
            write_artifact(args["--out"], "math", math_report(args["--model"], set(range(1, right + 1)), N))
        elif name == "evaluate":
            assert len(args["--math"]) == 5 and len(args["--squad"]) == 2  # one set, then SQuAD
            f1, em = SQUAD[args["--model"]]
            write_artifact(args["--squad"][1], "squad", {
                "model": args["--model"], "dev": "dev.json", "paragraphs_without_question": 0,
                "f1": f1, "em": em, "n": 10, "empty_predictions": 0, "predict": None, "examples": []})
    return run


def judge_contest(tmp_path):
    contest = make_contest(tmp_path)
    test = tmp_path / "test.json"
    test.write_text(json.dumps(TEST, ensure_ascii=False), encoding="utf-8")
    base_math = tmp_path / "base_math.json"
    write_artifact(base_math, "math", math_report("base", set(range(1, 9)), N))
    base_squad = tmp_path / "base_squad.json"
    write_artifact(base_squad, "squad", {"model": "base", "dev": "dev.json",
                                         "paragraphs_without_question": 0, "f1": 59.87, "em": 44.17,
                                         "n": 10, "empty_predictions": 0, "predict": None,
                                         "examples": []})
    settings = {"predict_yaml": "predict.yaml", "base_checkpoint": "base.ckpt", "tokenizer": "t",
                "test": str(test), "squad_dev": "dev.json", "evaluate": EVALUATE}
    records = []
    entries = stages.contest_entries(contest)
    duplicates = stages.duplicate_names(entries)
    for entry in entries:
        work = tmp_path / "teams" / entry
        body = stages.intake(contest / entry, work / "unpacked", duplicates.get(entry))
        body = stages.stage_params(body, work / "params.json", "finetune.yaml", counter=counter)
        body = stages.stage_evaluate(body, work, settings, work / "evaluate.log",
                                     run=fake_run(body["team"]))
        body = stages.stage_summary(body, work / "summary.json", str(base_math), str(base_squad), MARKS)
        write_record(work / "summary.json", body)
        records.append(str(work / "summary.json"))
    return records, test


def write_record(path, body):
    return stages.write_record(path, body)


@pytest.fixture
def judged(tmp_path):
    return judge_contest(tmp_path)


def test_contest_ranks_the_valid_and_refuses_the_rest_with_reasons(judged, tmp_path, capsys):
    records, test = judged
    out = tmp_path / "board"
    assert cli(["leaderboard", "rank", "--records", *records, "--test", str(test),
                "--out-dir", str(out), "--resamples", "300"]) == 0
    board = read_artifact(out / "leaderboard.json", "leaderboard")
    ranked = [r for r in board["teams"] if r["status"] == "ranked"]
    assert [(r["team"], r["model"], r["rank"]) for r in ranked] == [
        ("alpha", "ckpt1", 1), ("gamma", "result_npy", 2), ("beta", "ckpt1", 3)]
    assert ranked[1]["squad"] == "not judged" and ranked[1]["claimed"]["accuracy"] == 0.7
    assert ranked[1]["accuracy"] == 25 / N
    reasons = {r["team"]: r["reason"] for r in board["teams"] if r["status"] == "refused"}
    assert set(reasons) == {"broken", "hostile", "short", "liar", "empty", "dup", "DUP"}
    assert "unsafe archive" in reasons["hostile"]
    assert reasons["broken"].startswith("checkpoint ckpt1: full weights")
    assert "1 predictions for 40 test items" in reasons["short"]
    assert "declared 1,000 trainable parameters" in reasons["liar"]
    assert reasons["empty"].startswith("no recognisable submission")
    assert "duplicate team name" in reasons["dup"] and "duplicate team name" in reasons["DUP"]
    # every input the standing was computed from, hashed
    alpha = ranked[0]
    assert any(i["path"].endswith("alpha.zip") for i in alpha["inputs"])
    assert any(i["path"].endswith("summary.report.json") for i in alpha["inputs"])
    assert (out / "LEADERBOARD.md").is_file() and (out / "leaderboard.html").is_file()
    assert "refused: " in capsys.readouterr().out


def test_stage_commands_write_records_and_pass_refusals_on(tmp_path):
    contest = make_contest(tmp_path)
    out = tmp_path / "teams" / "hostile"
    assert cli(["leaderboard", "intake", "--entry", str(contest / "hostile.zip"),
                "--out-dir", str(out / "unpacked"), "--out", str(out / "intake.json")]) == 0
    body = stages.read_record(out / "intake.json")
    assert body["refused"].startswith(f"{contest / 'hostile.zip'}: unsafe archive")
    assert not list((out / "unpacked").iterdir())  # nothing extracted
    assert cli(["leaderboard", "params", "--record", str(out / "intake.json"), "--graph-yaml", "x",
                "--out", str(out / "params.json")]) == 0
    passed = stages.read_record(out / "params.json")
    assert passed["stage"] == "params" and passed["refused"] == body["refused"]
    assert set(passed["seconds"]) == {"intake", "params"}


def test_intake_of_a_zip_takes_its_checkpoints_in_order(tmp_path):
    contest = make_contest(tmp_path)
    body = stages.intake(contest / "alpha.zip", tmp_path / "u")
    assert body["refused"] is None and body["submission"] == "bundle"
    assert sorted(p.name for p in (tmp_path / "u").glob("*.ckpt")) == ["ckpt1.ckpt", "ckpt2.ckpt"]
    assert body["inputs"][0]["sha256"] and body["team"] == "alpha"


def test_awards_option():
    assert stages.parse_awards("gold:1, silver:2") == (("gold", 1), ("silver", 2))
    with pytest.raises(Exception, match="name:places"):
        stages.parse_awards("gold")


def test_evaluate_calls_each_subcommand_with_options_it_accepts(tmp_path):
    """The commands the evaluate stage runs parse under the real subcommands' own parsers."""
    import argparse
    import importlib

    from mathlora.cli import COMMANDS

    contest = make_contest(tmp_path)
    body = stages.intake(contest / "alpha.zip", tmp_path / "u")
    body = stages.stage_params(body, tmp_path / "params.json", "x", counter=counter)
    parsed = []

    def run(command, log):
        rest = command[len(stages.mathlora_command()):]
        parser = argparse.ArgumentParser(prog=rest[0], exit_on_error=False)
        importlib.import_module(COMMANDS[rest[0]][0]).configure(parser)
        parsed.append((rest[0], parser.parse_args(rest[1:])))
        fake_run("alpha")(command, log)

    settings = {"predict_yaml": "p.yaml", "base_checkpoint": "b.ckpt", "tokenizer": "t", "test": "t.json",
                "squad_dev": "d.json", "evaluate": {**EVALUATE, "round_to_reference": False}}
    done = stages.stage_evaluate(body, tmp_path / "w", settings, tmp_path / "log", run=run)
    assert done["refused"] is None
    assert [name for name, _ in parsed] == ["full-weights", "evaluate", "math"] * 2
    assert not (tmp_path / "w" / "weights" / "ckpt1.ckpt").exists()  # full weights are not kept
    # each stage gets the evaluate keys it reads, the schema's defaults filled in
    given = {name: args for name, args in parsed[:3]}
    evaluation = settings_from_arguments(given["evaluate"], EvaluationSettings)
    prompt = given["evaluate"].math[0][1]
    assert evaluation.math(prompt) == PredictSettings(
        batch_size=4, max_length=64, max_new_tokens=8, min_new_tokens=1, prompt="entry")
    assert given["evaluate"].math[0][0] == "t.json" and given["evaluate"].squad[0] == "d.json"
    assert settings_from_arguments(given["math"], MathSettings).round_to_reference is False
    assert evaluation.squad().length == 64
