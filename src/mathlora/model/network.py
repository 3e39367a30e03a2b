"""The MindSpore context, and building and loading MindFormers Llama3 networks.

GRAPH_MODE goes through ``mindformers.build_context`` (otherwise a CPU run falls back to PyNative,
about 4x slower); the installed stack is checked and the compatibility patches of
:mod:`mathlora.model.compat` applied first, explicitly, once per process.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mathlora.errors import ConfigError, InputError
from mathlora.model import compat, stack

LORA_MARK = "mindpet_delta_lora"
OPTIMIZER_STATE = ("adam_m", "adam_v", "accu_grads")
TARGETS = {"cpu": "CPU", "ascend": "Ascend"}
_context_device: str | None = None  # MindSpore's context is per process: built once


def set_context(device: str = "cpu", config: Any = None) -> None:
    """GRAPH_MODE context for ``device`` (cpu | ascend), once per process.

    ``config`` is a MindFormerConfig (a rendered yaml) whose context/parallel sections are used,
    so a distributed run gets its parallel settings; without it a minimal context is built.
    """
    if device.lower() not in TARGETS:
        raise ConfigError(f"device_target {device!r}: expected one of {sorted(TARGETS)} "
                          "(case-insensitive)")
    global _context_device
    compat.prepare_mindformers_import()
    if _context_device is not None:
        return
    stack.check()
    from mindformers import build_context

    compat.register_entry_names()
    target = TARGETS[device.lower()]
    if config is None:
        config = {"context": {"mode": 0, "device_target": target, "max_call_depth": 10000},
                  "parallel": {}, "use_parallel": False}
    else:
        config.context.mode = 0
        config.context.device_target = target
    build_context(config)
    if target == "CPU":
        compat.cpu_overflow_check()
    _context_device = device.lower()


def read_yaml(path: str | Path):
    """A rendered MindFormers yaml as a MindFormerConfig."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "MindFormers yaml not found")
    stack.check()
    compat.prepare_mindformers_import()
    from mindformers import MindFormerConfig

    return MindFormerConfig(str(path))


def llama_options(model_config: dict[str, Any], device: str = "cpu") -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A yaml's model_config as LlamaConfig keyword arguments, and its pet_config apart.

    The yaml's ``type`` is MindFormers' registry name, not an option; no weights are loaded from a
    ``checkpoint_name_or_path`` behind the caller's back; and the KV cache of ``use_past`` is kept
    only on Ascend, where its paged-attention kernels exist (the CPU decoder keeps its own,
    :mod:`mathlora.model.kvcache`).
    """
    options = {key: value for key, value in dict(model_config).items()
               if key not in ("type", "pet_config")}
    options.update(checkpoint_name_or_path="",
                   use_past=bool(options.get("use_past")) and device == "ascend")
    return options, dict(model_config).get("pet_config")


def llama_config(model_yaml: str | Path, *, batch_size: int | None = None,
                 seq_length: int | None = None, lora: bool = False,
                 pet_overrides: dict[str, Any] | None = None):
    """A LlamaConfig from the yaml's model_config; ``pet_config`` kept only when ``lora``."""
    from mindformers import LlamaConfig

    cfg = read_yaml(model_yaml)
    model_config, pet = llama_options(cfg.model.model_config, str(cfg.context.device_target).lower())
    if batch_size is not None:
        model_config["batch_size"] = batch_size
    if seq_length is not None:
        model_config["seq_length"] = seq_length
    config = LlamaConfig(**model_config)
    if lora:
        pet = dict(pet or {})
        pet.update(pet_overrides or {})
        config.pet_config = pet
    return config


def build_causal_lm(config, *, lora: bool = False):
    """A LlamaForCausalLM (wrapped with LoRA when ``lora``) from a LlamaConfig."""
    from mindformers import LlamaForCausalLM

    network = LlamaForCausalLM(config)
    if lora:
        from mindformers.pet import get_pet_model

        network = get_pet_model(network, config.pet_config)
    return network


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Parameters of a checkpoint; missing or unreadable files are an InputError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "checkpoint not found")
    if path.stat().st_size == 0:
        raise InputError(path, "checkpoint is empty (truncated)")
    import mindspore as ms

    try:
        return ms.load_checkpoint(str(path))
    except Exception as exc:  # mindspore raises ValueError/RuntimeError for damaged files
        raise InputError(path, f"cannot read checkpoint (truncated or not a MindSpore checkpoint): "
                         f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


FLOAT_DTYPES = ("Float16", "BFloat16", "Float32", "Float64")


def check_and_load(network, params: dict[str, Any], path: str | Path, *,
                   allow_missing: tuple[str, ...] = ()) -> dict[str, int]:
    """Load ``params`` into ``network`` after checking that every weight is present with its shape.

    A float weight stored in another float dtype than the network's (an fp16 or fp32 merged file
    for a bf16 yaml: the organisers' evaluation yamls are fp16) is cast by MindSpore's loader, as
    MindFormers loads it; the casts are returned ("Float16 -> BFloat16": count) and printed.
    """
    import mindspore as ms

    casts: dict[str, int] = {}
    wanted = {p.name: p for p in network.get_parameters()}
    for name, parameter in wanted.items():
        if name not in params:
            if any(mark in name for mark in allow_missing):
                continue
            raise InputError(path, f"checkpoint lacks parameter {name} (expected shape "
                             f"{tuple(parameter.shape)})", field=name)
        got = tuple(params[name].shape)
        if got != tuple(parameter.shape):
            raise InputError(path, f"shape {got} does not fit the model; expected "
                             f"{tuple(parameter.shape)}", field=name)
        if params[name].dtype != parameter.dtype:
            stored, held = str(params[name].dtype), str(parameter.dtype)
            if stored not in FLOAT_DTYPES or held not in FLOAT_DTYPES:
                raise InputError(path, f"stores {stored} but the network holds {held}; expected "
                                 "the dtype of the yaml's param_init_type", field=name)
            casts[f"{stored} -> {held}"] = casts.get(f"{stored} -> {held}", 0) + 1
    extra_lora = [name for name in params if LORA_MARK in name and name not in wanted
                  and name.split(".")[0] not in OPTIMIZER_STATE]
    if extra_lora:
        raise InputError(path, f"checkpoint holds unmerged LoRA weights ({extra_lora[0]}, ...); "
                         "expected full weights (run `mathlora merge` first)", field=extra_lora[0])
    selected = {name: params[name] for name in wanted if name in params}
    not_loaded, _ = ms.load_param_into_net(network, selected, strict_load=False)
    not_loaded = [name for name in not_loaded if not any(mark in name for mark in allow_missing)]
    if not_loaded:
        raise InputError(path, f"parameters not loaded: {not_loaded[:3]}", field=not_loaded[0])
    for change, count in casts.items():
        print(f"{path}: cast {count} parameters {change} (the yaml's param_init_type)", flush=True)
    return casts


def load_causal_lm(model_yaml: str | Path, checkpoint: str | Path | None, *, batch_size: int,
                   seq_length: int | None = None):
    """A plain (LoRA-free) LlamaForCausalLM from a rendered yaml with full weights, ready to predict."""
    cfg = read_yaml(model_yaml)
    device = str(cfg.context.device_target).lower()
    set_context(device)
    config = llama_config(model_yaml, batch_size=batch_size, seq_length=seq_length)
    # On CPU a dynamic network takes inputs shorter than seq_length (same logits), so greedy
    # decoding can run on short buffers; Ascend keeps the yaml's static graph.
    config.is_dynamic = device == "cpu"
    network = build_causal_lm(config)
    if checkpoint is not None:
        check_and_load(network, read_checkpoint(checkpoint), checkpoint)
    network.set_train(False)
    return network


def check_tokenizer_fits(tokenizer: str | Path, model_yaml: str | Path) -> None:
    """The tokenizer's ids must fit the model's vocabulary and agree on bos/eos/pad."""
    from mathlora.tokenizer.llama3 import check_fits, read_vocab

    model_config = read_yaml(model_yaml).model.model_config
    model = {key: model_config.get(key) for key in
             ("vocab_size", "bos_token_id", "eos_token_id", "pad_token_id")}
    check_fits(read_vocab(tokenizer), model, tokenizer=tokenizer, model_source=f"the model of {model_yaml}")


def write_checkpoint(weights: dict[str, Any], path: str | Path,
                     check: Callable[[Path], None] | None = None) -> None:
    """Save name -> array weights as a MindSpore checkpoint, atomically.

    MindSpore reads and writes only names ending in .ckpt; the temporary name of atomic_output
    does not, so the file is staged under a .ckpt name and renamed. ``check`` gets the staged
    file before the rename: if it raises, nothing is written.
    """
    import mindspore as ms

    from mathlora.artifacts import atomic_output

    with atomic_output(path, suffix=".ckpt") as tmp:
        staged = tmp.with_name(tmp.name + ".ckpt")
        try:
            ms.save_checkpoint([{"name": n, "data": ms.Tensor(v)} for n, v in weights.items()],
                               str(staged))
            if check is not None:
                check(staged)
            staged.replace(tmp)
        finally:
            staged.unlink(missing_ok=True)
