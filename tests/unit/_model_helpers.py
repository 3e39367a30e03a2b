"""Tiny fixtures shared by the model-stage tests: a tokenizer file, a MindRecord, a yaml, weights."""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

RANKS = 300  # -> vocab 556, bos/eos/pad 300/301/302
VOCAB = RANKS + 256

TINY_SETTINGS = {
    "seed": 7, "device": "cpu",
    "model": {"seq_length": 32, "hidden_size": 32, "num_layers": 2, "num_heads": 4, "n_kv_heads": 2,
              "intermediate_size": 64, "rms_norm_eps": 1.0e-5, "theta": 500000,
              "compute_dtype": "float32", "param_init_type": "float32", "use_flash_attention": False},
    "finetune": {"epochs": 2, "global_batch_size": 4, "learning_rate": 1.0e-2, "lr_end": 0.0,
                 "warmup_ratio": 0.0, "checkpoints": 5,
                 "lora": {"rank": 4, "alpha": 8, "dropout": 0.0, "target_modules": ".*wq|.*wv",
                          "param_init_type": "float32", "compute_dtype": "float32"},
                 "parallel": {"data_parallel": 1, "model_parallel": 1},
                 "launcher": {"type": "single"}},
    "evaluate": {"batch_size": 2, "max_length": 48, "max_new_tokens": 8, "min_new_tokens": 1},
}


def settings(**changes) -> dict:
    out = copy.deepcopy(TINY_SETTINGS)
    for dotted, value in changes.items():
        node = out
        *path, last = dotted.split("__")
        for key in path:
            node = node[key]
        node[last] = value
    return out


def write_tokenizer(path: Path, ranks: int = RANKS) -> Path:
    """A valid ranks file: the 256 single bytes (byte-level BPE needs them), then ``tok<i>``."""
    if ranks < 256:
        raise ValueError(f"{ranks} ranks: a Llama3 ranks file holds at least the 256 single bytes")
    tokens = [bytes([b]) for b in range(256)] + [f"tok{i}".encode() for i in range(256, ranks)]
    lines = [f"{base64.b64encode(token).decode()} {i}" for i, token in enumerate(tokens)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_mindrecord(path: Path, rows: int, width: int = 33, seed: int = 0) -> Path:
    """Rows with a learnable pattern (arithmetic id sequences), prompt and padding labels -100."""
    from mindspore.mindrecord import FileWriter

    rng = np.random.default_rng(seed)
    writer = FileWriter(str(path), shard_num=1, overwrite=True)
    writer.add_schema({"input_ids": {"type": "int32", "shape": [-1]},
                       "labels": {"type": "int32", "shape": [-1]}}, "qa")
    records = []
    for r in range(rows):
        n = int(rng.integers(12, width))
        ids = np.full(width, RANKS + 2, np.int32)
        ids[0] = RANKS
        stride = int(rng.integers(1, 5))
        ids[1:n] = (np.arange(n - 1) * stride + r) % RANKS
        labels = ids.copy()
        labels[:4] = -100
        labels[n:] = -100
        records.append({"input_ids": ids, "labels": labels})
    writer.write_raw_data(records)
    writer.commit()
    return path


def mathlora(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the CLI in a fresh process (MindSpore contexts are per process)."""
    env = dict(os.environ)
    env.setdefault("LOG_MF_PATH", str((cwd or Path.cwd()) / "mflog"))
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return subprocess.run([sys.executable, "-m", "mathlora.cli", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=900)


def render_tiny(tmp: Path, rows: int = 40, **changes) -> dict[str, Path]:
    """Tokenizer + MindRecord + rendered finetune yaml in ``tmp``."""
    tok = write_tokenizer(tmp / "tok.model")
    data = write_mindrecord(tmp / "train.mindrecord", rows)
    yaml_path = tmp / "finetune.yaml"
    result = mathlora("render-yaml", "--settings", json.dumps(settings(**changes)), "--tokenizer",
                      str(tok), "--dataset", str(data), "--output-dir", str(tmp / "work"),
                      "--out", str(yaml_path), cwd=tmp)
    assert result.returncode == 0, result.stderr
    return {"tokenizer": tok, "dataset": data, "yaml": yaml_path}


def render_both_yamls(tmp: Path, settings_: dict) -> dict[str, Path]:
    """Tokenizer and the rendered finetune (40 rows) and predict yamls of ``settings_`` in ``tmp``."""
    tok = write_tokenizer(tmp / "tok.model")
    out = {"tokenizer": tok, "tmp": tmp}
    for mode in ("finetune", "predict"):
        argv = ["render-yaml", "--settings", json.dumps(settings_), "--mode", mode,
                "--tokenizer", str(tok), "--out", str(tmp / f"{mode}.yaml")]
        argv += ["--rows", "40", "--output-dir", str(tmp / "work")] if mode == "finetune" else []
        done = mathlora(*argv, cwd=tmp)
        assert done.returncode == 0, done.stderr
        out[mode] = tmp / f"{mode}.yaml"
    return out


def save_random_base(yaml_path: Path, out: Path, seed: int = 0) -> Path:
    """Plain-network weights with a seeded random initialisation (in a subprocess)."""
    code = (
        "import sys, mindspore as ms\n"
        "from mathlora.model import network\n"
        f"ms.set_seed({seed})\n"
        f"net = network.build_causal_lm(network.llama_config({str(yaml_path)!r}))\n"
        f"ms.save_checkpoint(net, {str(out)!r})\n"
    )
    env = dict(os.environ)
    env.setdefault("LOG_MF_PATH", str(out.parent / "mflog"))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=out.parent,
                   capture_output=True, timeout=300)
    return out


def sharpen(path, factor: float = 25.0):
    """Scale the matrices of a random initialisation up: its greedy continuations then depend on
    the prompt (at the initial 0.02 scale every prompt gets the same tokens)."""
    code = ("import mindspore as ms, numpy as np\n"
            f"params = ms.load_checkpoint({str(path)!r})\n"
            "out = [{'name': n, 'data': ms.Tensor(p.asnumpy() * (" + str(factor) + " if p.ndim == 2 else 1))}"
            " for n, p in params.items()]\n"
            f"ms.save_checkpoint(out, {str(path)!r})\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return path


def plain_greedy(net, prompts, *, seq_length: int, pad_id: int, steps: int, eos_id: int | None,
                 min_new_tokens: int = 0) -> list[list[int]]:
    """The reference decoder: one prompt at a time, a full forward per token over a buffer padded to
    ``seq_length``, argmax of the last real position (what any faster decoder must reproduce)."""
    import mindspore as ms

    out = []
    for prompt in prompts:
        seq, new = list(prompt), []
        for step in range(steps):
            if len(seq) >= seq_length:
                break
            buffer = np.full((1, seq_length), pad_id, np.int32)
            buffer[0, :len(seq)] = seq
            logits = net(ms.Tensor(buffer))
            logits = (logits[0] if isinstance(logits, tuple) else logits).asnumpy()
            last = logits.reshape(seq_length, -1)[len(seq) - 1].copy()
            if eos_id is not None and step < min_new_tokens:
                last[eos_id] = -np.inf
            token = int(last.argmax())
            if token == eos_id:
                break
            new.append(token)
            seq.append(token)
        out.append(new)
    return out


def save_tensors(path, tensors: dict[str, np.ndarray]) -> Path:
    """A MindSpore checkpoint of numpy arrays (numpy bfloat16 arrays stored as bfloat16)."""
    import mindspore as ms

    out = []
    for name, value in tensors.items():
        tensor = ms.Tensor(value.astype(np.float32) if value.dtype.name == "bfloat16" else value)
        out.append({"name": name, "data": tensor.astype(ms.bfloat16) if value.dtype.name == "bfloat16"
                    else tensor})
    ms.save_checkpoint(out, str(path))
    return path


def lora_training_checkpoint(tmp_path: Path, yaml_path: Path) -> tuple[Path, Path]:
    """A LoRA training checkpoint with random (non-zero) A and B, and its train report."""
    import mindspore as ms

    base = save_random_base(yaml_path, tmp_path / "base.ckpt")
    params = {k: v.asnumpy() for k, v in ms.load_checkpoint(str(base)).items()}  # dtypes kept
    rng = np.random.default_rng(1)
    for name in [n for n in params if n.endswith((".wq.weight", ".wv.weight"))]:
        out_dim, in_dim = params[name].shape
        stem = name[: -len(".weight")]
        for suffix, shape in ((".mindpet_delta_lora_a", (4, in_dim)), (".mindpet_delta_lora_b", (out_dim, 4))):
            params[stem + suffix] = rng.normal(0, 0.2, shape).astype(params[name].dtype)
    params["global_step"] = np.array([4], np.int32)
    lora = save_tensors(tmp_path / "lora1.ckpt", params)
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
