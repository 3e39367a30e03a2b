"""The LoRA matrices train in the entry's dtype: float16, as MindFormers r1.1's LoraConfig default.

The entry's pet_config named no dtype, so on r1.1 its LoRA matrices were float16 beside a bf16 base;
MindFormers 1.9 leaves an unnamed dtype to the wrapped layer (bf16). Neither optimizer keeps an fp32
master copy, so the parameter's dtype decides how much of an update of the schedule's size survives.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# r1.1's LoraConfig(param_init_type='float16', compute_dtype='float16'): mindformers/pet/pet_config.py
# of tag v1.1.0 and branch r1.1.0 alike.
R11_LORA = {"param_init_type": "float16", "compute_dtype": "float16"}


def _ascend_finetune_yaml() -> dict:
    from mathlora.package.yamls import submission_yamls

    return yaml.safe_load(submission_yamls(ROOT / "config" / "ascend.yaml")["finetune_llama3_8b_lora.yaml"])


def _lora_dtypes_as_mindformers_builds_them(model_config: dict):
    """(param_init_type, compute_dtype) MindFormers 1.9's LoRA adapter gives a wrapped wq."""
    import mindspore as ms
    from mindformers.modules.layers import Linear
    from mindformers.pet.pet_config import LoraConfig
    from mindformers.pet.tuners.lora_adapter import get_dtype

    pet = {k: v for k, v in model_config["pet_config"].items() if k != "pet_type"}
    wq = Linear(64, 64, has_bias=False, param_init_type=getattr(ms, model_config["param_init_type"]),
                compute_dtype=getattr(ms, model_config["compute_dtype"]))
    return get_dtype(wq, LoraConfig(**pet))


def _unchanged_share(start: np.ndarray, updated_fp32: np.ndarray, dtype) -> float:
    """Share of entries an update leaves unchanged once written back in ``dtype`` (both optimizers
    cast the fp32 result to the parameter's dtype, with no master copy)."""
    before = start.astype(dtype)
    after = (before.astype(np.float32) + (updated_fp32 - start)).astype(dtype)
    return float((after == before).mean())


def test_ascend_rendered_pet_config_states_the_entrys_lora_dtypes():
    model_config = _ascend_finetune_yaml()["model"]["model_config"]
    pet = model_config["pet_config"]
    assert {key: pet.get(key) for key in R11_LORA} == R11_LORA
    assert model_config["compute_dtype"] == "bfloat16"  # the base stays the entry's bf16
    committed = yaml.safe_load((ROOT / "submission" / "finetune_llama3_8b_lora.yaml").read_text())
    assert committed["model"]["model_config"]["pet_config"] == pet


def test_ascend_one_entry_step_changes_lora_as_on_r11():
    """One AdamW step at the entry's peak rate (1e-5) on a HeUniform lora_a of wq (in 4096): the
    dtype MindFormers 1.9 builds from the rendered yaml keeps every entry's change as r1.1's fp16."""
    import mindspore as ms
    from mindformers.core.optim import build_optim
    from mindpet.delta.lora import LoRADense
    from mindspore import Parameter, Tensor
    from mindspore.common import np_dtype

    from mathlora.model import compat

    compat.prepare_mindformers_import()
    compat.register_entry_names()
    ms.set_context(device_target="CPU")
    ms.set_seed(0)
    document = _ascend_finetune_yaml()
    model_config = document["model"]["model_config"]
    param_dtype, compute_dtype = _lora_dtypes_as_mindformers_builds_them(model_config)
    numpy_dtype = {ms.float16: np.float16, ms.bfloat16: np_dtype.bfloat16, ms.float32: np.float32}

    # r1.1's adapter passes no lora_a_init: mindpet's HeUniform(sqrt(5)), about +-1/64 at in 4096.
    lora = LoRADense(4096, 16, lora_rank=8, lora_alpha=16, lora_dropout=0.0,
                     param_init_type=ms.float32, compute_dtype=ms.float32)
    start = lora.mindpet_delta_lora_a.asnumpy()
    assert 0.015 < np.abs(start).max() <= 1 / 64
    rate = float(document["lr_schedule"]["learning_rate"])
    assert rate == pytest.approx(1e-5)
    gradient = np.random.default_rng(0).standard_normal(start.shape).astype(np.float32)

    def step(dtype, numpy_type):
        """The rendered optimizer (MindFormers' own build), one step on a parameter of ``dtype``."""
        parameter = Parameter(Tensor(start.astype(numpy_type)), name="lora_a")
        options = {k: v for k, v in document["optimizer"].items()}
        optimizer = build_optim(options, default_args={"params": [parameter], "learning_rate": rate})
        optimizer((Tensor(gradient.astype(numpy_type)),))
        return parameter.asnumpy().astype(np.float32)

    exact = step(ms.float32, np.float32)  # the optimizer's fp32 result before the write-back cast
    assert np.abs(exact - start).max() == pytest.approx(rate, rel=1e-3)
    # fp16 parameters run on the CPU: the write-back model equals the optimizer's own cast there
    fp16 = step(ms.float16, np.float16)
    before16 = start.astype(np.float16).astype(np.float32)
    assert float((fp16 == before16).mean()) == _unchanged_share(start, exact, np.float16)

    r11 = _unchanged_share(start, exact, np.float16)
    rebuilt = _unchanged_share(start, exact, numpy_dtype[param_dtype])
    assert r11 < 0.01  # r1.1: practically every entry moves
    assert _unchanged_share(start, exact, np_dtype.bfloat16) > 0.5  # what a bf16 LoRA would lose
    assert (str(param_dtype), rebuilt) == (str(ms.float16), r11), \
        f"LoRA matrices built as {param_dtype}: {rebuilt:.0%} of lora_a unchanged, r1.1 {r11:.0%}"
    assert compute_dtype == ms.float16


def test_ascend_unstated_lora_dtype_beside_a_bf16_base_is_an_error(tmp_path):
    from mathlora.cli import finetune
    from mathlora.errors import ConfigError, InputError
    from mathlora.model import lora_dtype, render
    from mathlora.tokenizer.llama3 import special_ids

    config = yaml.safe_load((ROOT / "config" / "ascend.yaml").read_text(encoding="utf-8"))
    for key in R11_LORA:
        config["finetune"]["lora"].pop(key)
    settings = render.load_settings(None, json.dumps(config))
    with pytest.raises(ConfigError, match=r"finetune\.lora\.param_init_type: not stated.*bfloat16"):
        render.render_values(settings, mode="finetune", vocab=special_ids(128_000),
                             tokenizer="tokenizer.model", rows=90_000, dataset="", load_checkpoint="",
                             output_dir="./output", config_name="ascend.yaml")
    # a float16 base: r1.1 and 1.9 read an unstated dtype alike, so it may stay unstated
    config["model"].update(compute_dtype="float16", param_init_type="float16")
    assert lora_dtype.resolve(config["model"], config["finetune"]["lora"]) == R11_LORA

    # a MindFormers yaml handed to `mathlora finetune`: refused before anything is prepared
    document = _ascend_finetune_yaml()
    for key in R11_LORA:
        document["model"]["model_config"]["pet_config"].pop(key)
    bad = tmp_path / "finetune.yaml"
    bad.write_text(yaml.safe_dump(document), encoding="utf-8")
    parser = __import__("argparse").ArgumentParser()
    finetune.configure(parser)
    workdir = tmp_path / "work"
    args = parser.parse_args(["--yaml", str(bad), "--base", str(tmp_path / "base.ckpt"),
                              "--dataset", str(tmp_path / "train.mindrecord"), "--workdir", str(workdir),
                              "--ckpt-out", str(tmp_path / "lora{k}.ckpt"), "--report",
                              str(tmp_path / "train.json"), "--plot", str(tmp_path / "loss.png")])
    with pytest.raises(InputError) as error:
        finetune.main(args)
    assert error.value.field == "model.model_config.pet_config.param_init_type"
    assert str(bad) in str(error.value)
    assert not workdir.exists()
