"""Count trainable and total parameters of the real network, without allocating its weights.

Builds the MindFormers LlamaForCausalLM with its pet LoRA wrapper from a rendered yaml or a
mathlora config inside ``mindspore.nn.utils.no_init_parameters`` (the full Llama3-8B + LoRA fits in
under 1 GiB that way) and counts what the network really has. Reports the contest's ratio
(trainable / 8,030,000,000) and the exact one (trainable / total). Any LoRA rank or target regex
can be tried with --lora-rank / --target-modules; a regex that matches no layer is an error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from mathlora.contest import OFFICIAL_DENOMINATOR
from mathlora.errors import ConfigError, InputError
from mathlora.model import compat, network, stack
from mathlora.tokenizer.llama3 import NUM_SPECIAL, read_vocab, special_ids


def model_config_from_config(config_path: str | Path, tokenizer: str | None) -> dict[str, Any]:
    """The model_config a mathlora config renders (vocab from the tokenizer when the config has none)."""
    from mathlora.model import render

    settings = render.load_settings(config_path, None)
    if settings["model"].get("vocab_size") is None and tokenizer is None:
        raise ConfigError(f"{config_path}: model.vocab_size is not set; give --tokenizer to size the "
                          "vocabulary from the tokenizer (ranks + 256)")
    if tokenizer is not None:
        vocab = read_vocab(tokenizer)
    else:  # the Llama3 layout of a vocabulary of that size
        vocab = special_ids(settings["model"]["vocab_size"] - NUM_SPECIAL)
    values = render.render_values(settings, mode="predict", vocab=vocab, tokenizer=tokenizer or "",
                                  rows=None, dataset="", load_checkpoint="", output_dir="./output",
                                  config_name=str(config_path))
    return yaml.safe_load(render.render(values))["model"]["model_config"]


def model_config_from_yaml(yaml_path: str | Path) -> dict[str, Any]:
    path = Path(yaml_path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "MindFormers yaml not found") from None
    except yaml.YAMLError as exc:
        raise InputError(path, f"not valid YAML ({str(exc).splitlines()[0]})") from None
    try:
        return document["model"]["model_config"]
    except (KeyError, TypeError):
        raise InputError(path, "no model.model_config section", field="model.model_config") from None


def check_lora_flags(lora_rank: int | None, lora_alpha: float | None) -> None:
    if lora_alpha is not None and lora_rank is None:
        raise ConfigError("--lora-alpha needs --lora-rank (alpha is only overridden together with "
                          "the rank)")
    if lora_rank is not None and lora_rank < 1:
        raise ConfigError(f"--lora-rank {lora_rank}: expected a positive integer")


def lora_settings(pet_config: dict[str, Any] | None, *, lora_rank: int | None = None,
                  target_modules: str | None = None, lora_alpha: float | None = None) -> dict[str, Any]:
    """The pet LoRA config to count: the yaml's, with the command-line overrides applied.

    Without a pet_config in the yaml both the rank and the target regex must be given: guessing
    them would report a ratio for a network nobody configured.
    """
    check_lora_flags(lora_rank, lora_alpha)
    if pet_config:
        pet = dict(pet_config)
    else:
        missing = [flag for flag, value in (("--lora-rank", lora_rank),
                                            ("--target-modules", target_modules)) if value is None]
        if missing:
            raise ConfigError(f"the model config has no pet_config (LoRA settings); give "
                              f"{' and '.join(missing)} to count a LoRA network")
        pet = {"pet_type": "lora", "lora_dropout": 0.0}
    if lora_rank is not None:
        pet["lora_rank"] = lora_rank
        pet["lora_alpha"] = lora_alpha if lora_alpha is not None else 2 * lora_rank
    if target_modules is not None:
        try:
            re.compile(target_modules)
        except re.error as exc:
            raise ConfigError(f"--target-modules {target_modules!r}: not a regular expression ({exc})") from None
        pet["target_modules"] = target_modules
    return pet


def count(model_config: dict[str, Any], *, lora_rank: int | None = None,
          target_modules: str | None = None, lora_alpha: float | None = None) -> dict[str, Any]:
    """Total, base and trainable parameter counts of the LoRA network (no weights allocated)."""
    stack.check()
    compat.prepare_mindformers_import()  # before the import, which otherwise logs into ./output
    from mindformers import LlamaConfig, LlamaForCausalLM
    from mindformers.pet import get_pet_model
    from mindformers.pet.pet_config import LoraConfig
    from mindspore.nn.utils import no_init_parameters

    options, pet = network.llama_options(model_config)
    pet = lora_settings(pet, lora_rank=lora_rank, target_modules=target_modules, lora_alpha=lora_alpha)
    defaults = LoraConfig()  # a key left out trains with LoraConfig's default
    for key in ("lora_rank", "lora_alpha"):
        pet.setdefault(key, getattr(defaults, key))
    with no_init_parameters():
        base = LlamaForCausalLM(LlamaConfig(**options))
        base_total = sum(int(p.size) for p in base.get_parameters())
        model = get_pet_model(base, pet)
    params = list(model.get_parameters())
    lora = [p for p in params if network.LORA_MARK in p.name]
    if not lora:
        raise ConfigError(f"target_modules {pet['target_modules']!r} matches no layer of the network; "
                          "expected a regex matching cell names such as "
                          "'model.layers.0.attention.wq' (e.g. '.*wq|.*wv')")
    trainable = sum(int(p.size) for p in params if p.requires_grad)
    total = sum(int(p.size) for p in params)
    modules = sorted({p.name.rsplit(".", 1)[0] for p in lora})
    return {
        "lora": {"rank": int(pet["lora_rank"]), "alpha": float(pet["lora_alpha"]),
                 "target_modules": str(pet["target_modules"])},
        "lora_modules": len(modules),
        "lora_module_names": sorted({m.split(".")[-1] for m in modules}),
        "total_parameters": total,
        "base_parameters": base_total,
        "trainable_parameters": trainable,
        "official_denominator": OFFICIAL_DENOMINATOR,
        "official_ratio": trainable / OFFICIAL_DENOMINATOR,
        "exact_ratio": trainable / total,
    }


def count_plain(model_config: dict[str, Any]) -> int:
    """Parameters of the plain (LoRA-free) network: all trainable in base pretraining."""
    from mindformers import LlamaConfig, LlamaForCausalLM
    from mindspore.nn.utils import no_init_parameters

    options, _ = network.llama_options(model_config)
    with no_init_parameters():
        model = LlamaForCausalLM(LlamaConfig(**options))
    return sum(int(p.size) for p in model.get_parameters())


def params_counts(params: dict[str, Any], source: str | Path = "params.json") -> dict[str, Any]:
    """Trainable and total parameters and the contest ratio of a params report (or ``--json`` output)."""
    trainable = params.get("trainable_parameters")
    ratio = params.get("official_ratio")
    if not isinstance(trainable, int) or isinstance(trainable, bool):
        raise InputError(source, "expected an integer", field="trainable_parameters")
    if not isinstance(ratio, (int, float)) or isinstance(ratio, bool):
        raise InputError(source, "expected a number", field="official_ratio")
    return {"trainable": trainable, "total": params.get("total_parameters"), "ratio": float(ratio)}


def read_params(path: str | Path) -> dict[str, Any]:
    """:func:`params_counts` of a params.json, read and validated as a ``params`` artifact."""
    from mathlora.artifacts import read_artifact

    return params_counts(read_artifact(path, "params"), path)
