"""judge: the options checked before any model is loaded, and the checkpoints of a submission."""

from __future__ import annotations

import argparse
import json
import zipfile

import pytest

from mathlora.artifacts import write_artifact
from mathlora.cli import main as cli
from mathlora.errors import ConfigError, InputError, MathloraError
from mathlora.evaluate import judge


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    judge.configure(parser)
    return parser.parse_args(["--checkpoints", "ckpts", "--test", "t.jsonl", "--squad-dev", "d.json",
                              "--model-yaml", "m.yaml", "--tokenizer", "tok.model",
                              "--out-dir", "out", *argv])


def params_artifact(path, trainable: int = 3_407_872):
    return write_artifact(path, "params", {
        "lora": {"rank": 8, "alpha": 16.0, "target_modules": ".*wq|.*wv"}, "lora_modules": 64,
        "lora_module_names": ["wq", "wv"], "total_parameters": 8_033_669_120,
        "base_parameters": 8_030_261_248, "trainable_parameters": trainable,
        "official_denominator": 8_030_000_000, "official_ratio": trainable / 8_030_000_000,
        "exact_ratio": trainable / 8_033_669_120, "source": "finetune.yaml"})


def test_threshold_options_are_summarys():
    args = parse("--ratio", "0.001")
    assert (args.thresholds, args.relative, args.fixed_f1, args.fixed_em) == ("relative", 0.9, 53.883, 39.753)
    assert args.no_round is False and parse("--ratio", "0", "--no-round").no_round is True


def test_relative_thresholds_need_the_base_checkpoint():
    with pytest.raises(ConfigError, match="give --base-checkpoint, or use --thresholds fixed"):
        judge.check_options(parse("--ratio", "0.001"))
    assert judge.check_options(parse("--ratio", "0.001", "--thresholds", "fixed")) == 0.001
    assert judge.check_options(parse("--ratio", "0.001", "--base-checkpoint", "b.ckpt")) == 0.001
    with pytest.raises(ConfigError, match=r"--ratio must lie in \[0, 1\]"):
        judge.check_options(parse("--ratio", "2", "--thresholds", "fixed"))


def test_params_is_read_as_a_validated_artifact(tmp_path):
    params_artifact(tmp_path / "params.json")
    args = parse("--params", str(tmp_path / "params.json"), "--thresholds", "fixed")
    assert judge.check_options(args) == 3_407_872 / 8_030_000_000
    loose = tmp_path / "loose.json"
    loose.write_text(json.dumps({"official_ratio": 0.0004}))
    with pytest.raises(MathloraError, match="loose.json: field .*'schema_version' is a required"):
        judge.check_options(parse("--params", str(loose), "--thresholds", "fixed"))


def test_main_fails_before_loading_a_model(tmp_path, capsys):
    argv = ["judge", "--checkpoints", str(tmp_path), "--test", "t.jsonl", "--squad-dev", "d.json",
            "--model-yaml", "m.yaml", "--tokenizer", "tok.model", "--ratio", "0.001",
            "--out-dir", str(tmp_path / "out")]
    assert cli(argv) == 1
    assert "give --base-checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_zip_checkpoints_are_extracted_in_natural_order_without_temporaries(tmp_path):
    bundle = tmp_path / "sub.zip"
    with zipfile.ZipFile(bundle, "w") as z:
        for name in ("run/ckpt10.ckpt", "run/ckpt2.ckpt", "run/deep/ckpt1.ckpt", "run/REPORT.md"):
            z.writestr(name, f"weights of {name}")
    work = tmp_path / "work"
    found = judge.extract_checkpoints(bundle, work)
    assert [p.name for p in found] == ["ckpt1.ckpt", "ckpt2.ckpt", "ckpt10.ckpt"]
    assert found[0].read_text() == "weights of run/deep/ckpt1.ckpt"
    assert sorted(p.name for p in work.iterdir()) == ["ckpt1.ckpt", "ckpt10.ckpt", "ckpt2.ckpt"]
    twice = tmp_path / "twice.zip"
    with zipfile.ZipFile(twice, "w") as z:
        z.writestr("a/ckpt1.ckpt", "x")
        z.writestr("b/ckpt1.ckpt", "y")
    with pytest.raises(InputError, match="two checkpoints with the same file name"):
        judge.extract_checkpoints(twice, tmp_path / "w2")
