"""The settings boundary: one loader that applies the schema, typed per-stage settings, and each
default of the evaluate stages written once, in the config schema."""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path

import pytest

from mathlora.cli.arguments import add_settings_arguments, settings_from_arguments
from mathlora.errors import ConfigError
from mathlora.prompts import MATH_PROMPTS
from mathlora.settings import (
    STAGE_SETTINGS,
    BaseSettings,
    MathSettings,
    PredictSettings,
    SquadSettings,
    config_schema,
    load_config,
)

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "mathlora"
CONFIGS = [ROOT / "config" / "config.yaml", ROOT / "config" / "ascend.yaml"]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_load_config_fills_the_schemas_defaults(path):
    raw = path.read_text(encoding="utf-8")
    config = load_config(path)
    evaluate = config_schema()["properties"]["evaluate"]["properties"]
    for key, prop in evaluate.items():
        if "default" in prop:
            assert key in config["evaluate"], key
    assert "squad_min_new_tokens" not in raw  # filled, not written in the file
    assert config["evaluate"]["squad_min_new_tokens"] == 1


def test_load_config_overlays_files_and_names_the_bad_field(tmp_path):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("evaluate: {max_new_tokens: 7}\n", encoding="utf-8")
    config = load_config(CONFIGS[0], overlay)
    assert config["evaluate"]["max_new_tokens"] == 7
    assert config["evaluate"]["batch_size"] == load_config(CONFIGS[0])["evaluate"]["batch_size"]
    overlay.write_text("evaluate: {min_new_tokens: -1}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"evaluate\.min_new_tokens: -1 is less than the minimum"):
        load_config(CONFIGS[0], overlay)
    overlay.write_text("evaluate: {beam_width: 4}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="beam_width"):
        load_config(CONFIGS[0], overlay)


def test_stage_settings_read_only_their_keys():
    section = load_config(CONFIGS[0])["evaluate"]
    before = PredictSettings.from_section(section).to_json()
    # a key predict does not read changes nothing it is given (so nothing reruns)
    assert PredictSettings.from_section({**section, "rel_tol": 0.5}).to_json() == before
    assert PredictSettings.from_section({**section, "min_new_tokens": 0}).to_json() != before
    assert set(json.loads(before)) == set(PredictSettings.keys())


def test_cross_field_rules_name_both_config_keys():
    section = {"batch_size": 2, "max_length": 64, "max_new_tokens": 4, "min_new_tokens": 5}
    with pytest.raises(ConfigError, match=r"evaluate\.min_new_tokens: 5 exceeds evaluate\.max_new_tokens 4"):
        PredictSettings.from_section(section)
    with pytest.raises(ConfigError, match=r"evaluate\.max_length: required"):
        PredictSettings.from_section({"batch_size": 2, "max_new_tokens": 4})


def test_flags_and_json_give_the_same_settings_and_a_flag_wins():
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_settings_arguments(parser, PredictSettings)
    given = {"batch_size": 3, "max_length": 40, "max_new_tokens": 6, "prompt": "report"}
    from_json = settings_from_arguments(parser.parse_args(["--settings", json.dumps(given)]),
                                        PredictSettings)
    from_flags = settings_from_arguments(parser.parse_args(
        ["--batch-size", "3", "--max-length", "40", "--max-new-tokens", "6", "--prompt", "report"]),
        PredictSettings)
    assert from_json == from_flags == PredictSettings(batch_size=3, max_length=40, max_new_tokens=6,
                                                      min_new_tokens=1, prompt="report")
    mixed = parser.parse_args(["--settings", json.dumps(given), "--batch-size", "9"])
    assert settings_from_arguments(mixed, PredictSettings).batch_size == 9
    with pytest.raises(ConfigError, match="not read by this stage"):
        settings_from_arguments(parser.parse_args(["--settings", '{"rel_tol": 1}']), PredictSettings)


def test_squad_length_falls_back_to_max_length():
    section = {"batch_size": 2, "max_length": 64, "squad_max_new_tokens": 20}
    assert SquadSettings.from_section(section).length == 64
    assert SquadSettings.from_section({**section, "squad_max_length": 8192}).length == 8192
    assert "squad_max_length" not in json.loads(SquadSettings.from_section(section).to_json())
    assert SquadSettings.from_section({**section, "squad_max_length": None}).length == 64


def test_the_base_trains_with_its_own_seed_else_the_run_s():
    section = {"seed": 5, "steps": 10, "batch_size": 2, "learning_rate": 0.01}
    assert BaseSettings.from_section(section).init_seed == 5
    assert "training_seed" not in json.loads(BaseSettings.from_section(section).to_json())
    assert BaseSettings.from_section({**section, "training_seed": 9}).init_seed == 9
    with pytest.raises(ConfigError, match="base.training_seed"):
        BaseSettings.from_section({**section, "training_seed": "nine"})


def test_every_settings_field_is_a_config_key_with_a_description():
    for kind in STAGE_SETTINGS:
        for key in kind.keys():
            try:
                prop = kind.property_of(key)
            except KeyError:
                raise AssertionError(f"{kind.__name__}.{key}: {kind.key_name(key)} is no config key") from None
            assert prop.get("description"), f"{kind.key_name(key)} has no description (its --help)"


def test_the_library_s_own_defaults_are_the_schema_s():
    """Library calls without settings (a notebook, a test) compare and prompt as the config does."""
    from mathlora.evaluate.compare import DEFAULT_RULE
    from mathlora.prompts import DEFAULT_MATH_PROMPT

    evaluate = config_schema()["properties"]["evaluate"]["properties"]
    assert DEFAULT_RULE.rel_tol == evaluate["rel_tol"]["default"]
    assert DEFAULT_RULE.round_to_reference == evaluate["round_to_reference"]["default"]
    assert DEFAULT_MATH_PROMPT == evaluate["prompt"]["default"]


def test_the_squad_rule_s_defaults_are_the_contest_s():
    from mathlora.contest import SQUAD_FIXED_EM, SQUAD_FIXED_F1, SQUAD_RELATIVE

    squad = config_schema()["properties"]["squad"]["properties"]
    assert squad["relative"]["default"] == SQUAD_RELATIVE
    assert squad["fixed"]["default"] == {"f1": SQUAD_FIXED_F1, "em": SQUAD_FIXED_EM}


def test_prompt_names_are_one_registry():
    """The config and every artifact schema that names a prompt allow exactly the registry's."""
    names = sorted(MATH_PROMPTS)
    assert sorted(config_schema()["properties"]["evaluate"]["properties"]["prompt"]["enum"]) == names
    found = 0
    for path in sorted((SRC / "schemas").glob("*.schema.json")):
        text = json.loads(path.read_text(encoding="utf-8"))
        for enum in _prompt_enums(text):
            found += 1
            assert sorted(enum) == names, f"{path.name}: prompt enum {enum}, registry {names}"
    assert found >= 1


def _prompt_enums(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "prompt" and isinstance(value, dict) and "enum" in value:
                yield value["enum"]
            else:
                yield from _prompt_enums(value)
    elif isinstance(node, list):
        for value in node:
            yield from _prompt_enums(value)


# The generation keys of the evaluate stages: their defaults live in the config schema only.
GENERATION_KEYS = {key for kind in (PredictSettings, SquadSettings) for key in kind.keys()
                   if key != "prompt"}


def test_generation_defaults_are_written_once_in_the_schema():
    """No function parameter and no command-line flag of the package gives a generation key a
    default of its own (the contest environment's stand-in, which copies r1.1's API, aside)."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if "standin" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args
                positional = args.posonlyargs + args.args
                pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults))
                pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
                # "= None" means "not given" (e.g. the network's batch: the yaml's), not a value
                found += [f"{path.name}:{node.lineno} {node.name}({a.arg}=...)" for a, d in pairs
                          if a.arg in GENERATION_KEYS and not (isinstance(d, ast.Constant) and d.value is None)]
            elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument"
                  and node.args and isinstance(node.args[0], ast.Constant)
                  and str(node.args[0].value).lstrip("-").replace("-", "_") in GENERATION_KEYS
                  and any(k.arg == "default" for k in node.keywords)
                  and path.name not in ("base.py",)):  # pretraining's --batch-size is a base key
                found.append(f"{path.name}:{node.lineno} {node.args[0].value} default=...")
    assert not found, "defaults written outside config.schema.json:\n" + "\n".join(found)


def test_math_settings_keep_the_organisers_rule():
    settings = MathSettings.from_section({"rel_tol": 1e-6})
    assert settings.prompt == "entry" and settings.round_to_reference is True


def test_a_new_option_reaches_its_stage_by_the_schema_and_one_field():
    """evaluate.max_prompt_not_found: the config's value, the schema's default, the derived flag."""
    from mathlora.cli import math_eval

    parser = argparse.ArgumentParser(exit_on_error=False)
    math_eval.configure(parser)
    base = ["--predictions", "p.jsonl", "--test", "t.jsonl", "--out", "m.json"]
    assert settings_from_arguments(parser.parse_args(base), MathSettings).max_prompt_not_found == 0
    flagged = parser.parse_args([*base, "--max-prompt-not-found", "3"])
    assert settings_from_arguments(flagged, MathSettings).max_prompt_not_found == 3
    config = load_config(CONFIGS[0])
    assert json.loads(MathSettings.from_section(config["evaluate"]).to_json())["max_prompt_not_found"] == 0
