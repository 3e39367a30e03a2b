"""Render the MindFormers yaml (fine-tuning or prediction) for a mathlora configuration.

One template (``mindformers.yaml.in``) serves every case: the Ascend config renders the entry's
Llama3-8B LoRA yaml, the embedded default a tiny Llama3-architecture yaml with the CPU flags and a
vocabulary sized from the trained tokenizer (ranks + 256 special tokens). The checkpoint interval
follows from the rows of the training MindRecord, the epochs and the global batch size, and enough
checkpoints are kept that MindSpore's rotation never deletes a planned one.
"""

from __future__ import annotations

import json
import math
import string
from pathlib import Path
from typing import Any

import yaml

from mathlora.contest import CHECKPOINT_CALLBACK, LLAMA3_PROCESSOR, PREDICT_BLOCK_SIZE, R11_CHECKPOINT_CALLBACK
from mathlora.errors import ConfigError, InputError
from mathlora.model import lora_dtype
from mathlora.model.schedule import schedule
from mathlora.model.workflow import MODEL_YAML_SECTIONS, check_launcher
from mathlora.tokenizer.llama3 import check_fits

TEMPLATE = Path(__file__).with_name("mindformers.yaml.in")
MODES = ("finetune", "predict")
# Template fields filled with whole yaml lines (present in one mode only), not with one scalar.
BLOCKS = ("generation_block", "processor_block")
# Names the template takes verbatim (yaml identifiers, not quoted scalars).
NAMES = ("checkpoint_callback",)


# --- inputs -----------------------------------------------------------------------------------

def mindrecord_rows(path: str | Path) -> int:
    """Number of rows of a MindRecord file (read from its index, no decoding)."""
    path = Path(path)
    if not path.is_file() or not Path(f"{path}.db").is_file():
        raise InputError(path, "MindRecord file or its .db index not found")
    from mindspore.mindrecord import FileReader

    try:
        reader = FileReader(str(path))
        rows = reader.len() if hasattr(reader, "len") else None
        reader.close()
    except Exception as exc:  # mindspore raises its own RuntimeError family
        raise InputError(path, f"not a readable MindRecord file ({exc})") from None
    if rows is None:
        import mindspore.dataset as ds

        rows = ds.MindDataset(str(path), shuffle=False).get_dataset_size()
    return int(rows)


def load_settings(config_path: str | Path | None, settings_json: str | None) -> dict[str, Any]:
    """The config sections the yaml needs, from a config file or an inline JSON object."""
    if settings_json is not None:
        try:
            settings = json.loads(settings_json)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--settings: not a JSON object ({exc})") from None
        source = "--settings"
    elif config_path is not None:
        from mathlora.settings import load_config

        settings = load_config(config_path)
        source = str(config_path)
    else:
        raise ConfigError("give --config FILE or --settings JSON")
    if not isinstance(settings, dict):
        raise ConfigError(f"{source}: expected a mapping of config sections, got "
                          f"{type(settings).__name__}")
    missing = [key for key in MODEL_YAML_SECTIONS if key not in settings]
    if missing:
        raise ConfigError(f"{source}: missing config keys {missing}; expected "
                          f"{list(MODEL_YAML_SECTIONS)}")
    return {key: settings[key] for key in MODEL_YAML_SECTIONS}


# --- values -----------------------------------------------------------------------------------

def _device_values(device: str, launcher: dict[str, Any]) -> dict[str, Any]:
    """Flags that differ between Ascend (the entry's) and CPU (the set known to run on MindSpore's
    CPU backend: no flash attention or fused RMSNorm kernels there)."""
    distributed = launcher.get("type") == "msrun"
    if device == "ascend":
        return {"device_target": "Ascend", "max_device_memory": "26GB", "recompute": True,
                "use_parallel": distributed, "enable_parallel_optimizer": True,
                "sink_mode": True, "sink_size": 2, "num_parallel_workers": 8,
                "fused_rms_norm": True, "use_rope_slice": False}
    if device == "cpu":
        # Flash attention and the fused RMSNorm have no CPU kernels; rope slicing works on CPU.
        return {"device_target": "CPU", "max_device_memory": "26GB", "recompute": False,
                "use_parallel": distributed, "enable_parallel_optimizer": False,
                "sink_mode": False, "sink_size": 1, "num_parallel_workers": 1,
                "fused_rms_norm": False, "use_rope_slice": True}
    raise ConfigError(f"device: {device!r}; expected 'cpu' or 'ascend'")


def model_vocab(model: dict[str, Any], vocab: dict[str, int], tokenizer: str | Path) -> int:
    """The model's vocabulary: the config's, which must hold the tokenizer's, or the tokenizer's."""
    size = model.get("vocab_size")
    if size is None:
        return vocab["vocab_size"]
    check_fits(vocab, {"vocab_size": size}, tokenizer=tokenizer, model_source="the config (model.vocab_size)")
    return int(size)


def render_values(settings: dict[str, Any], *, mode: str, vocab: dict[str, int],
                  tokenizer: str | Path, rows: int | None, dataset: str, load_checkpoint: str,
                  output_dir: str, config_name: str, vocab_file: str = "",
                  checkpoint_callback: str = CHECKPOINT_CALLBACK) -> dict[str, Any]:
    """Every template field, from the config sections and the data the run will see.

    ``checkpoint_callback`` is the callback type of the MindFormers that will read the yaml: the
    workflow's 1.9 by default (the r1.1 spelling would be built without its resume defaults).
    """
    if mode not in MODES:
        raise ConfigError(f"mode: {mode!r}; expected one of {MODES}")
    if checkpoint_callback not in (CHECKPOINT_CALLBACK, R11_CHECKPOINT_CALLBACK):
        raise ConfigError(f"checkpoint callback {checkpoint_callback!r}; expected "
                          f"{CHECKPOINT_CALLBACK} (MindFormers 1.9) or {R11_CHECKPOINT_CALLBACK} (r1.1)")
    model, tune, evaluate = settings["model"], settings["finetune"], settings["evaluate"]
    parallel, launcher, lora = tune["parallel"], tune["launcher"], tune["lora"]
    dp = parallel["data_parallel"]
    if tune["global_batch_size"] % dp:
        raise ConfigError(f"finetune.global_batch_size: {tune['global_batch_size']} is not a multiple "
                          f"of finetune.parallel.data_parallel {dp}")
    values: dict[str, Any] = {
        "config_name": config_name, "seed": settings["seed"], "output_dir": output_dir,
        "load_checkpoint": load_checkpoint, "run_mode": mode, "epochs": tune["epochs"],
        "batch_size": tune["global_batch_size"] // dp, "learning_rate": tune["learning_rate"],
        "lr_end": tune["lr_end"], "warmup_ratio": tune["warmup_ratio"], "dataset_dir": dataset,
        "micro_batch_size": 1, "data_parallel": dp, "model_parallel": parallel["model_parallel"],
        "keep_checkpoint_max": tune["checkpoints"] + 1,  # predict: unused; finetune: from the plan
        "seq_length": model["seq_length"],
        "hidden_size": model["hidden_size"], "num_layers": model["num_layers"],
        "num_heads": model["num_heads"], "n_kv_heads": model["n_kv_heads"],
        "vocab_size": model_vocab(model, vocab, tokenizer),
        "intermediate_size": model["intermediate_size"], "rms_norm_eps": model["rms_norm_eps"],
        "bos_token_id": vocab["bos_token_id"], "eos_token_id": vocab["eos_token_id"],
        "pad_token_id": vocab["pad_token_id"], "compute_dtype": model["compute_dtype"],
        "param_init_type": model["param_init_type"], "theta": model["theta"],
        "use_flash_attention": model["use_flash_attention"], "is_dynamic": False,
        "checkpoint_name_or_path": "", "max_decode_length": evaluate["max_length"],
        "predict_batch_size": 1, "lora_rank": lora["rank"], "lora_alpha": lora["alpha"],
        "lora_dropout": lora["dropout"], "target_modules": lora["target_modules"],
        "use_past": False, "generation_block": "", "processor_block": "",
        "checkpoint_callback": checkpoint_callback,
    }
    dtypes = lora_dtype.resolve(model, lora)
    values.update(lora_param_init_type=dtypes["param_init_type"],
                  lora_compute_dtype=dtypes["compute_dtype"])
    check_launcher(tune)
    if settings["device"] == "cpu" and launcher.get("type") == "msrun":
        # msrun starts CPU workers, but MindFormers' distributed path cannot run on them: its
        # Barrier has no CPU kernel and MindSpore 2.9 compiles no semi-auto-parallel graph for
        # CPU ("Invalid backend: CPU" in GetWorldGroup).
        raise ConfigError("finetune.launcher.type: msrun cannot train on device cpu (MindSpore has no "
                          "CPU world group for MindFormers' parallel graph); expected single on cpu")
    values.update(_device_values(settings["device"], launcher))
    if model.get("use_flash_attention") and settings["device"] == "cpu":
        raise ConfigError("model.use_flash_attention: true has no CPU kernel; expected false on cpu")
    if mode == "finetune":
        if rows is None:
            raise ConfigError("fine-tuning yaml needs the rows of the training MindRecord")
        plan = schedule(rows, epochs=tune["epochs"], global_batch_size=tune["global_batch_size"],
                        checkpoints=tune["checkpoints"],
                        save_checkpoint_steps=tune.get("save_checkpoint_steps"),
                        sink_size=values["sink_size"] if values["sink_mode"] else 1)
        values["save_checkpoint_steps"] = plan.save_checkpoint_steps
        values["keep_checkpoint_max"] = plan.keep_checkpoint_max
    else:
        # Prediction as the organisers' math yaml runs it: batched greedy decoding over prompts up
        # to evaluate.max_length tokens, evaluate.max_new_tokens new tokens (theirs: 128), the KV
        # cache on Ascend (no CPU kernels), and the processor block that names the tokenizer.
        values.update(save_checkpoint_steps=1, predict_batch_size=evaluate["batch_size"],
                      seq_length=evaluate["max_length"], use_parallel=False, recompute=False,
                      use_past=settings["device"] == "ascend",
                      generation_block=generation_block(evaluate),
                      processor_block=processor_block(vocab_file))
    return values


def generation_block(evaluate: dict[str, Any]) -> str:
    """The prediction-only model_config keys, as yaml lines continuing the model_config mapping."""
    keys = {"max_new_tokens": evaluate["max_new_tokens"],
            "min_new_tokens": evaluate["min_new_tokens"], "block_size": PREDICT_BLOCK_SIZE}
    return "".join(f"\n    {key}: {yaml_scalar(value)}" for key, value in keys.items())


def processor_block(vocab_file: str) -> str:
    """The organisers' top-level processor block (LlamaProcessor with Llama3Tokenizer)."""
    tokenizer = {"model_max_length": LLAMA3_PROCESSOR["model_max_length"], "vocab_file": vocab_file,
                 "pad_token": LLAMA3_PROCESSOR["pad_token"], "type": LLAMA3_PROCESSOR["type"]}
    lines = ["", "processor:", "  return_tensors: ms", "  tokenizer:",
             *(f"    {key}: {yaml_scalar(value)}" for key, value in tokenizer.items()),
             "  type: LlamaProcessor", ""]
    return "\n".join(lines)


# --- rendering --------------------------------------------------------------------------------

def yaml_scalar(value: Any) -> str:
    """A value as a YAML scalar that PyYAML reads back as the same type (``1.0e-05``, not ``1e-05``)."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"non-finite number {value} in the model configuration")
        text = repr(value)
        mantissa, _, exponent = text.partition("e")
        if "." not in mantissa:
            mantissa += ".0"
        return f"{mantissa}e{exponent}" if exponent else mantissa
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise ConfigError(f"cannot render {value!r} ({type(value).__name__}) into the yaml")


def render(values: dict[str, Any]) -> str:
    """Fill the template; a missing value is a bug, so it raises instead of leaving ``${...}``."""
    template = string.Template(TEMPLATE.read_text(encoding="utf-8"))
    scalars = {key: value if key in BLOCKS or key in NAMES else yaml_scalar(value)
               for key, value in values.items()}
    scalars["config_name"] = str(values.get("config_name", "?"))
    try:
        text = template.substitute(scalars)
    except KeyError as exc:
        raise ConfigError(f"template {TEMPLATE.name} needs a value for {exc.args[0]}") from None
    yaml.safe_load(text)  # must parse
    return text


# --- command ----------------------------------------------------------------------------------
