"""LoRA merge: W += B @ A * alpha / rank, streamed tensor by tensor, checked layer by layer.

A wrong scale, a wrong rank or a damaged file fails cleanly with nothing written; bf16 weights stay
bf16 and load into a bf16 network; the merged plain network reproduces the LoRA network's logits.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from _model_helpers import lora_training_checkpoint, mathlora, render_tiny, save_tensors

from mathlora.errors import InputError
from mathlora.model import checkpoint_file, merge

STEM = "model.layers.0.attention.wq"


def lora_tensors(dtype, rank: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    """A small LoRA training checkpoint's tensors: two adapted weights, others, training state."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for name, (out_dim, in_dim) in (("wq", (24, 16)), ("wv", (8, 16))):
        stem = f"model.layers.0.attention.{name}"
        tensors[f"{stem}.mindpet_delta_lora_a"] = rng.normal(0, 0.3, (rank, in_dim)).astype(dtype)
        tensors[f"{stem}.mindpet_delta_lora_b"] = rng.normal(0, 0.3, (out_dim, rank)).astype(dtype)
        tensors[f"{stem}.weight"] = rng.normal(0, 1, (out_dim, in_dim)).astype(dtype)
    tensors["model.norm_out.weight"] = rng.normal(1, 0.1, (16,)).astype(dtype)
    tensors[f"adam_m.{STEM}.mindpet_delta_lora_a"] = np.zeros((rank, 16), np.float32)
    tensors["global_step"] = np.array([7], np.int32)
    tensors["epoch_num"] = np.array(2, np.int64)
    return tensors


def run_merge(root, yaml, lora, train_json, out, report):
    """``mathlora merge`` as the graph runs it, the fine-tuning folder being ``root/output``."""
    return mathlora("merge", "--yaml", str(yaml), "--lora", str(lora), "--workdir", str(root / "output"),
                    "--train-json", str(train_json), "--k", "1", "--out", str(out), "--report", str(report),
                    cwd=root)


def bf16():
    from mindspore.common import np_dtype

    return np_dtype.bfloat16


@pytest.mark.parametrize("kind", ["float32", "bf16"])
def test_merge_file_keeps_dtypes_drops_state_and_copies_the_rest(tmp_path, kind):
    dtype = bf16() if kind == "bf16" else np.float32
    tensors = lora_tensors(dtype)
    source = save_tensors(tmp_path / "lora.ckpt", tensors)
    result = merge.merge_file(source, tmp_path / "merged.ckpt", scale=2.0, rank=4)
    assert result.targets == [f"model.layers.0.attention.{n}.weight" for n in ("wq", "wv")]
    assert 0 < result.weight_check <= 1 and 0 <= result.dense_check <= 1
    merged = dict(checkpoint_file.iter_tensors(tmp_path / "merged.ckpt"))
    assert sorted(merged) == sorted(result.targets + ["model.norm_out.weight"])  # no A/B, no state
    for tag in result.targets:
        stem = tag[: -len(".weight")]
        a, b, w = (tensors[stem + s].astype(np.float64) for s in (merge.LORA_A, merge.LORA_B, ".weight"))
        assert merged[tag].dtype == dtype  # bf16 stays bf16
        np.testing.assert_allclose(merged[tag].astype(np.float64), w + 2.0 * b @ a,
                                   rtol=2.0 ** -7 if kind == "bf16" else 1e-5, atol=1e-5)
    assert merged["model.norm_out.weight"].tobytes() == tensors["model.norm_out.weight"].tobytes()


def test_wrong_scale_fails_naming_the_layer_and_writes_nothing(tmp_path, monkeypatch):
    source = save_tensors(tmp_path / "lora.ckpt", lora_tensors(np.float32))
    exact = merge.merge_weight
    monkeypatch.setattr(merge, "merge_weight", lambda w, a, b, scale: exact(w, a, b, 1.0))  # the trap
    with pytest.raises(merge.MergeCheckError, match=rf"{STEM}.weight: merged weight differs from "
                                                     r"W \+ 2 \* B @ A"):
        merge.merge_file(source, tmp_path / "merged.ckpt", scale=2.0)
    assert not list(tmp_path.glob("merged*"))


def test_rank_that_disagrees_with_the_yaml_is_refused(tmp_path):
    source = save_tensors(tmp_path / "lora.ckpt", lora_tensors(np.float32, rank=4))
    with pytest.raises(InputError, match=rf"lora.ckpt: field '{STEM}.mindpet_delta_lora_a': LoRA rank 4 "
                                         "but the yaml's pet_config says lora_rank 8"):
        merge.merge_file(source, tmp_path / "merged.ckpt", scale=2.0, rank=8)


def test_unpaired_and_misshapen_lora_matrices_are_refused(tmp_path):
    tensors = lora_tensors(np.float32)
    del tensors[f"{STEM}.mindpet_delta_lora_b"]
    with pytest.raises(InputError, match="LoRA A without B"):
        merge.merge_file(save_tensors(tmp_path / "a.ckpt", tensors), tmp_path / "m.ckpt", scale=1.0)
    tensors = lora_tensors(np.float32)
    tensors[f"{STEM}.mindpet_delta_lora_a"] = np.zeros((4, 15), np.float32)
    with pytest.raises(InputError, match=rf"field '{STEM}.mindpet_delta_lora_b'.*do not fit"):
        merge.merge_file(save_tensors(tmp_path / "b.ckpt", tensors), tmp_path / "m.ckpt", scale=1.0)


def test_lora_only_file_merges_onto_a_separate_base(tmp_path):
    tensors = lora_tensors(np.float32)
    base = {k: v for k, v in tensors.items() if not k.endswith((merge.LORA_A, merge.LORA_B))}
    lora = {k: v for k, v in tensors.items() if k.endswith((merge.LORA_A, merge.LORA_B))}
    together = merge.merge_file(save_tensors(tmp_path / "all.ckpt", tensors), tmp_path / "one.ckpt", scale=2.0)
    apart = merge.merge_file(save_tensors(tmp_path / "lora.ckpt", lora), tmp_path / "two.ckpt", scale=2.0,
                             weights=save_tensors(tmp_path / "base.ckpt", base))
    assert together.targets == apart.targets
    assert (tmp_path / "one.ckpt").read_bytes() == (tmp_path / "two.ckpt").read_bytes()


def test_writer_output_is_byte_identical_to_mindsporees_own(tmp_path):
    import mindspore as ms

    tensors = lora_tensors(bf16())
    source = save_tensors(tmp_path / "ms.ckpt", tensors)
    index = checkpoint_file.index(source)
    with open(source, "rb") as handle, open(tmp_path / "ours.ckpt", "wb") as out:
        writer = checkpoint_file.Writer(out)
        for tag, values in index.items():
            writer.tensor(tag, checkpoint_file.read(handle, values, source))
    assert (tmp_path / "ours.ckpt").read_bytes() == source.read_bytes()
    loaded = ms.load_checkpoint(str(tmp_path / "ours.ckpt"))
    assert loaded[f"{STEM}.weight"].dtype == ms.bfloat16


def test_bf16_merged_checkpoint_loads_into_a_bf16_network(tmp_path):

    paths = render_tiny(tmp_path, model__param_init_type="bfloat16")
    lora, report = lora_training_checkpoint(tmp_path, paths["yaml"])
    out = tmp_path / "merged.ckpt"
    done = run_merge(tmp_path, paths["yaml"], lora, report, out, tmp_path / "m.json")
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((tmp_path / "m.json").read_text())["dtypes"] == ["bfloat16"]
    code = ("import mindspore as ms\n"
            "from mathlora.model import network\n"
            "network.set_context('cpu')\n"
            f"net = network.build_causal_lm(network.llama_config({str(paths['yaml'])!r}))\n"
            f"network.check_and_load(net, network.read_checkpoint({str(out)!r}), {str(out)!r})\n"
            "print(sorted({str(p.dtype) for p in net.get_parameters()}))\n")
    done = _python(code, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    # matrices in bf16, norms in float32 (layernorm_compute_type), as the network holds them
    assert done.stdout.strip().splitlines()[-1] == "['BFloat16', 'Float32']"
    # The same bf16 file into a float32 yaml: cast as MindFormers loads it, and said so.
    (tmp_path / "f32").mkdir()
    f32 = render_tiny(tmp_path / "f32")
    done = _python(code.replace(str(paths["yaml"]), str(f32["yaml"])), tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{out}: cast " in done.stdout and " parameters BFloat16 -> Float32" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "['Float32']"


def _python(code: str, cwd):
    import os
    import subprocess
    import sys

    env = {**os.environ, "LOG_MF_PATH": str(cwd / "mflog")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=600)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny yaml and a LoRA training checkpoint with its train report, made once for the module
    (tests read them; what they write goes to their own folders)."""
    root = tmp_path_factory.mktemp("trained")
    paths = render_tiny(root)
    lora, report = lora_training_checkpoint(root, paths["yaml"])
    return root, paths, lora, report


def test_merged_logits_match_lora_network(trained, tmp_path):
    """The real MindFormers LoRA network and the merged plain network agree on a probe batch."""
    _, paths, lora, report = trained
    out, out_json = tmp_path / "merged" / "ckpt1.ckpt", tmp_path / "merged" / "ckpt1.json"
    result = run_merge(tmp_path, paths["yaml"], lora, report, out, out_json)
    assert result.returncode == 0, result.stderr[-2000:]
    merged = json.loads(out_json.read_text())
    assert merged["scale"] == 2.0 and merged["merged_weights"] == 4
    code = ("import numpy as np, mindspore as ms\n"
            "from mathlora.model import network\n"
            "network.set_context('cpu')\n"
            f"y = {str(paths['yaml'])!r}\n"
            "lora = network.build_causal_lm(network.llama_config(y, batch_size=2, lora=True), lora=True)\n"
            f"network.check_and_load(lora, network.read_checkpoint({str(lora)!r}), 'lora')\n"
            f"plain = network.load_causal_lm(y, {str(out)!r}, batch_size=2)\n"
            "lora.set_train(False)\n"
            "ids = ms.Tensor(np.random.default_rng(0).integers(0, 300, (2, 32)).astype(np.int32))\n"
            "a = lora(ids); b = plain(ids)\n"
            "a = (a[0] if isinstance(a, tuple) else a).asnumpy(); b = (b[0] if isinstance(b, tuple) else b).asnumpy()\n"
            "print(float(np.abs(a - b).max()), float(np.abs(a).max()))\n")
    done = _python(code, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    diff, size = map(float, done.stdout.strip().splitlines()[-1].split())
    assert diff <= 1e-4 * max(1.0, size)


def test_truncated_lora_checkpoint_fails_without_output(trained, tmp_path):
    _, paths, whole, report = trained
    lora = tmp_path / whole.name
    lora.write_bytes(whole.read_bytes()[:200])
    out = tmp_path / "m.ckpt"
    result = run_merge(tmp_path, paths["yaml"], lora, report, out, tmp_path / "m.json")
    assert result.returncode == 1
    assert "lora1.ckpt" in result.stderr and "truncated checkpoint" in result.stderr
    assert not out.exists()


def _tensors(path) -> dict[str, np.ndarray]:
    return dict(checkpoint_file.iter_tensors(path))


@pytest.fixture(scope="module")
def sharded(trained):
    """The LoRA checkpoint's per-rank shards and strategy files for model parallel 2, in the
    fine-tuning folder (``root/output``) as MindFormers names them, and a train report naming them."""
    from _parallel_standin import layout_of, parameter_splits, shard, write_strategy

    from mathlora.artifacts import read_artifact, write_artifact

    devices = 2
    root, paths, full, report = trained
    tensors = _tensors(full)
    splits, names = parameter_splits(paths["yaml"], devices)
    assert splits["model.layers.0.attention.wq.weight"] == [devices, 1]  # column parallel
    assert splits["model.layers.0.attention.wo.weight"] == [1, devices]  # row parallel
    layouts = {name: layout_of(name, splits, value.ndim, devices) for name, value in tensors.items()}
    shards = []
    for rank, part in enumerate(shard(tensors, layouts, devices)):
        folder = root / "output" / "checkpoint" / f"rank_{rank}"
        folder.mkdir(parents=True)
        shards.append(save_tensors(folder / f"llama3_8b_rank_{rank}-1_4.ckpt", part))
    strategies = [write_strategy(root / "output" / "strategy" / f"ckpt_strategy_rank_{r}.ckpt",
                                 layouts, devices) for r in range(devices)]
    train = read_artifact(report, "train")
    train["checkpoints"][0]["shards"] = [str(s) for s in shards]
    train["strategy_files"] = [str(s) for s in strategies]
    train["ranks"] = devices
    payload = {k: v for k, v in train.items() if k not in ("schema_version", "provenance")}
    write_artifact(root / "train.sharded.json", "train", payload)
    return root / "train.sharded.json", shards


def test_shard_unification_reproduces_the_unsharded_merge_exactly(trained, sharded, tmp_path):
    root, paths, full, report = trained
    sharded, shards = sharded
    assert _tensors(shards[0])["model.layers.0.attention.wq.weight"].shape == (16, 32)  # half rows
    outputs = {}
    for name, train_json, lora in (("whole", report, full), ("unified", sharded, shards[0])):
        out = tmp_path / f"{name}.ckpt"
        done = run_merge(root, paths["yaml"], lora, train_json, out, tmp_path / f"{name}.json")
        assert done.returncode == 0, done.stderr[-3000:]
        outputs[name] = _tensors(out)
    assert sorted(outputs["whole"]) == sorted(outputs["unified"])
    for tag, value in outputs["whole"].items():
        assert outputs["unified"][tag].dtype == value.dtype
        assert np.array_equal(outputs["unified"][tag], value), tag
    assert json.loads((tmp_path / "unified.json").read_text())["shards"] == 2


def test_shards_without_a_matching_strategy_are_refused(trained, sharded, tmp_path):
    from _parallel_standin import write_strategy

    from mathlora.artifacts import read_artifact, write_artifact

    root, paths, _, _ = trained
    sharded, shards = sharded
    train = {k: v for k, v in read_artifact(sharded, "train").items()
             if k not in ("schema_version", "provenance")}
    cases = {
        "none": ([], "2 shards but no strategy file"),
        "other": ([str(write_strategy(root / "output" / "four" / "s.ckpt",
                                      {"model.norm_out.weight": [-1]}, 4))],
                  "a strategy for 4 devices, but 2 shards"),
        "outside": ([str(write_strategy(tmp_path / "elsewhere" / "s.ckpt",
                                        {"model.norm_out.weight": [-1]}, 2))],
                    "lies outside the fine-tuning folder"),
    }
    for name, (files, message) in cases.items():
        write_artifact(tmp_path / f"{name}.json", "train", {**train, "strategy_files": files})
        out = tmp_path / f"{name}.ckpt"
        done = run_merge(root, paths["yaml"], shards[0], tmp_path / f"{name}.json", out,
                         tmp_path / f"{name}.m.json")
        assert done.returncode == 1 and message in done.stderr, (name, done.stderr[-1500:])
        assert not out.exists()


@pytest.mark.parametrize("pet, expected", [
    ("{pet_type: lora, lora_rank: 4, lora_alpha: 8}", (4, 8.0)),
    ("{pet_type: lora, lora_rank: 4}", (4, 16.0)),  # MindFormers' LoraConfig default, not 0
    ("{pet_type: lora, lora_rank: 4, lora_alpha: 0}", "pet_config.lora_alpha is 0"),
    ("{pet_type: ptuning2, pre_seq_len: 8}", "expected a LoRA yaml"),
])
def test_lora_settings_are_what_mindformers_trains_with(tmp_path, pet, expected):
    yaml_path = tmp_path / "lora.yaml"
    yaml_path.write_text(f"model:\n  model_config:\n    pet_config: {pet}\n")
    if isinstance(expected, str):
        with pytest.raises(InputError, match=expected):
            merge.lora_settings(yaml_path)
    else:
        assert merge.lora_settings(yaml_path) == expected
