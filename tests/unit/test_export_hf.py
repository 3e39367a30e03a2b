"""export-hf: a MindFormers checkpoint exported to Hugging Face format loads in transformers and agrees.

The parity tests build a tiny random-weight Llama3-architecture network through the project's own
loader (GQA: 4 heads, 2 KV heads), run it in MindFormers, export it, load the export with
transformers (torch CPU) and compare logits on fixed prompts and greedy continuations. Tokenizer
tests compare the exported fast tokenizer with the project's tiktoken one. Bad-input tests check
the errors and that no output directory (or temporary) is left behind.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from mathlora import prompts
from mathlora.cli import main as cli
from mathlora.errors import InputError
from mathlora.model import export_hf
from mathlora.tokenizer.bpe import piece_counts, train
from mathlora.tokenizer.llama3 import SPECIAL_TOKENS, Llama3Tokenizer, format_ranks

ROOT = Path(__file__).resolve().parents[2]
HIDDEN, LAYERS, HEADS, KV_HEADS, FFN = 64, 2, 4, 2, 96
SEQ = 64            # the MindFormers network's fixed input length
NEW_TOKENS = 6      # greedy tokens compared
RANKS = 500
PROBLEMS = ["计算 12.5 + 3.75 等于多少？", "解方程 3x + 7 = 0", "What is $2^{10}$?",
            "求以下数据的平均值：[3, 5, 8]"]
TEXTS = [*PROBLEMS, "-7840.79 + 4206.75 = -3634.04", "方程的解为：-0.8571",
         "What is $\\dbinom{8}{3}$? The answer is $\\boxed{56}$.", "  spaces\n\nand\ttabs ",
         "emoji 🙂 ok", "line\r\nbreaks", "", "   ", "it's we'll THEY'VE", "1234567 89"]


def _texts() -> list[tuple[str, int]]:
    rng = random.Random(7)
    texts = [(prompts.ENTRY.prefix + prompts.ENTRY.suffix, 50),
             (prompts.TRAIN_HUMAN_PREFIX, 50)]
    for _ in range(300):
        a, b = rng.randint(0, 9999) / 100, rng.randint(-999, 999)
        texts.append((f"计算 {a} + {b} 等于多少？ {a} + {b} = {a + b:.2f}", 1))
        texts.append((f"What is ${b}^{{2}}$? The answer is $\\boxed{{{b * b}}}$.", 1))
    return texts


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("export_hf")


@pytest.fixture(scope="module")
def tokenizer_file(work) -> Path:
    path = work / "tokenizer.model"
    path.write_text(format_ranks(train(piece_counts(_texts()), RANKS)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def model_yaml(work, tokenizer_file) -> Path:
    """The fine-tuning yaml `render-yaml` renders for the default config at tiny sizes."""
    from mathlora.model import render
    from mathlora.tokenizer.llama3 import read_vocab

    settings = render.load_settings(ROOT / "config" / "config.yaml", None)
    settings["model"].update(hidden_size=HIDDEN, num_layers=LAYERS, num_heads=HEADS,
                             n_kv_heads=KV_HEADS, intermediate_size=FFN, seq_length=SEQ)
    values = render.render_values(settings, mode="finetune", vocab=read_vocab(tokenizer_file),
                                  tokenizer=tokenizer_file, rows=160, dataset="", load_checkpoint="",
                                  output_dir=str(work / "output"), config_name="test")
    path = work / "finetune.yaml"
    path.write_text(render.render(values), encoding="utf-8")
    return path


def mindformers_weights(seed: int = 0) -> dict[str, np.ndarray]:
    """Random weights under MindFormers' names; norms away from 1 so a swapped norm would show."""
    rng = np.random.default_rng(seed)
    vocab, kv = RANKS + 256, KV_HEADS * HIDDEN // HEADS

    def linear(out: int, inp: int, scale: float = 1.0) -> np.ndarray:
        return (rng.standard_normal((out, inp)) * scale / np.sqrt(inp)).astype(np.float32)

    def norm() -> np.ndarray:
        return (1.0 + 0.3 * rng.standard_normal(HIDDEN)).astype(np.float32)

    embedding = rng.standard_normal((vocab, HIDDEN)).astype(np.float32)
    weights = {"model.tok_embeddings.embedding_weight": embedding}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        weights.update({
            p + "attention.wq.weight": linear(HIDDEN, HIDDEN, 2.0),
            p + "attention.wk.weight": linear(kv, HIDDEN, 2.0),
            p + "attention.wv.weight": linear(kv, HIDDEN),
            p + "attention.wo.weight": linear(HIDDEN, HIDDEN),
            p + "feed_forward.w1.weight": linear(FFN, HIDDEN),
            p + "feed_forward.w2.weight": linear(HIDDEN, FFN),
            p + "feed_forward.w3.weight": linear(FFN, HIDDEN),
            p + "attention_norm.weight": norm(),
            p + "ffn_norm.weight": norm(),
        })
    weights["model.norm_out.weight"] = norm()
    weights["lm_head.weight"] = linear(vocab, HIDDEN, 3.0)  # spread logits: no near-ties in argmax
    return weights


def save_ckpt(path: Path, weights: dict[str, np.ndarray]) -> Path:
    import mindspore as ms

    ms.save_checkpoint([{"name": name, "data": ms.Tensor(value)} for name, value in weights.items()],
                       str(path))
    return path


@pytest.fixture(scope="module")
def checkpoint(work) -> Path:
    return save_ckpt(work / "merged.ckpt", mindformers_weights())


@pytest.fixture(scope="module")
def exported(work, checkpoint, model_yaml, tokenizer_file) -> Path:
    out = work / "hf"
    export_hf.export(checkpoint, model_yaml, tokenizer_file, out)
    return out


def test_export_writes_a_transformers_directory(exported, tokenizer_file):
    names = {p.relative_to(exported).as_posix() for p in exported.rglob("*") if p.is_file()}
    assert names == {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                     "tokenizer_config.json", "special_tokens_map.json", "original/tokenizer.model"}
    config = json.loads((exported / "config.json").read_text())
    assert (config["hidden_size"], config["num_hidden_layers"], config["num_attention_heads"],
            config["num_key_value_heads"], config["intermediate_size"]) \
        == (HIDDEN, LAYERS, HEADS, KV_HEADS, FFN)
    assert (config["vocab_size"], config["bos_token_id"], config["eos_token_id"], config["pad_token_id"]) \
        == (RANKS + 256, RANKS, RANKS + 1, RANKS + 2)
    assert config["rope_theta"] == 500000 and config["rms_norm_eps"] == 1e-5
    assert config["tie_word_embeddings"] is False and config["torch_dtype"] == "float32"
    assert (exported / "original/tokenizer.model").read_bytes() == tokenizer_file.read_bytes()
    leftovers = [p.name for p in exported.parent.iterdir() if p.name.startswith(".hf")]
    assert leftovers == []


def test_weights_are_renamed_not_changed(exported):
    from safetensors.numpy import load_file

    tensors = load_file(str(exported / "model.safetensors"))
    weights = mindformers_weights()
    assert len(tensors) == len(weights) == 3 + 9 * LAYERS
    np.testing.assert_array_equal(tensors["model.embed_tokens.weight"],
                                  weights["model.tok_embeddings.embedding_weight"])
    np.testing.assert_array_equal(tensors["model.layers.1.self_attn.k_proj.weight"],
                                  weights["model.layers.1.attention.wk.weight"])
    np.testing.assert_array_equal(tensors["model.layers.0.mlp.gate_proj.weight"],
                                  weights["model.layers.0.feed_forward.w1.weight"])
    np.testing.assert_array_equal(tensors["model.layers.0.post_attention_layernorm.weight"],
                                  weights["model.layers.0.ffn_norm.weight"])
    np.testing.assert_array_equal(tensors["model.norm.weight"], weights["model.norm_out.weight"])


def test_bfloat16_export_rounds_like_torch(tmp_path, checkpoint, model_yaml, tokenizer_file):
    import torch
    from safetensors.torch import load_file
    from transformers import LlamaForCausalLM

    out = tmp_path / "hf16"
    summary = export_hf.export(checkpoint, model_yaml, tokenizer_file, out, dtype="bfloat16")
    assert summary["dtype"] == "bfloat16"
    assert json.loads((out / "config.json").read_text())["torch_dtype"] == "bfloat16"
    tensors = load_file(str(out / "model.safetensors"))
    for name, value in [("model.embed_tokens.weight", "model.tok_embeddings.embedding_weight"),
                        ("model.layers.1.mlp.down_proj.weight", "model.layers.1.feed_forward.w2.weight")]:
        expected = torch.from_numpy(mindformers_weights()[value]).to(torch.bfloat16)
        assert tensors[name].dtype == torch.bfloat16 and torch.equal(tensors[name], expected)
    model = LlamaForCausalLM.from_pretrained(str(out), dtype="auto")  # the dtype config.json names
    assert model.dtype == torch.bfloat16


# --- tokenizer ------------------------------------------------------------------------------------

def test_fast_tokenizer_encodes_like_the_project(exported, tokenizer_file):
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    hf = AutoTokenizer.from_pretrained(str(exported))
    ours = Llama3Tokenizer.from_file(tokenizer_file)
    assert isinstance(hf, PreTrainedTokenizerFast)
    assert (hf.bos_token_id, hf.eos_token_id, hf.pad_token_id) == (ours.bos_id, ours.eos_id, ours.pad_id)
    assert len(hf) == ours.vocab_size
    assert hf.convert_tokens_to_ids(list(SPECIAL_TOKENS)) == list(range(RANKS, RANKS + 256))
    for text in TEXTS + [prompts.ENTRY.prefix + p + prompts.ENTRY.suffix for p in PROBLEMS]:
        ids = hf(text)["input_ids"]
        assert ids == ours.encode(text, bos=True), text
        assert hf.decode(ids, skip_special_tokens=True) == text
        assert hf.decode(ids) == "<|begin_of_text|>" + text


def test_full_size_tokenizer_keeps_llama3_special_ids(tmp_path):
    """128,000 ranks -> bos/eos/pad 128000/128001/128002, as in the real Llama3 file."""
    tokens = itertools.islice(itertools.chain((bytes([b]) for b in range(256)),
                                              (bytes(p) for p in itertools.product(range(256), repeat=2)),
                                              (bytes(t) for t in itertools.product(range(256), repeat=3))),
                              128_000)
    ranks = {token: rank for rank, token in enumerate(tokens)}
    tokenizer = export_hf.build_tokenizer(ranks)
    assert [tokenizer.token_to_id(t) for t in SPECIAL_TOKENS[:3]] == [128000, 128001, 128002]
    assert tokenizer.get_vocab_size() == 128256
    path = tmp_path / "tokenizer.model"
    path.write_text(format_ranks(ranks), encoding="utf-8")
    ours = Llama3Tokenizer.from_file(path)
    for text in TEXTS:
        assert tokenizer.encode(text).ids == ours.encode(text, bos=True), text


# --- parity with MindFormers ----------------------------------------------------------------------

def prompt_ids(tokenizer_file: Path) -> list[list[int]]:
    tok = Llama3Tokenizer.from_file(tokenizer_file)
    ids = [tok.encode(prompts.ENTRY.prefix + p + prompts.ENTRY.suffix, bos=True)
           for p in PROBLEMS]
    assert max(map(len, ids)) + NEW_TOKENS <= SEQ and len(set(map(len, ids))) > 1
    return ids


def mindformers_logits(network, batch: list[list[int]], pad: int) -> np.ndarray:
    """Logits (batch, SEQ, vocab) of right-padded rows; causal attention keeps padding out of them."""
    import mindspore as ms

    rows = np.full((len(batch), SEQ), pad, dtype=np.int32)
    for i, ids in enumerate(batch):
        rows[i, :len(ids)] = ids
    out = network(ms.Tensor(rows))
    logits = (out[0] if isinstance(out, tuple) else out).asnumpy()
    return logits.reshape(len(batch), SEQ, -1)


def mindformers_greedy(network, batch: list[list[int]], pad: int, steps: int) -> list[list[int]]:
    """Greedy continuation by full forward + argmax at each row's last position (no cache)."""
    seqs = [list(ids) for ids in batch]
    for _ in range(steps):
        logits = mindformers_logits(network, seqs, pad)
        for row, seq in zip(logits, seqs):
            seq.append(int(row[len(seq) - 1].argmax()))
    return [seq[len(ids):] for seq, ids in zip(seqs, batch)]


@pytest.mark.slow
def test_logits_and_greedy_tokens_match_mindformers(exported, model_yaml, checkpoint, tokenizer_file):
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    started = time.perf_counter()
    batch = prompt_ids(tokenizer_file)
    pad = RANKS + 2
    from mathlora.model import network as mf

    # The project's own loader: it checks that the checkpoint fills every parameter of the network.
    network = mf.load_causal_lm(model_yaml, checkpoint, batch_size=len(PROBLEMS), seq_length=SEQ)
    reference = mindformers_logits(network, batch, pad)
    expected_tokens = mindformers_greedy(network, batch, pad, NEW_TOKENS)

    torch.manual_seed(0)
    model = LlamaForCausalLM.from_pretrained(str(exported), dtype=torch.float32)
    model.eval()
    worst = 0.0
    with torch.no_grad():
        for ids, ref in zip(batch, reference):
            logits = model(torch.tensor([ids])).logits[0].numpy()
            diff = float(np.abs(logits - ref[:len(ids)]).max())
            worst = max(worst, diff)
            assert diff < 1e-4 * max(1.0, float(np.abs(ref[:len(ids)]).max())), diff
            assert (logits.argmax(-1) == ref[:len(ids)].argmax(-1)).all()

        # Greedy generation from text, batched with the exported tokenizer (left padding, bos added).
        tok = AutoTokenizer.from_pretrained(str(exported))
        texts = [prompts.ENTRY.prefix + p + prompts.ENTRY.suffix for p in PROBLEMS]
        enc = tok(texts, padding=True, return_tensors="pt")
        generated = model.generate(**enc, do_sample=False, max_new_tokens=NEW_TOKENS)
    width = enc["input_ids"].shape[1]
    for row, expected in zip(generated.tolist(), expected_tokens):
        got = row[width:]
        eos = RANKS + 1
        if eos in expected:  # transformers stops at eos and pads the rest of the batch
            expected = expected[:expected.index(eos) + 1]
            got = got[:len(expected)]
        assert got == expected
    print(f"\nmax |logit diff| {worst:.3e}; "
          f"greedy tokens {expected_tokens}; {time.perf_counter() - started:.1f} s")


def test_ascend_rotary_form_is_the_same_rotation():
    """On Ascend (use_rope_slice False) MindFormers rotates by a swap matrix instead of slices.

    That kernel does not run on this CPU, so the parity test covers the slice form; this checks the
    matrix form is the same rotate-half transformers applies, so the export holds for both.
    """
    import torch
    from mindformers.modules.layers import FreqsMgr
    from transformers.models.llama.modeling_llama import rotate_half

    x = np.random.default_rng(1).standard_normal((2, 3, 5, 16)).astype(np.float32)
    swapped = x @ FreqsMgr.get_swap_mask(16)
    np.testing.assert_array_equal(swapped, rotate_half(torch.from_numpy(x)).numpy())


# --- bad input ------------------------------------------------------------------------------------

def assert_nothing_left(out: Path) -> None:
    assert not out.exists()
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")] == []


@pytest.mark.parametrize("missing, message", [("checkpoint", "nope: checkpoint not found"),
                                              ("yaml", "nope: MindFormers yaml not found"),
                                              ("tokenizer", "nope: tokenizer file not found")])
def test_missing_inputs(tmp_path, checkpoint, model_yaml, tokenizer_file, missing, message):
    files = {"checkpoint": checkpoint, "yaml": model_yaml, "tokenizer": tokenizer_file}
    files[missing] = tmp_path / "nope"
    out = tmp_path / "hf"
    with pytest.raises(InputError, match=message):
        export_hf.export(files["checkpoint"], files["yaml"], files["tokenizer"], out)
    assert_nothing_left(out)


@pytest.mark.parametrize("edit, message", [
    (lambda w: w.pop("model.layers.1.feed_forward.w2.weight"),
     "lacks parameter model.layers.1.feed_forward.w2.weight"),
    (lambda w: w.update({"model.layers.0.attention.wk.weight": np.zeros((HIDDEN, HIDDEN), np.float32)}),
     r"shape \(64, 64\) does not fit .* expected \(32, 64\)"),
    (lambda w: w.update({
        "model.layers.0.attention.wq.mindpet_delta_lora_a": np.zeros((8, HIDDEN), np.float32),
        "model.layers.0.attention.wq.mindpet_delta_lora_b": np.zeros((HIDDEN, 8), np.float32)}),
     r"LoRA parameters .*mathlora merge"),
    (lambda w: w.update({"model.layers.2.attention.wq.weight": np.zeros((HIDDEN, HIDDEN), np.float32)}),
     "network parameters the yaml's 2-layer Llama does not"),
    (lambda w: w["model.norm_out.weight"].__setitem__(3, np.nan), "non-finite"),
])
def test_bad_checkpoints_are_refused(tmp_path, model_yaml, tokenizer_file, edit, message):
    weights = mindformers_weights()
    edit(weights)
    ckpt = save_ckpt(tmp_path / "bad.ckpt", weights)
    out = tmp_path / "hf"
    with pytest.raises(InputError, match=message):
        export_hf.export(ckpt, model_yaml, tokenizer_file, out)
    assert_nothing_left(out)


def test_truncated_checkpoint(tmp_path, checkpoint, model_yaml, tokenizer_file):
    bad = tmp_path / "cut.ckpt"
    bad.write_bytes(checkpoint.read_bytes()[:1000])
    out = tmp_path / "hf"
    with pytest.raises(InputError, match="cut.ckpt"):
        export_hf.export(bad, model_yaml, tokenizer_file, out)
    assert_nothing_left(out)


def test_optimizer_state_is_skipped_and_reported(tmp_path, model_yaml, tokenizer_file):
    weights = mindformers_weights()
    weights["adam_m.lm_head.weight"] = np.zeros_like(weights["lm_head.weight"])
    weights["global_step"] = np.array([12], dtype=np.float32)
    ckpt = save_ckpt(tmp_path / "with_state.ckpt", weights)
    report = tmp_path / "export_hf.json"
    assert cli(["export-hf", "--checkpoint", str(ckpt), "--model-yaml", str(model_yaml), "--tokenizer",
                str(tokenizer_file), "--out", str(tmp_path / "hf"), "--report", str(report)]) == 0
    doc = json.loads(report.read_text())
    assert doc["skipped_entries"] == {"count": 2, "names": ["adam_m.lm_head.weight", "global_step"]}
    assert doc["tensors"] == 3 + 9 * LAYERS
    assert doc["parameters"] == sum(v.size for k, v in mindformers_weights().items())
    assert {f["name"] for f in doc["files"]} >= {"config.json", "model.safetensors", "tokenizer.json"}


def test_tokenizer_that_does_not_fit_the_model(tmp_path, checkpoint, model_yaml, capsys):
    other = tmp_path / "other.model"
    other.write_text(format_ranks(train(piece_counts(_texts()), RANKS - 10)), encoding="utf-8")
    out = tmp_path / "hf"
    assert cli(["export-hf", "--checkpoint", str(checkpoint), "--model-yaml", str(model_yaml),
                "--tokenizer", str(other), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "other.model" in err and f"bos_token_id is {RANKS - 10}" in err and str(RANKS) in err
    assert_nothing_left(out)


def test_existing_output_needs_overwrite(tmp_path, checkpoint, model_yaml, tokenizer_file):
    out = tmp_path / "hf"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(InputError, match="already exists"):
        export_hf.export(checkpoint, model_yaml, tokenizer_file, out)
    assert (out / "old.txt").exists()
    export_hf.export(checkpoint, model_yaml, tokenizer_file, out, overwrite=True)
    assert not (out / "old.txt").exists() and (out / "model.safetensors").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".hf")] == []


@pytest.mark.parametrize("key, value, message", [
    ("tie_word_embeddings", True, "not supported"),
    ("extend_method", "NTK", "not supported"),
    ("vocab_size", None, "missing"),
    ("n_kv_heads", 3, "not a multiple of n_kv_heads"),
])
def test_unsupported_yaml(tmp_path, model_yaml, key, value, message):
    document = yaml.safe_load(model_yaml.read_text(encoding="utf-8"))
    document["model"]["model_config"][key] = value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(InputError, match=message) as info:
        export_hf.model_settings(path)
    assert info.value.field == f"model.model_config.{key}" or key == "n_kv_heads"
