"""The workflow config schema: committed configs pass, incomplete ones are refused by name,
defaults are filled the way the Snakefile fills them (``mathlora.settings.validated``), and the real
entry's numbers in config/ascend.yaml stay the contest entry's."""
import copy
import json
from pathlib import Path

import pytest
import yaml
from snakemake.utils import update_config

from mathlora.data.categories import CATEGORIES
from mathlora.errors import ConfigError
from mathlora.settings import validated

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = str(ROOT / "src" / "mathlora" / "schemas" / "config.schema.json")


def validate(config: dict) -> None:
    """What the Snakefile does to its config: validated, defaults filled in place."""
    config.update(validated(config, source="config"))


def load(*names: str) -> dict:
    """Merge config files left to right, as `snakemake --configfile a b` does (the Snakefile's own
    default, config/config.yaml, is read only when no config file is named)."""
    config: dict = {}
    for name in names:
        update_config(config, yaml.safe_load((ROOT / name).read_text(encoding="utf-8")))
    return config


def refusal(config: dict) -> str:
    """The error text the Snakefile would show for `config`."""
    with pytest.raises(ConfigError) as caught:
        validate(config)
    return str(caught.value)


@pytest.mark.parametrize("names", [
    ("config/config.yaml",),
    ("config/ascend.yaml",),
    ("config/ascend.yaml", "config/ascend-2x4.yaml"),
    ("config/config.yaml", "config/base-model.yaml"),
    ("tests/integration/minimal.yaml",),
])
def test_every_committed_config_validates(names):
    validate(load(*names))


def test_the_overlay_changes_only_the_launch():
    merged = load("config/ascend.yaml", "config/ascend-2x4.yaml")
    assert merged["finetune"]["parallel"] == {"data_parallel": 2, "model_parallel": 4}
    assert merged["finetune"]["launcher"]["worker_num"] == 8
    assert merged["finetune"]["launcher"]["local_worker_num"] == 4
    assert merged["finetune"]["epochs"] == 5   # untouched keys survive the merge


@pytest.mark.parametrize("section, source, missing", [
    ("data", "synth", "english_lines"),
    ("squad", "synth", "synth_paragraphs"),
    ("base", "pretrain", "steps"),
    ("base", "pretrain", "batch_size"),
    ("base", "pretrain", "learning_rate"),
    ("tokenizer", "train", "ranks"),
])
def test_a_generated_source_needs_its_settings(section, source, missing):
    config = load("config/config.yaml", "config/base-model.yaml")  # what make base-model runs
    assert config[section]["source"] == source
    del config[section][missing]
    message = refusal(config)
    assert f"config: {section}: '{missing}' is a required property" in message


def test_make_base_model_trains_the_tokenizer_on_the_whole_sample():
    # The tokenizer learns from the conversation JSON; the default's narrowed fine-tuning set would
    # give another tokenizer, and so another base, than the one shipped.
    assert load("config/config.yaml")["data"]["finetune_categories"] != "all"
    assert load("config/config.yaml", "config/base-model.yaml")["data"]["finetune_categories"] == "all"


def test_a_base_corpus_needs_the_report_it_is_checked_against():
    config = load("config/config.yaml")
    del config["base"]["report"]
    assert "'report' is a dependency of 'corpus'" in refusal(config)


@pytest.mark.parametrize("section, source, dropped", [
    ("data", "file", ["english_lines", "template_rate"]),
    ("squad", "file", ["synth_paragraphs"]),
    ("base", "file", ["steps", "batch_size", "learning_rate"]),
    ("tokenizer", "file", ["ranks"]),
])
def test_a_file_source_needs_none_of_them(section, source, dropped):
    config = load("config/config.yaml")
    config[section]["source"] = source
    for key in dropped:
        del config[section][key]
    validate(config)


def test_validate_fills_nested_defaults():
    config = load("config/config.yaml")
    del config["data"]["test_pool"], config["data"]["template_rate"]
    config["data"].pop("finetune_categories", None)
    del config["evaluate"]["round_to_reference"], config["evaluate"]["judge_submission"]
    validate(config)
    assert config["data"]["test_pool"] == "all"
    assert config["data"]["finetune_categories"] == "all"
    assert config["data"]["template_rate"] == 0.0
    assert config["evaluate"]["round_to_reference"] is True
    assert config["evaluate"]["judge_submission"] == ""


def test_a_default_does_not_override_a_given_value():
    config = load("config/config.yaml")
    config["data"]["test_pool"] = "kept"
    validate(config)
    assert config["data"]["test_pool"] == "kept"


def test_an_unknown_key_is_refused_by_name():
    config = load("config/config.yaml")
    broken = copy.deepcopy(config)
    broken["data"]["english_line"] = 10
    assert "english_line" in refusal(broken)


def test_finetune_categories_are_the_categories_prepare_reports():
    schema = json.loads(Path(SCHEMA).read_text(encoding="utf-8"))
    listed = schema["properties"]["data"]["properties"]["finetune_categories"]["oneOf"][1]
    assert tuple(listed["items"]["enum"]) == CATEGORIES
    config = load("config/config.yaml")
    config["data"]["finetune_categories"] = ["add", "subtraction"]
    assert "subtraction" in refusal(config)


def test_ascend_yaml_is_the_contest_entry():
    config = load("config/ascend.yaml")
    data, finetune = config["data"], config["finetune"]
    assert data["source"] == "file"
    assert data["chinese_lines"] == 800_000
    assert data["sample"] == {"chinese": 88_800, "english": 1_200}
    assert data["finetune_categories"] == "all"
    assert config["mindrecord"]["seq_length"] == 256
    assert config["model"]["seq_length"] == 256
    assert finetune["lora"] == {"rank": 8, "alpha": 16, "dropout": 0.0, "target_modules": ".*wq|.*wv",
                                "param_init_type": "float16", "compute_dtype": "float16"}
    assert finetune["epochs"] == 5
    assert finetune["global_batch_size"] == 64
    assert finetune["checkpoints"] == 5
    assert finetune["learning_rate"] == pytest.approx(1e-5, rel=0, abs=1e-12)
    assert finetune["lr_end"] == 0.0
    assert finetune["warmup_ratio"] == pytest.approx(0.03, rel=0, abs=1e-12)
    assert finetune["parallel"] == {"data_parallel": 1, "model_parallel": 4}
    assert finetune["launcher"]["type"] == "msrun"
    assert finetune["launcher"]["worker_num"] == 4
    assert finetune["launcher"]["local_worker_num"] == 4
    assert config["squad"]["thresholds"] == "fixed"
    assert config["squad"]["fixed"] == {"f1": 53.883, "em": 39.753}
    assert config["evaluate"]["batch_size"] == 4
    assert config["evaluate"]["max_length"] == 512


def test_ascend_yaml_is_llama3_8b():
    model = load("config/ascend.yaml")["model"]
    assert {key: model[key] for key in ("hidden_size", "num_layers", "num_heads", "n_kv_heads",
                                        "intermediate_size", "vocab_size", "theta")} == {
        "hidden_size": 4096, "num_layers": 32, "num_heads": 32, "n_kv_heads": 8,
        "intermediate_size": 14336, "vocab_size": 128256, "theta": 500000}
    assert model["rms_norm_eps"] == pytest.approx(1e-5, rel=0, abs=1e-12)
    assert model["compute_dtype"] == "bfloat16"
