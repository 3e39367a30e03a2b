"""LoRA merge: W += B @ A * alpha / rank, verified on logits; wrong scale or bad input fails cleanly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from _model_helpers import mathlora, render_tiny, save_random_base
from mathlora.errors import InputError
from mathlora.model.merge import merge_lora


def test_merge_lora_arithmetic():
    rng = np.random.default_rng(0)
    w, a, b = rng.normal(size=(6, 5)), rng.normal(size=(2, 5)), rng.normal(size=(6, 2))
    params = {"m.wq.weight": w.astype(np.float32), "m.wq.mindpet_delta_lora_a": a.astype(np.float32),
              "m.wq.mindpet_delta_lora_b": b.astype(np.float32), "adam_m.m.wq.mindpet_delta_lora_a": a,
              "global_step": np.array([3])}
    merged, targets = merge_lora(params, scale=2.0, source="x.ckpt")
    assert targets == ["m.wq.weight"] and set(merged) == {"m.wq.weight"}
    np.testing.assert_allclose(merged["m.wq.weight"], w + 2.0 * (b @ a), rtol=1e-5)


def test_merge_lora_shape_mismatch_names_parameter():
    params = {"m.wq.weight": np.zeros((6, 5), np.float32),
              "m.wq.mindpet_delta_lora_a": np.zeros((2, 4), np.float32),
              "m.wq.mindpet_delta_lora_b": np.zeros((6, 2), np.float32)}
    with pytest.raises(InputError, match=r"x.ckpt: field 'm.wq.mindpet_delta_lora_b'.*do not fit"):
        merge_lora(params, scale=1.0, source="x.ckpt")


def _lora_checkpoint(tmp_path, yaml_path):
    """A LoRA training checkpoint with random (non-zero) A and B, and its train report."""
    import mindspore as ms

    base = save_random_base(yaml_path, tmp_path / "base.ckpt")
    params = {k: v.asnumpy() for k, v in ms.load_checkpoint(str(base)).items()}
    rng = np.random.default_rng(1)
    for name in [n for n in params if n.endswith((".wq.weight", ".wv.weight"))]:
        out_dim, in_dim = params[name].shape
        stem = name[: -len(".weight")]
        params[f"{stem}.mindpet_delta_lora_a"] = rng.normal(0, 0.2, (4, in_dim)).astype(np.float32)
        params[f"{stem}.mindpet_delta_lora_b"] = rng.normal(0, 0.2, (out_dim, 4)).astype(np.float32)
    params["global_step"] = np.array([4], np.int32)
    lora = tmp_path / "lora1.ckpt"
    ms.save_checkpoint([{"name": n, "data": ms.Tensor(v)} for n, v in params.items()], str(lora))
    from mathlora.artifacts import write_artifact

    report = tmp_path / "train.json"
    write_artifact(report, "train", {
        "schedule": {"rows": 40, "epochs": 2, "global_batch_size": 4, "steps_per_epoch": 10,
                     "total_steps": 20, "save_checkpoint_steps": 4, "checkpoint_steps": [4]},
        "checkpoints": [{"k": 1, "step": 4, "epoch": 1, "path": str(lora), "shards": [str(lora)]}],
        "strategy_files": [], "ranks": 1, "trainable_parameters": 1,
        "lora": {"rank": 4, "alpha": 8.0, "dropout": 0.0, "target_modules": ".*wq|.*wv"},
        "losses": [{"step": 1, "loss": 1.0}], "final_loss": 1.0, "resumed_from": None, "seconds": 0.0,
        "yaml": str(yaml_path)})
    return lora, report


def test_merged_logits_match_lora_network(tmp_path):
    paths = render_tiny(tmp_path)
    lora, report = _lora_checkpoint(tmp_path, paths["yaml"])
    out, out_json = tmp_path / "merged" / "ckpt1.ckpt", tmp_path / "merged" / "ckpt1.json"
    result = mathlora("merge", "--yaml", str(paths["yaml"]), "--lora", str(lora), "--train-json",
                      str(report), "--k", "1", "--out", str(out), "--json", str(out_json), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    merged = json.loads(out_json.read_text())
    assert merged["scale"] == 2.0 and merged["merged_weights"] == 4
    assert merged["max_abs_logit_diff"] <= 1e-4


def test_truncated_lora_checkpoint_fails_without_output(tmp_path):
    paths = render_tiny(tmp_path)
    lora, report = _lora_checkpoint(tmp_path, paths["yaml"])
    lora.write_bytes(lora.read_bytes()[:200])
    out = tmp_path / "m.ckpt"
    result = mathlora("merge", "--yaml", str(paths["yaml"]), "--lora", str(lora), "--train-json",
                      str(report), "--k", "1", "--out", str(out), "--json", str(tmp_path / "m.json"),
                      cwd=tmp_path)
    assert result.returncode == 1
    assert "lora1.ckpt" in result.stderr and "cannot read checkpoint" in result.stderr
    assert not out.exists()
