"""Context set-up and the CPU patch are idempotent; bad checkpoints and tokenizers fail clearly."""

from __future__ import annotations

import numpy as np
import pytest
from _model_helpers import RANKS, VOCAB, render_tiny, save_random_base, write_tokenizer

from mathlora.errors import InputError
from mathlora.model import compat, network


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("network")
    paths = render_tiny(tmp)
    paths["base"] = save_random_base(paths["yaml"], tmp / "base.ckpt")
    return paths


def _weights(path) -> dict[str, np.ndarray]:
    import mindspore as ms

    return {name: value.asnumpy() for name, value in ms.load_checkpoint(str(path)).items()}


def _save(weights: dict[str, np.ndarray], path):
    import mindspore as ms

    ms.save_checkpoint([{"name": n, "data": ms.Tensor(v)} for n, v in weights.items()], str(path))
    return path


def test_set_context_and_patch_are_idempotent():
    from mindspore import nn

    network.set_context("cpu")
    patched = nn.TrainOneStepWithLossScaleCell.get_overflow_status
    network.set_context("cpu")
    compat.cpu_overflow_check()
    compat.register_entry_names()
    assert nn.TrainOneStepWithLossScaleCell.get_overflow_status is patched
    import mindspore as ms

    assert ms.get_context("mode") == ms.GRAPH_MODE and ms.get_context("device_target") == "CPU"
    from mindformers.tools.register import MindFormerModuleType, MindFormerRegister

    optimizers = MindFormerRegister.registry[MindFormerModuleType.OPTIMIZER]
    callbacks = MindFormerRegister.registry[MindFormerModuleType.CALLBACK]
    assert "FP32StateAdamWeightDecay" in optimizers and "CheckpointMointor" in callbacks


def test_cpu_overflow_check_flags_non_finite_gradients():
    import mindspore as ms
    from mindspore import nn

    network.set_context("cpu")
    check = nn.TrainOneStepWithLossScaleCell.get_overflow_status
    finite = (ms.Tensor(np.ones((2, 2), np.float32)), ms.Tensor(np.zeros(3, np.float32)))
    assert not bool(check(None, None, finite).asnumpy())
    for bad in (np.inf, -np.inf, np.nan):
        grads = (finite[0], ms.Tensor(np.array([0.0, bad, 1.0], np.float32)))
        assert bool(check(None, None, grads).asnumpy())


def test_quiet_logs_points_mindformers_away_from_cwd(monkeypatch):
    monkeypatch.delenv("LOG_MF_PATH", raising=False)
    compat.prepare_mindformers_import()
    import os

    assert os.environ["LOG_MF_PATH"] and not os.environ["LOG_MF_PATH"].startswith(os.getcwd())


def test_loads_full_weights_exactly(tiny):
    net = network.load_causal_lm(tiny["yaml"], tiny["base"], batch_size=1, seq_length=32)
    saved = _weights(tiny["base"])
    loaded = {p.name: p.asnumpy() for p in net.get_parameters()}
    assert set(loaded) <= set(saved)
    for name, value in loaded.items():
        np.testing.assert_array_equal(value, saved[name], err_msg=name)


def test_missing_and_empty_checkpoint(tiny, tmp_path):
    missing = tmp_path / "nothere.ckpt"
    with pytest.raises(InputError, match=r"nothere.ckpt: checkpoint not found"):
        network.load_causal_lm(tiny["yaml"], missing, batch_size=1)
    empty = tmp_path / "empty.ckpt"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty.ckpt: checkpoint is empty"):
        network.load_causal_lm(tiny["yaml"], empty, batch_size=1)


def test_truncated_checkpoint(tiny, tmp_path):
    data = tiny["base"].read_bytes()
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut.ckpt: cannot read checkpoint \(truncated"):
        network.load_causal_lm(tiny["yaml"], cut, batch_size=1)


def test_shape_mismatch_names_parameter_and_expected_shape(tiny, tmp_path):
    weights = _weights(tiny["base"])
    name = "model.layers.1.attention.wv.weight"
    want = weights[name].shape
    weights[name] = np.zeros((want[0] + 1, want[1]), np.float32)
    bad = _save(weights, tmp_path / "shape.ckpt")
    with pytest.raises(InputError) as error:
        network.load_causal_lm(tiny["yaml"], bad, batch_size=1)
    text = str(error.value)
    assert "shape.ckpt" in text and name in text
    assert f"shape {(want[0] + 1, want[1])} does not fit the model; expected {tuple(want)}" in text


def test_missing_parameter_and_unmerged_lora(tiny, tmp_path):
    weights = _weights(tiny["base"])
    name = "model.norm_out.weight"
    dropped = {k: v for k, v in weights.items() if k != name}
    with pytest.raises(InputError, match=rf"lacks.ckpt: field '{name}': checkpoint lacks parameter {name} "
                                         rf"\(expected shape \(32,\)\)"):
        network.load_causal_lm(tiny["yaml"], _save(dropped, tmp_path / "lacks.ckpt"), batch_size=1)
    lora = dict(weights)
    lora["model.layers.0.attention.wq.mindpet_delta_lora_a"] = np.zeros((4, 32), np.float32)
    with pytest.raises(InputError, match=r"unmerged LoRA weights .*run `mathlora merge` first"):
        network.load_causal_lm(tiny["yaml"], _save(lora, tmp_path / "lora.ckpt"), batch_size=1)


def test_tokenizer_must_fit_the_model(tiny, tmp_path):
    network.check_tokenizer_fits(tiny["tokenizer"], tiny["yaml"])  # the one the yaml was sized from
    big = write_tokenizer(tmp_path / "big.model", ranks=RANKS + 10)
    with pytest.raises(InputError, match=rf"big.model: field 'vocab_size': tokenizer has {VOCAB + 10} ids "
                                         rf".*vocab_size {VOCAB}; expected at most {VOCAB} ids"):
        network.check_tokenizer_fits(big, tiny["yaml"])
    small = write_tokenizer(tmp_path / "small.model", ranks=RANKS - 10)
    with pytest.raises(InputError, match=rf"small.model: field 'bos_token_id': bos_token_id is "
                                         rf"{RANKS - 10} for this tokenizer but {RANKS}"):
        network.check_tokenizer_fits(small, tiny["yaml"])


def test_unknown_device_target_is_a_config_error(monkeypatch):
    from mathlora.errors import ConfigError

    with pytest.raises(ConfigError, match="device_target 'GPU': expected one of"):
        network.set_context("GPU")


def test_ascend_merged_file_of_another_float_dtype_is_cast_and_said_so(capsys):
    """The organisers' evaluation yamls are fp16: a merged file of another float dtype loads (cast
    by MindSpore's loader, as MindFormers loads it) and the cast is reported; ints are refused."""
    import mindspore as ms
    import numpy as np
    import pytest
    from mindspore import nn

    from mathlora.errors import InputError
    from mathlora.model import network

    net = nn.Dense(4, 3, dtype=ms.float32)
    params = {"weight": ms.Parameter(ms.Tensor(np.full((3, 4), 0.5, np.float16)), name="weight"),
              "bias": ms.Parameter(ms.Tensor(np.ones(3, np.float16)), name="bias")}
    assert network.check_and_load(net, params, "merged.ckpt") == {"Float16 -> Float32": 2}
    assert "merged.ckpt: cast 2 parameters Float16 -> Float32" in capsys.readouterr().out
    assert net.weight.dtype == ms.float32 and float(net.weight.asnumpy()[0, 0]) == 0.5
    params["bias"] = ms.Parameter(ms.Tensor(np.ones(3, np.int32)), name="bias")
    with pytest.raises(InputError, match="stores Int32 but the network holds Float32"):
        network.check_and_load(net, params, "merged.ckpt")
