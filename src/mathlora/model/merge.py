"""Merge LoRA checkpoint k into full weights: W += (B @ A) * alpha / rank, verified on logits.

Distributed runs leave one shard per rank; they are unified first with the strategy files the run
saved. The merge scales by alpha / rank, as the LoRA layers do (MindFormers' transform_ckpt_lora.py
defaults to 1, which silently changes the model). The merged plain LlamaForCausalLM must reproduce
the LoRA network's logits on a probe batch within --tolerance; otherwise nothing is written.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from mathlora.artifacts import read_artifact, write_artifact
from mathlora.errors import InputError, MathloraError
from mathlora.model import network

LORA_A, LORA_B = ".mindpet_delta_lora_a", ".mindpet_delta_lora_b"
# Training state a full-weight checkpoint does not carry.
TRAINING_STATE = re.compile(r"^(adam_[mv]\.|accu_grads\.|global_step$|epoch_num$|step_num$|"
                            r"loss_scale$|scale_sense$|current_iterator_step$|last_overflow_iterator_step$)")


def unify_shards(shards: list[str], strategy_files: list[str], workdir: Path) -> Path:
    """One checkpoint from per-rank shards: MindSpore's transform with the saved strategy."""
    if len(shards) == 1:
        return Path(shards[0])
    if not strategy_files:
        raise InputError(shards[0], f"{len(shards)} shards but no strategy file to unify them with")
    import mindspore as ms

    src = workdir / "src"
    for rank, shard in enumerate(shards):
        (src / f"rank_{rank}").mkdir(parents=True, exist_ok=True)
        (src / f"rank_{rank}" / "shard.ckpt").symlink_to(Path(shard).resolve())
    strategy = strategy_files[0]
    if len(strategy_files) > 1:
        strategy = str(workdir / "merged_strategy.ckpt")
        ms.merge_pipeline_strategys(str(Path(strategy_files[0]).parent), strategy)
    ms.transform_checkpoints(str(src), str(workdir / "dst"), "unified", strategy, None)
    out = sorted((workdir / "dst").rglob("*.ckpt"))
    if not out:
        raise MathloraError(f"unifying {shards[0]} ...: MindSpore wrote no checkpoint")
    return out[0]


def merge_lora(params: dict[str, np.ndarray], *, scale: float, source: str | Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """Full weights with every LoRA pair folded in; returns the weights and the merged names."""
    merged: dict[str, np.ndarray] = {}
    targets: list[str] = []
    for name, value in params.items():
        if TRAINING_STATE.match(name) or name.endswith((LORA_A, LORA_B)):
            continue
        merged[name] = value
    for name in sorted(n for n in params if n.endswith(LORA_A) and not TRAINING_STATE.match(n)):
        stem = name[: -len(LORA_A)]
        weight, b_name = f"{stem}.weight", stem + LORA_B
        if b_name not in params:
            raise InputError(source, f"LoRA A without B: expected {b_name}", field=b_name)
        if weight not in merged:
            raise InputError(source, f"no base weight {weight} for LoRA pair {stem}", field=weight)
        a, b, w = params[name], params[b_name], merged[weight]
        if b.shape[1] != a.shape[0] or (b.shape[0], a.shape[1]) != w.shape:
            raise InputError(source, f"LoRA shapes B{b.shape} @ A{a.shape} do not fit {weight} "
                             f"{w.shape}; expected B (out, r) and A (r, in)", field=b_name)
        delta = (b.astype(np.float64) @ a.astype(np.float64)) * scale
        merged[weight] = (w.astype(np.float64) + delta).astype(w.dtype)
        targets.append(weight)
    if not targets:
        raise InputError(source, "no LoRA weights (*.mindpet_delta_lora_a) in the checkpoint")
    return merged, targets


def _to_numpy(params: dict[str, Any]) -> dict[str, np.ndarray]:
    import mindspore as ms

    out = {}
    for name, value in params.items():
        if value.dtype == ms.bfloat16:
            value = value.astype(ms.float32)
        out[name] = value.asnumpy()
    return out


def probe_logits_diff(yaml_path: str, lora_params: dict[str, Any], merged_path: Path,
                      lora_path: str, *, batch: int, length: int, seed: int) -> float:
    """Max |logits(LoRA network) - logits(merged plain network)| on a seeded random batch."""
    import mindspore as ms

    cfg = network.read_yaml(yaml_path)
    network.set_context(str(cfg.context.device_target).lower())
    vocab = int(cfg.model.model_config.vocab_size)
    ids = np.random.default_rng(seed).integers(0, vocab - 256, size=(batch, length), dtype=np.int64)
    lora_net = network.build_causal_lm(network.llama_config(yaml_path, batch_size=batch,
                                                            seq_length=length, lora=True), lora=True)
    network.check_and_load(lora_net, lora_params, lora_path)
    lora_net.set_train(False)
    plain = network.load_causal_lm(yaml_path, merged_path, batch_size=batch, seq_length=length)
    tensor = ms.Tensor(ids.astype(np.int32))
    a = _logits(lora_net, tensor)
    b = _logits(plain, tensor)
    return float(np.abs(a - b).max())


def _logits(net, ids) -> np.ndarray:
    out = net(ids)
    out = out[0] if isinstance(out, tuple) else out
    return out.asnumpy().astype(np.float64)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yaml", required=True, help="the fine-tuning yaml (pet_config: rank, alpha)")
    parser.add_argument("--lora", required=True, help="LoRA training checkpoint k (rank 0 / single)")
    parser.add_argument("--train-json", required=True,
                        help="fine-tuning report: shards and strategy files of checkpoint k")
    parser.add_argument("--k", type=int, required=True, help="which checkpoint (1-based)")
    parser.add_argument("--out", required=True, help="merged full-weight checkpoint")
    parser.add_argument("--json", required=True, help="merge report")
    parser.add_argument("--tolerance", type=float, default=1e-3,
                        help="largest allowed |logit difference| between LoRA and merged networks")
    parser.add_argument("--probe-batch", type=int, default=2, help="probe batch size")
    parser.add_argument("--probe-length", type=int, default=32, help="probe sequence length")
    parser.add_argument("--seed", type=int, default=0, help="seed of the probe token ids")


def main(args: argparse.Namespace) -> int:
    started = time.monotonic()
    report = read_artifact(args.train_json, "train")
    entry = next((c for c in report["checkpoints"] if c["k"] == args.k), None)
    if entry is None:
        raise InputError(args.train_json, f"no checkpoint k={args.k}; expected k in "
                         f"1..{len(report['checkpoints'])}", field="checkpoints")
    cfg = network.read_yaml(args.yaml)
    pet = cfg.model.model_config.get("pet_config") or {}
    rank, alpha = int(pet.get("lora_rank", 0)), float(pet.get("lora_alpha", 0))
    if rank < 1:
        raise InputError(args.yaml, "pet_config.lora_rank missing; expected a LoRA yaml",
                         field="pet_config.lora_rank")
    scale = alpha / rank
    network.set_context(str(cfg.context.device_target).lower())
    with tempfile.TemporaryDirectory(prefix="mathlora-merge-") as scratch:
        shards = entry["shards"] if len(entry["shards"]) > 1 else [args.lora]
        source = unify_shards(shards, report["strategy_files"], Path(scratch))
        raw = network.read_checkpoint(source)
        weights, targets = merge_lora(_to_numpy(raw), scale=scale, source=source)
        probe: dict[str, float] = {}

        def check(staged: Path) -> None:
            """The merged file must reproduce the LoRA network's logits before it is kept."""
            diff = probe_logits_diff(args.yaml, raw, staged, str(source), batch=args.probe_batch,
                                     length=args.probe_length, seed=args.seed)
            if not diff <= args.tolerance:
                raise MathloraError(f"{args.out}: merged network disagrees with the LoRA network of "
                                    f"{args.lora}: max |logit difference| {diff:.3g}, expected at "
                                    f"most {args.tolerance:g}; nothing written")
            probe["diff"] = diff

        network.write_checkpoint(weights, args.out, check=check)
        diff = probe["diff"]
    write_artifact(args.json, "merge", {
        "k": args.k, "step": entry["step"], "source": args.lora, "shards": len(entry["shards"]),
        "output": args.out, "lora_rank": rank, "lora_alpha": alpha, "scale": scale,
        "merged_weights": len(targets), "parameters": int(sum(v.size for v in weights.values())),
        "probe": {"batch": args.probe_batch, "length": args.probe_length, "seed": args.seed},
        "max_abs_logit_diff": diff, "tolerance": args.tolerance,
        "seconds": round(time.monotonic() - started, 3),
    })
    print(f"merged checkpoint {args.k} (step {entry['step']}, scale {scale:g}, {len(targets)} weights) "
          f"-> {args.out}; max |logit diff| {diff:.3g}")
    return 0
