"""Parameter counts from the real network (no weights allocated), checked against layer shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _model_helpers import mathlora

from mathlora.errors import ConfigError
from mathlora.model import params

ROOT = Path(__file__).resolve().parents[2]
ASCEND = str(ROOT / "config" / "ascend.yaml")


def _lora_count(rank: int, targets: list[str], *, layers=32, hidden=4096, heads=32, kv_heads=8) -> int:
    """LoRA adds rank x (in + out) per adapted projection; shapes from the Llama3-8B architecture."""
    kv = hidden // heads * kv_heads
    shape = {"wq": (hidden, hidden), "wk": (hidden, kv), "wv": (hidden, kv), "wo": (hidden, hidden)}
    return layers * sum(rank * (shape[t][0] + shape[t][1]) for t in targets)


def test_ascend_entry_count_and_ratios():
    report = params.count(params.model_config_from_config(ASCEND, None))
    assert report["trainable_parameters"] == 3_407_872 == _lora_count(8, ["wq", "wv"])
    assert report["total_parameters"] == 8_033_669_120
    assert report["base_parameters"] == 8_030_261_248
    assert round(report["official_ratio"], 9) == 0.000424393
    assert report["exact_ratio"] == pytest.approx(3_407_872 / 8_033_669_120)


def test_other_rank_and_targets_from_the_network():
    config = params.model_config_from_config(ASCEND, None)
    report = params.count(config, lora_rank=16, target_modules=".*wq|.*wk|.*wv|.*wo")
    assert report["trainable_parameters"] == _lora_count(16, ["wq", "wk", "wv", "wo"]) == 13_631_488
    assert report["lora_modules"] == 128
    assert params.count(config, lora_rank=12, target_modules=".*wk")["trainable_parameters"] == \
        _lora_count(12, ["wk"])


def test_regex_matching_nothing_is_an_error():
    with pytest.raises(ConfigError, match="matches no layer"):
        params.count(params.model_config_from_config(ASCEND, None), target_modules=".*w_missing")


def test_cli_json_and_error_exit(tmp_path):
    out = tmp_path / "params.json"
    result = mathlora("params", "--config", ASCEND, "--json", "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["trainable_parameters"] == 3_407_872
    assert json.loads(out.read_text())["official_denominator"] == 8_030_000_000
    bad = mathlora("params", "--config", ASCEND, "--target-modules", ".*nothing", cwd=tmp_path)
    assert bad.returncode == 1 and "matches no layer" in bad.stderr


def test_lora_settings_without_pet_config_need_rank_and_targets():
    with pytest.raises(ConfigError, match="no pet_config .* give --lora-rank and --target-modules"):
        params.lora_settings(None)
    with pytest.raises(ConfigError, match="give --target-modules"):
        params.lora_settings(None, lora_rank=4)
    pet = params.lora_settings(None, lora_rank=4, target_modules=".*wq")
    assert (pet["lora_rank"], pet["lora_alpha"], pet["target_modules"]) == (4, 8, ".*wq")
    yaml_pet = {"pet_type": "lora", "lora_rank": 8, "lora_alpha": 16, "lora_dropout": 0.0,
                "target_modules": ".*wq|.*wv"}
    assert params.lora_settings(yaml_pet) == yaml_pet
    assert params.lora_settings(yaml_pet, lora_rank=2, lora_alpha=3.0)["lora_alpha"] == 3.0


def test_lora_alpha_without_rank_is_an_error():
    with pytest.raises(ConfigError, match="--lora-alpha needs --lora-rank"):
        params.lora_settings({"lora_rank": 8, "lora_alpha": 16, "target_modules": ".*wq"}, lora_alpha=4.0)
    with pytest.raises(ConfigError, match="--lora-rank 0: expected a positive integer"):
        params.lora_settings(None, lora_rank=0, target_modules=".*wq")


def test_broken_yaml_is_an_input_error(tmp_path):
    from mathlora.errors import InputError

    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError, match="bad.yaml: not valid YAML"):
        params.model_config_from_yaml(bad)
