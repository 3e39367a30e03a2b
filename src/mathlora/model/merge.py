"""Merge LoRA checkpoint k into full weights: W += (B @ A) * alpha / rank, checked layer by layer.

Distributed runs leave one shard per rank: they are unified first, with MindSpore's
``transform_checkpoints`` and the strategy files the run saved. The merge then streams the
checkpoint one tensor at a time (:mod:`mathlora.model.checkpoint_file`): the LoRA matrices (small)
are read first, each target weight is merged in float32 on the host and stored back in its own
dtype (bf16 stays bf16), every other weight is copied byte for byte, and training state
(optimizer moments, step counters, loss scale) is dropped. Peak memory is a few tensors, however
large the checkpoint.

The scale is alpha / rank, as MindPet's ``LoRADense`` applies it (MindFormers'
``transform_ckpt_lora.py`` defaults to 1, which silently changes the model). Every merged layer is
checked before the file is kept, on the host in float32:

1. the stored weight against ``W + scale * B @ A``, within the rounding of its dtype;
2. a plain ``nn.Dense`` holding the stored weight against MindPet's ``LoRADense`` holding W, A and
   B, on a seeded probe activation, within the bound that rounding the weight allows
   (:func:`check_layer` gives the bounds; the dtype's unit roundoff is 2^-24 for float32, 2^-11
   for float16, 2^-8 for bfloat16).

A failure names the layer and the difference, and nothing is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mathlora.artifacts import atomic_output
from mathlora.errors import InputError, MathloraError
from mathlora.model import checkpoint_file

LORA_A, LORA_B = ".mindpet_delta_lora_a", ".mindpet_delta_lora_b"
# Training state a full-weight checkpoint does not carry (global_batch_size: MindFormers 1.9's
# CheckpointMonitor appends it with the step it resumes from).
TRAINING_STATE = re.compile(r"^(adam_[mv]\.|accu_grads\.|global_step$|epoch_num$|step_num$|"
                            r"loss_scale$|scale_sense$|current_iterator_step$|last_overflow_iterator_step$|"
                            r"global_batch_size$)")
PROBE_ROWS = 4


class MergeCheckError(MathloraError):
    """A merged layer that does not reproduce its LoRA layer."""


@dataclass(frozen=True)
class Pair:
    """One LoRA-adapted weight: the tags of W, A (rank x in) and B (out x rank)."""

    weight: str
    a: str
    b: str


@dataclass
class MergeResult:
    targets: list[str]
    parameters: int
    dtypes: list[str]
    rank: int
    # worst ratio of a difference to its bound, over the merged layers (<= 1 passes)
    weight_check: float = 0.0
    dense_check: float = 0.0
    worst_layer: str | None = None
    copied: int = 0
    dropped: list[str] = field(default_factory=list)


def is_training_state(tag: str) -> bool:
    return bool(TRAINING_STATE.match(tag))


def lora_pairs(tags, source: str | Path) -> list[Pair]:
    """The LoRA pairs among ``tags`` (training state left out), in file order."""
    tags = list(tags)
    present = set(tags)
    pairs = []
    for tag in tags:
        if is_training_state(tag) or not tag.endswith(LORA_A):
            continue
        stem = tag[: -len(LORA_A)]
        if stem + LORA_B not in present:
            raise InputError(source, f"LoRA A without B: expected {stem + LORA_B}", field=tag)
        pairs.append(Pair(f"{stem}.weight", tag, stem + LORA_B))
    orphans = [t for t in tags if t.endswith(LORA_B) and not is_training_state(t)
               and t[: -len(LORA_B)] + LORA_A not in present]
    if orphans:
        raise InputError(source, f"LoRA B without A: expected {orphans[0][:-len(LORA_B)] + LORA_A}",
                         field=orphans[0])
    return pairs


def unit_roundoff(dtype: np.dtype) -> float:
    """Half the gap between 1 and the next number of ``dtype`` (its relative rounding error)."""
    from mindspore.common import np_dtype

    if dtype == np_dtype.bfloat16:
        return 2.0 ** -8
    return float(np.finfo(dtype).eps) / 2


def merge_weight(w: np.ndarray, a: np.ndarray, b: np.ndarray, scale: float) -> np.ndarray:
    """``W + scale * B @ A`` computed in float32 and stored in W's dtype."""
    merged = w.astype(np.float32) + np.float32(scale) * (b.astype(np.float32) @ a.astype(np.float32))
    return merged.astype(w.dtype)


F32 = 2.0 ** -24  # float32 unit roundoff


def check_layer(tag: str, w: np.ndarray, a: np.ndarray, b: np.ndarray, merged: np.ndarray,
                scale: float, seed: int) -> tuple[float, float]:
    """(weight check, Dense check) as ratios of the worst difference to its bound; raises above 1.

    Bounds: the stored weight may differ from the exact ``W + s * B @ A`` by its dtype's rounding
    (``u * |exact|``) plus float32 arithmetic (``(r + 2) * 2^-24 * (|W| + |s| |B| @ |A|)``); a
    Dense output by that bound applied to the probe (``|x| @ bound^T``) plus the float32 error of
    the two products (``(n + r + 2) * 2^-24 * |x| @ (|W| + |W_merged| + |s| |B| @ |A|)^T``).
    """
    import mindspore as ms
    from mindpet.delta.lora import LoRADense
    from mindspore import nn

    m32 = merged.astype(np.float32)
    if not np.isfinite(m32).all():
        raise MergeCheckError(f"{tag}: the merged weight is not finite (NaN or inf)")
    w64, a64, b64 = (t.astype(np.float64) for t in (w, a, b))
    rank, (out_dim, in_dim) = a.shape[0], w.shape
    lora_size = abs(scale) * (np.abs(b64) @ np.abs(a64))
    exact = w64 + scale * (b64 @ a64)
    weight_bound = (unit_roundoff(merged.dtype) * np.abs(exact)
                    + (rank + 2) * F32 * (np.abs(w64) + lora_size) + 1e-30)
    weight_error = np.abs(m32 - exact) / weight_bound
    weight_ratio = float(weight_error.max())
    if weight_ratio > 1:
        worst = np.unravel_index(np.argmax(weight_error), m32.shape)
        raise MergeCheckError(f"{tag}: merged weight differs from W + {scale:g} * B @ A by "
                              f"{abs(m32[worst] - exact[worst]):.3g} at {tuple(int(i) for i in worst)}, "
                              f"{weight_ratio:.3g} x what {merged.dtype} rounding allows")
    x = np.random.default_rng(seed).standard_normal((PROBE_ROWS, in_dim)).astype(np.float32)
    lora = LoRADense(in_dim, out_dim, lora_rank=rank, lora_alpha=scale * rank, lora_dropout=0.0,
                     param_init_type=ms.float32, compute_dtype=ms.float32, has_bias=False)
    lora.weight.set_data(ms.Tensor(w.astype(np.float32)))
    lora.mindpet_delta_lora_a.set_data(ms.Tensor(a.astype(np.float32)))
    lora.mindpet_delta_lora_b.set_data(ms.Tensor(b.astype(np.float32)))
    plain = nn.Dense(in_dim, out_dim, has_bias=False, dtype=ms.float32)
    plain.weight.set_data(ms.Tensor(m32))
    y_lora = lora(ms.Tensor(x)).asnumpy().astype(np.float64)
    y_plain = plain(ms.Tensor(x)).asnumpy().astype(np.float64)
    x_abs = np.abs(x.astype(np.float64))
    dense_bound = (x_abs @ weight_bound.T + (in_dim + rank + 2) * F32
                   * (x_abs @ (np.abs(w64) + np.abs(m32) + lora_size).T) + 1e-30)
    dense_ratio = float((np.abs(y_plain - y_lora) / dense_bound).max())
    if dense_ratio > 1:
        raise MergeCheckError(f"{tag}: the merged Dense differs from its LoRA Dense on a probe "
                              f"activation by {np.abs(y_plain - y_lora).max():.3g}, "
                              f"{dense_ratio:.3g} x what {merged.dtype} rounding allows")
    return weight_ratio, dense_ratio


def merge_file(source: str | Path, out: str | Path, *, scale: float, rank: int | None = None,
               weights: str | Path | None = None, seed: int = 0) -> MergeResult:
    """Merge the LoRA pairs of ``source`` into full weights written to ``out`` (atomically).

    ``weights`` is a separate checkpoint holding the base weights (a LoRA-only ``source``); by
    default they are in ``source``. ``rank`` is the LoRA rank the yaml expects (checked).
    """
    source = Path(source)
    lora_index = checkpoint_file.index(source)
    base_path = Path(weights) if weights is not None else source
    base_index = lora_index if weights is None else checkpoint_file.index(base_path)
    pairs = lora_pairs(lora_index, source)
    if not pairs:
        raise InputError(source, "no LoRA weights (*.mindpet_delta_lora_a) in the checkpoint")
    by_weight = {p.weight: p for p in pairs}
    missing = [p.weight for p in pairs if p.weight not in base_index]
    if missing:
        raise InputError(base_path, f"no base weight {missing[0]} for its LoRA pair "
                                    f"({len(missing)} missing)", field=missing[0])
    result = MergeResult(targets=[], parameters=0, dtypes=[], rank=0)
    with source.open("rb") as lora_file, base_path.open("rb") as base_file:
        lora = {}
        for pair in pairs:
            a = checkpoint_file.read(lora_file, lora_index[pair.a], source)
            b = checkpoint_file.read(lora_file, lora_index[pair.b], source)
            if a.ndim != 2 or b.ndim != 2 or b.shape[1] != a.shape[0]:
                raise InputError(source, f"LoRA shapes B{b.shape} @ A{a.shape} do not multiply; "
                                 "expected B (out, r) and A (r, in)", field=pair.b)
            if rank is not None and a.shape[0] != rank:
                raise InputError(source, f"LoRA rank {a.shape[0]} but the yaml's pet_config says "
                                 f"lora_rank {rank}", field=pair.a)
            lora[pair.weight] = (a, b)
        result.rank = next(iter(lora.values()))[0].shape[0]
        with atomic_output(out, suffix=".ckpt") as tmp, open(tmp, "wb") as handle:
            writer = checkpoint_file.Writer(handle)
            for tag, values in base_index.items():
                if is_training_state(tag) or tag.endswith((LORA_A, LORA_B)):
                    result.dropped.append(tag)
                    continue
                shape, _ = checkpoint_file.read_header(base_file, values[0], base_path)
                result.parameters += int(np.prod(shape))
                if tag not in by_weight:
                    writer.copy(base_file, values)
                    result.copied += 1
                    continue
                w = checkpoint_file.read(base_file, values, base_path)
                a, b = lora[tag]
                if (b.shape[0], a.shape[1]) != w.shape:
                    raise InputError(source, f"LoRA shapes B{b.shape} @ A{a.shape} do not fit {tag} "
                                     f"{w.shape}; expected B (out, r) and A (r, in)",
                                     field=by_weight[tag].b)
                merged = merge_weight(w, a, b, scale)
                ratios = check_layer(tag, w, a, b, merged, scale, seed + len(result.targets))
                if max(ratios) >= max(result.weight_check, result.dense_check):
                    result.worst_layer = tag
                result.weight_check = max(result.weight_check, ratios[0])
                result.dense_check = max(result.dense_check, ratios[1])
                writer.tensor(tag, merged)
                result.targets.append(tag)
                result.dtypes.append(str(merged.dtype))
    return result


def unify_shards(shards: list[str], strategy_files: list[str], workdir: Path) -> Path:
    """One checkpoint from per-rank shards: MindSpore's transform with the saved strategy."""
    if len(shards) == 1:
        return Path(shards[0])
    if not strategy_files:
        raise InputError(shards[0], f"{len(shards)} shards but no strategy file to unify them with")
    import mindspore as ms

    strategy = strategy_files[0]
    if len(strategy_files) > 1:
        strategy = str(workdir / "merged_strategy.ckpt")
        ms.merge_pipeline_strategys(str(Path(strategy_files[0]).parent), strategy)
    devices = strategy_devices(strategy)
    if devices != len(shards):
        raise InputError(strategy, f"a strategy for {devices} devices, but {len(shards)} shards; "
                                   "expected the strategy files of the run that wrote the shards")
    src = workdir / "src"
    for rank, shard in enumerate(shards):
        # One file per rank folder: transform_checkpoints takes the lexicographically last one.
        (src / f"rank_{rank}").mkdir(parents=True, exist_ok=True)
        (src / f"rank_{rank}" / "shard.ckpt").symlink_to(Path(shard).resolve())
    try:
        ms.transform_checkpoints(str(src), str(workdir / "dst"), "unified", strategy, None)
    except (ValueError, RuntimeError, KeyError, IndexError) as exc:
        raise InputError(strategy, f"MindSpore could not unify {len(shards)} shards with this "
                                   f"strategy: {str(exc).splitlines()[0]}") from None
    out = sorted((workdir / "dst").rglob("*.ckpt"))
    if not out:
        raise MathloraError(f"unifying {shards[0]} ...: MindSpore wrote no checkpoint")
    return out[0]


def require_inside(workdir: str | Path, paths: list[str], report: str | Path) -> None:
    """Refuse a report that names files outside the fine-tuning folder the graph declared."""
    root = Path(workdir).resolve()
    for path in paths:
        if not Path(path).resolve().is_relative_to(root):
            raise InputError(report, f"{path} lies outside the fine-tuning folder {workdir}; "
                                     "expected the shards and strategy files of that run",
                             field="checkpoints")


def strategy_devices(strategy: str | Path) -> int:
    """The number of devices a strategy file lays its parameters out over."""
    import mindspore as ms

    try:
        layouts = ms.build_searched_strategy(str(strategy))
    except Exception as exc:  # protobuf or json errors
        raise InputError(strategy, f"not a MindSpore strategy file ({exc})") from None
    sizes = {int(np.prod(list(layout.dev_matrix[0].dim))) for layout in layouts.values()}
    if len(sizes) != 1:
        raise InputError(strategy, f"parameters laid out over different device counts {sorted(sizes)}")
    return sizes.pop()


def lora_settings(yaml_path: str | Path) -> tuple[int, float]:
    """(rank, alpha) of a yaml's pet_config, as MindFormers trains with them: a key left out takes
    ``LoraConfig``'s default (rank 8, alpha 16), never 0."""
    from mathlora.model import network

    cfg = network.read_yaml(yaml_path)  # checks the stack and quiets MindFormers' logs first
    from mindformers.pet.pet_config import LoraConfig

    pet = dict(cfg.model.model_config.get("pet_config") or {})
    if pet.get("pet_type") != "lora":
        raise InputError(yaml_path, f"pet_config.pet_type is {pet.get('pet_type')!r}; expected a "
                                    "LoRA yaml (pet_type: lora)", field="pet_config.pet_type")
    pet.pop("pet_type")
    effective = LoraConfig(**pet)
    for key in ("lora_rank", "lora_alpha"):
        value = getattr(effective, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise InputError(yaml_path, f"pet_config.{key} is {value!r}; expected a positive number",
                             field=f"pet_config.{key}")
    if effective.lora_rank != int(effective.lora_rank):
        raise InputError(yaml_path, f"pet_config.lora_rank is {effective.lora_rank!r}; expected an "
                                    "integer", field="pet_config.lora_rank")
    return int(effective.lora_rank), float(effective.lora_alpha)


def merge_payload(result: MergeResult, **fields: Any) -> dict[str, Any]:
    """The merge report body (``k``, ``step``, ``source``, ... given by the caller)."""
    return {
        "k": fields["k"], "step": fields["step"], "source": str(fields["source"]),
        "shards": fields["shards"], "output": str(fields["output"]), "lora_rank": result.rank,
        "lora_alpha": fields["alpha"], "scale": fields["scale"],
        "merged_weights": len(result.targets), "parameters": result.parameters,
        "dtypes": sorted(set(result.dtypes)),
        "checks": {"probe_rows": PROBE_ROWS, "seed": fields["seed"],
                   "weight": result.weight_check, "dense": result.dense_check,
                   "worst_layer": result.worst_layer},
        "seconds": round(fields["seconds"], 3),
    }
