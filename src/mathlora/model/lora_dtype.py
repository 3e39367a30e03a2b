"""The dtypes of the LoRA matrices and of their Dense: stated, never left to a library default.

A pet_config that names no dtype means float16 on MindFormers r1.1 (its ``LoraConfig`` default) but
the wrapped layer's dtype on MindFormers 1.9. The two agree only when the base itself is float16;
otherwise the same yaml trains fp16 matrices on one and bf16/fp32 on the other (bf16 rounds away
most of an update of 1e-5, with no fp32 master copy in either optimizer). So an unstated dtype is
accepted only where both libraries read it the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mathlora.contest import R11_LORA_DTYPES
from mathlora.errors import ConfigError, InputError

# LoRA key -> the base model's key whose value MindFormers 1.9 takes when the LoRA key is unset.
BASE_KEY = {"param_init_type": "param_init_type", "compute_dtype": "compute_dtype"}


def _unstated_conflict(lora: dict[str, Any], model: dict[str, Any]) -> tuple[str, str, str] | None:
    """(key, r1.1's value, 1.9's value) of the first LoRA dtype whose default differs, else None."""
    for key, base_key in BASE_KEY.items():
        if lora.get(key):
            continue
        r11, v19 = R11_LORA_DTYPES[key], str(model.get(base_key))
        if r11 != v19:
            return key, r11, v19
    return None


def resolve(model: dict[str, Any], lora: dict[str, Any]) -> dict[str, str]:
    """The LoRA dtypes of a mathlora config (``finetune.lora``), for the rendered pet_config."""
    conflict = _unstated_conflict(lora, model)
    if conflict is not None:
        key, r11, v19 = conflict
        raise ConfigError(f"finetune.lora.{key}: not stated, and the base's model.{BASE_KEY[key]} is "
                          f"{v19}: MindFormers r1.1 would make the LoRA {key} {r11} (the entry's), "
                          f"MindFormers 1.9 {v19}; expected finetune.lora.{key} set explicitly")
    return {key: str(lora.get(key) or model[BASE_KEY[key]]) for key in BASE_KEY}


def check_yaml(model_config: dict[str, Any], path: str | Path) -> None:
    """A MindFormers yaml's pet_config must state every LoRA dtype its libraries would read apart."""
    pet = dict(model_config.get("pet_config") or {})
    conflict = _unstated_conflict(pet, dict(model_config))
    if conflict is not None:
        key, r11, v19 = conflict
        raise InputError(path, f"pet_config names no {key} while the base's {BASE_KEY[key]} is {v19}: "
                         f"MindFormers r1.1 would train {r11} LoRA matrices, 1.9 {v19}; expected "
                         f"{key} stated in pet_config", field=f"model.model_config.pet_config.{key}")
