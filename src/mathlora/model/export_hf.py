"""Export a merged (full-weight, LoRA-free) checkpoint to a Hugging Face transformers directory
(config.json, model.safetensors, fast tokenizer) that loads as LlamaForCausalLM and AutoTokenizer.

Reads the MindFormers checkpoint, the rendered MindFormers yaml it was trained with and the project's
Llama3-format tiktoken tokenizer file, and writes ``config.json``, ``generation_config.json``,
``model.safetensors`` (float32, or bfloat16 on request) and a fast tokenizer (``tokenizer.json``,
``tokenizer_config.json``, ``special_tokens_map.json``, the source file as
``original/tokenizer.model``) that
``transformers`` loads with ``LlamaForCausalLM.from_pretrained`` and ``AutoTokenizer.from_pretrained``.

The weights are renamed only: MindFormers' Llama keeps q/k in the same rotary layout as Hugging
Face's (rotate-half), and its Linear weights are stored (out, in) like torch's. A checkpoint that
still holds LoRA parameters, lacks a parameter, has a wrong shape or a non-finite value is refused;
entries that are not network weights (optimizer moments, step counters) are skipped and counted.
The directory is written under a temporary name and renamed at the end: a failed export leaves
nothing behind; tensors are converted and written one at a time, so memory holds the checkpoint
plus one tensor. Needs numpy and tokenizers only (no torch, no transformers).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mathlora.artifacts import atomic_output, dump_json, file_sha256
from mathlora.errors import ConfigError, InputError
from mathlora.model import network, stack
from mathlora.model.params import model_config_from_yaml

# MindFormers parameter name -> Hugging Face name ({i} is the layer index).
LAYER_NAMES: dict[str, str] = {
    "attention.wq.weight": "self_attn.q_proj.weight",
    "attention.wk.weight": "self_attn.k_proj.weight",
    "attention.wv.weight": "self_attn.v_proj.weight",
    "attention.wo.weight": "self_attn.o_proj.weight",
    "feed_forward.w1.weight": "mlp.gate_proj.weight",
    "feed_forward.w2.weight": "mlp.down_proj.weight",
    "feed_forward.w3.weight": "mlp.up_proj.weight",
    "attention_norm.weight": "input_layernorm.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
}
GLOBAL_NAMES: dict[str, str] = {
    "model.tok_embeddings.embedding_weight": "model.embed_tokens.weight",
    "model.norm_out.weight": "model.norm.weight",
    "lm_head.weight": "lm_head.weight",
}
# Markers of adapter weights (MindFormers' mindpet LoRA, and the tk_delta names its tools use).
LORA_PATTERN = re.compile(r"mindpet_delta_lora|tk_delta_lora|lora_[ab]\b|\.lora_", re.IGNORECASE)
# Only these prefixes are network weights; anything else (adam_m.*, global_step, ...) is state.
NETWORK_PREFIXES = ("model.", "lm_head.")

WEIGHTS_FILE = "model.safetensors"
# Weight dtypes of the export: safetensors code and bytes per value.
SAFETENSORS_DTYPES = {"float32": ("F32", 4), "bfloat16": ("BF16", 2)}
ORIGINAL_TOKENIZER = "original/tokenizer.model"
MAX_LISTED = 20  # names of skipped entries listed in the report


# --- model settings from the rendered yaml ------------------------------------------------------

def model_settings(model_yaml: str | Path) -> dict[str, Any]:
    """The architecture fields of ``model.model_config``, with MindFormers' defaults where optional.

    Fields whose MindFormers default is a Llama2 value (vocabulary, special ids, sizes) are required:
    silently exporting with the wrong one would give a model that loads but talks nonsense.
    """
    path = Path(model_yaml)
    mc = dict(model_config_from_yaml(path))

    def field(name: str, kind: type, default: Any = None) -> Any:
        value = mc.get(name, default)
        where = f"model.model_config.{name}"
        if value is None:
            raise InputError(path, f"missing; expected a {kind.__name__}", field=where)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise InputError(path, f"{value!r} is not a {kind.__name__}", field=where)
        if kind in (int, float) and value <= 0:
            raise InputError(path, f"{value!r}; expected a positive number", field=where)
        return value

    settings = {
        "hidden_size": field("hidden_size", int),
        "num_layers": field("num_layers", int),
        "num_heads": field("num_heads", int),
        "vocab_size": field("vocab_size", int),
        "intermediate_size": field("intermediate_size", int),
        "bos_token_id": field("bos_token_id", int),
        "eos_token_id": field("eos_token_id", int),
        "pad_token_id": field("pad_token_id", int),
        "rms_norm_eps": field("rms_norm_eps", float, 1e-5),
        "theta": field("theta", float, 10000.0),
        "seq_length": field("seq_length", int, 2048),
    }
    settings["n_kv_heads"] = field("n_kv_heads", int, settings["num_heads"])
    settings["max_position_embedding"] = field("max_position_embedding", int, settings["seq_length"])
    if settings["hidden_size"] % settings["num_heads"]:
        raise InputError(path, f"hidden_size {settings['hidden_size']} is not a multiple of num_heads "
                         f"{settings['num_heads']}", field="model.model_config.num_heads")
    if settings["num_heads"] % settings["n_kv_heads"]:
        raise InputError(path, f"num_heads {settings['num_heads']} is not a multiple of n_kv_heads "
                         f"{settings['n_kv_heads']}", field="model.model_config.n_kv_heads")
    # Variants the plain rename cannot express: refuse rather than export a wrong model.
    unsupported = {
        "tie_word_embeddings": (mc.get("tie_word_embeddings", False), (False, None)),
        "qkv_concat": (mc.get("qkv_concat", False), (False, None)),
        "extend_method": (mc.get("extend_method", "None"), ("None", None)),
        "scaling_factor": (mc.get("scaling_factor", 1.0), (1.0, 1, None)),
    }
    for name, (value, allowed) in unsupported.items():
        if value not in allowed:
            raise InputError(path, f"{value!r} is not supported by the export; expected "
                             f"{' or '.join(repr(a) for a in allowed if a is not None)}",
                             field=f"model.model_config.{name}")
    return settings


def expected_shapes(settings: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """Every MindFormers parameter of the plain network with its shape, in Hugging Face order."""
    hidden, ffn = settings["hidden_size"], settings["intermediate_size"]
    kv = settings["n_kv_heads"] * (hidden // settings["num_heads"])
    layer = {
        "attention.wq.weight": (hidden, hidden), "attention.wk.weight": (kv, hidden),
        "attention.wv.weight": (kv, hidden), "attention.wo.weight": (hidden, hidden),
        "feed_forward.w1.weight": (ffn, hidden), "feed_forward.w2.weight": (hidden, ffn),
        "feed_forward.w3.weight": (ffn, hidden), "attention_norm.weight": (hidden,),
        "ffn_norm.weight": (hidden,),
    }
    shapes = {"model.tok_embeddings.embedding_weight": (settings["vocab_size"], hidden)}
    for i in range(settings["num_layers"]):
        shapes.update({f"model.layers.{i}.{name}": shape for name, shape in layer.items()})
    shapes["model.norm_out.weight"] = (hidden,)
    shapes["lm_head.weight"] = (settings["vocab_size"], hidden)
    return shapes


def hf_name(ms_name: str) -> str:
    """The Hugging Face name of a MindFormers parameter (KeyError for names outside the network)."""
    if ms_name in GLOBAL_NAMES:
        return GLOBAL_NAMES[ms_name]
    match = re.fullmatch(r"model\.layers\.(\d+)\.(.+)", ms_name)
    if match is None or match.group(2) not in LAYER_NAMES:
        raise KeyError(ms_name)
    return f"model.layers.{match.group(1)}.{LAYER_NAMES[match.group(2)]}"


def hf_config(settings: Mapping[str, Any], dtype: str = "float32") -> dict[str, Any]:
    """``config.json`` of transformers' LlamaConfig for these settings (untied, no rope scaling)."""
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": settings["hidden_size"],
        "intermediate_size": settings["intermediate_size"],
        "num_hidden_layers": settings["num_layers"],
        "num_attention_heads": settings["num_heads"],
        "num_key_value_heads": settings["n_kv_heads"],
        "head_dim": settings["hidden_size"] // settings["num_heads"],
        "hidden_act": "silu",
        "max_position_embeddings": settings["max_position_embedding"],
        "rms_norm_eps": settings["rms_norm_eps"],
        "rope_theta": settings["theta"],
        "rope_scaling": None,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "mlp_bias": False,
        "pretraining_tp": 1,
        "initializer_range": 0.02,
        "tie_word_embeddings": False,
        "use_cache": True,
        "vocab_size": settings["vocab_size"],
        "bos_token_id": settings["bos_token_id"],
        "eos_token_id": settings["eos_token_id"],
        "pad_token_id": settings["pad_token_id"],
        "torch_dtype": dtype,
    }


def generation_config(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Greedy decoding with the model's special ids, as the project's predict step decodes."""
    return {"bos_token_id": settings["bos_token_id"], "eos_token_id": settings["eos_token_id"],
            "pad_token_id": settings["pad_token_id"], "do_sample": False}


# --- weights ------------------------------------------------------------------------------------

def check_entries(params: Mapping[str, Any], settings: Mapping[str, Any], path: str | Path) -> list[str]:
    """Refuse LoRA, missing, unexpected or misshapen weights; return the skipped non-weight entries."""
    lora = sorted(name for name in params if LORA_PATTERN.search(name))
    if lora:
        raise InputError(path, f"checkpoint still holds {len(lora)} LoRA parameters ({lora[0]}, ...); "
                         "merge them into the base weights first (`mathlora merge`) and export the "
                         "merged checkpoint", field=lora[0])
    shapes = expected_shapes(settings)
    for name, shape in shapes.items():
        if name not in params:
            raise InputError(path, f"checkpoint lacks parameter {name} (expected shape {shape}); does "
                             "the yaml describe this checkpoint's network?", field=name)
        got = tuple(params[name].shape)
        if got != shape:
            raise InputError(path, f"shape {got} does not fit the yaml's model; expected {shape}",
                             field=name)
    unexpected = sorted(name for name in params if name.startswith(NETWORK_PREFIXES) and name not in shapes)
    if unexpected:
        raise InputError(path, f"checkpoint has {len(unexpected)} network parameters the yaml's "
                         f"{settings['num_layers']}-layer Llama does not ({unexpected[0]}, ...); expected "
                         "exactly the plain LlamaForCausalLM weights", field=unexpected[0])
    return sorted(name for name in params if not name.startswith(NETWORK_PREFIXES))


def float32_array(value: Any):
    """A float32 numpy copy of a MindSpore tensor of any float dtype (bfloat16 has no numpy type)."""
    import numpy as np

    if hasattr(value, "asnumpy"):
        import mindspore as ms

        if value.dtype != ms.float32:
            value = value.astype(ms.float32)
        return np.ascontiguousarray(value.asnumpy(), dtype=np.float32)
    return np.ascontiguousarray(value, dtype=np.float32)


def to_bfloat16_bits(array):
    """bfloat16 bit patterns (uint16) of a float32 array, rounded to nearest even like torch does."""
    import numpy as np

    bits = np.ascontiguousarray(array, dtype=np.float32).view(np.uint32)
    nan = np.isnan(array)
    rounded = ((bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16))
    rounded = rounded.astype(np.uint16)
    rounded[nan] = np.uint16(0x7FC0)
    return rounded


def write_safetensors(target: Path, shapes: Mapping[str, tuple[int, ...]],
                      load: Callable[[str], Any], *, dtype: str, source: str | Path) -> None:
    """Stream tensors into a safetensors file, one at a time, so peak memory stays one tensor.

    The format is an 8-byte little-endian header length, a JSON header (name -> dtype, shape, byte
    range; padded with spaces to 8 bytes) and the raw little-endian data. ``shapes`` maps MindFormers
    names (in the order written) to shapes; ``load(name)`` returns the float32 array.
    """
    import numpy as np

    code, width = SAFETENSORS_DTYPES[dtype]
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in shapes.items():
        size = int(np.prod(shape, dtype=np.int64)) * width
        header[hf_name(name)] = {"dtype": code, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with target.open("wb") as handle:
        handle.write(len(text).to_bytes(8, "little"))
        handle.write(text)
        for name in shapes:
            array = load(name)
            if not np.isfinite(array).all():
                raise InputError(source, f"{int((~np.isfinite(array)).sum())} non-finite values "
                                 "(NaN/inf); expected finite weights", field=name)
            data = to_bfloat16_bits(array) if dtype == "bfloat16" else array.astype("<f4", copy=False)
            handle.write(memoryview(np.ascontiguousarray(data)).cast("B"))


# --- tokenizer ----------------------------------------------------------------------------------

def _byte_symbols() -> dict[int, str]:
    """Byte-level BPE's printable stand-in for every byte (the mapping GPT-2 introduced).

    Printable Latin-1 bytes stand for themselves; the others are shifted to code points from 256 up,
    in byte order, so every byte string becomes a string without spaces or control characters.
    """
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
            *range(ord("®"), ord("ÿ") + 1)]
    symbols = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in symbols:
            symbols[b] = chr(256 + extra)
            extra += 1
    return symbols


def vocab_and_merges(ranks: Mapping[bytes, int]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """The BPE vocabulary and merge list equivalent to tiktoken's ranks.

    tiktoken merges, at each step, the adjacent pair whose concatenation has the lowest rank,
    whatever split produced it; listing every split of every token, ordered by the rank of the
    merged token, gives Hugging Face's BPE the same priority order.
    """
    symbols = _byte_symbols()

    def text(token: bytes) -> str:
        return "".join(symbols[b] for b in token)

    vocab = {text(token): rank for token, rank in ranks.items()}
    merges: list[tuple[int, int, int, str, str]] = []
    for token, rank in ranks.items():
        for cut in range(1, len(token)):
            left, right = token[:cut], token[cut:]
            if left in ranks and right in ranks:
                merges.append((rank, ranks[left], ranks[right], text(left), text(right)))
    merges.sort()
    return vocab, [(left, right) for *_, left, right in merges]


def build_tokenizer(ranks: Mapping[bytes, int]):
    """A ``tokenizers.Tokenizer`` that encodes like the project's Llama3 tokenizer, bos prepended."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    from mathlora.tokenizer.llama3 import PAT_STR, SPECIAL_TOKENS

    vocab, merges = vocab_and_merges(ranks)
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False, ignore_merges=True))
    tokenizer.normalizer = normalizers.NFC()  # as the project's encode (and r1.1's) normalises
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PAT_STR), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    # Specials take the ids right after the ranks, in Llama3's order (bos, eos, pad first).
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    bos = SPECIAL_TOKENS[0]
    bos_id = tokenizer.token_to_id(bos)
    # Prompts start with bos, as the project's predict step and the training rows do.
    tokenizer.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos}:1 $B:1",
                                      special_tokens=[(bos, bos_id)]),
    ])
    return tokenizer


def prepare_tokenizer(tokenizer_file: Path, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Parse the tiktoken file, check it fits the model and convert it (before any weight is read)."""
    from mathlora.tokenizer.llama3 import BOS, EOS, PAD, Llama3Tokenizer, check_fits, parse_ranks, special_ids

    try:
        data = tokenizer_file.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise InputError(tokenizer_file, "tokenizer file not found") from None
    ranks = parse_ranks(data, tokenizer_file)
    project = Llama3Tokenizer(ranks, name=tokenizer_file.name)
    layout = special_ids(project.num_ranks)
    check_fits(layout, settings, tokenizer=tokenizer_file, model_source="the model's yaml")
    ids = {key: layout[key] for key in ("bos_token_id", "eos_token_id", "pad_token_id")}
    tokenizer = build_tokenizer(ranks)
    for key, token in (("bos_token_id", BOS), ("eos_token_id", EOS), ("pad_token_id", PAD)):
        if tokenizer.token_to_id(token) != ids[key]:  # the ids must survive the conversion
            raise InputError(tokenizer_file, f"{token} converted to id {tokenizer.token_to_id(token)}, "
                             f"expected {ids[key]}", field=key)
    summary = {"path": str(tokenizer_file), "sha256": hashlib.sha256(data).hexdigest(),
               "ranks": project.num_ranks, "vocab_size": project.vocab_size,
               "bos_id": project.bos_id, "eos_id": project.eos_id, "pad_id": project.pad_id}
    return {"data": data, "tokenizer": tokenizer, "summary": summary,
            "special": {"bos_token": BOS, "eos_token": EOS, "pad_token": PAD}}


def write_tokenizer(directory: Path, prepared: Mapping[str, Any], settings: Mapping[str, Any]) -> None:
    """The fast tokenizer files transformers reads, and the source file under ``original/``."""
    prepared["tokenizer"].save(str(directory / "tokenizer.json"))
    special = prepared["special"]
    (directory / "special_tokens_map.json").write_text(dump_json(special), encoding="utf-8")
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **special,
        "model_max_length": settings["max_position_embedding"],
        "model_input_names": ["input_ids", "attention_mask"],
        "clean_up_tokenization_spaces": False,
        "padding_side": "left",  # batched generation with a decoder-only model pads on the left
    }
    (directory / "tokenizer_config.json").write_text(dump_json(config), encoding="utf-8")
    (directory / ORIGINAL_TOKENIZER).parent.mkdir(parents=True, exist_ok=True)
    (directory / ORIGINAL_TOKENIZER).write_bytes(prepared["data"])


# --- export -------------------------------------------------------------------------------------

def export(checkpoint: str | Path, model_yaml: str | Path, tokenizer_file: str | Path,
           out: str | Path, *, dtype: str = "float32", overwrite: bool = False) -> dict[str, Any]:
    """Write the Hugging Face directory ``out``; returns what the report records."""
    started = time.perf_counter()
    stack.check()
    out, checkpoint, tokenizer_file = Path(out), Path(checkpoint), Path(tokenizer_file)
    if dtype not in SAFETENSORS_DTYPES:
        raise ConfigError(f"--dtype {dtype!r}; expected one of {sorted(SAFETENSORS_DTYPES)}")
    if out.exists() and not out.is_dir():
        raise InputError(out, "exists and is not a directory; expected a directory path for the export")
    if out.exists() and not overwrite:
        raise InputError(out, "output directory already exists; remove it or pass --overwrite")
    settings = model_settings(model_yaml)
    # Cheap checks first: a wrong tokenizer must not cost a multi-GiB checkpoint read.
    prepared = prepare_tokenizer(tokenizer_file, settings)
    params = network.read_checkpoint(checkpoint)
    skipped = check_entries(params, settings, checkpoint)
    shapes = expected_shapes(settings)

    def load(name: str):
        return float32_array(params.pop(name))  # frees each source tensor once converted

    replaced = out.with_name(f".{out.name}.replaced") if out.exists() else None
    if replaced is not None:
        shutil.rmtree(replaced, ignore_errors=True)  # left over from an interrupted run
    with atomic_output(out) as tmp:
        tmp.mkdir()
        write_tokenizer(tmp, prepared, settings)
        (tmp / "config.json").write_text(dump_json(hf_config(settings, dtype)), encoding="utf-8")
        (tmp / "generation_config.json").write_text(dump_json(generation_config(settings)),
                                                    encoding="utf-8")
        write_safetensors(tmp / WEIGHTS_FILE, shapes, load, dtype=dtype, source=checkpoint)
        files = [{"name": p.relative_to(tmp).as_posix(), "bytes": p.stat().st_size, "sha256": file_sha256(p)}
                 for p in sorted(tmp.rglob("*")) if p.is_file()]
        if replaced is not None:  # the old export moves aside only once the new one is complete
            os.replace(out, replaced)
    if replaced is not None:
        shutil.rmtree(replaced, ignore_errors=True)
    return {
        "out_dir": str(out),
        "checkpoint": {"path": str(checkpoint), "bytes": checkpoint.stat().st_size},
        "model_yaml": str(model_yaml),
        "tokenizer": prepared["summary"],
        "config": {k: settings[k] for k in ("hidden_size", "num_layers", "num_heads", "n_kv_heads",
                                             "intermediate_size", "vocab_size", "rms_norm_eps", "theta",
                                             "max_position_embedding")},
        "dtype": dtype,
        "tensors": len(shapes),
        "parameters": int(sum(math.prod(shape) for shape in shapes.values())),
        "skipped_entries": {"count": len(skipped), "names": skipped[:MAX_LISTED]},
        "files": files,
        "seconds": round(time.perf_counter() - started, 3),
    }


# --- command ------------------------------------------------------------------------------------
