"""Predict latency of greedy decoding, beside the plain path, transformers and the FLOP floor.

Random-weight models (fixed seed) at two sizes: ``tiny`` (the default config: hidden 256, 4 layers,
8 heads, 2 KV heads, FFN 704, seq_length 128, vocab 2171) and ``small`` (hidden 512, 8 layers, FFN
1408). 16 prompts of random ids with the math test set's lengths (22..53 tokens), 24 new tokens
each with eos suppressed (``min_new_tokens`` = ``max_new_tokens``), so every round decodes the same
number of tokens. A warm-up round compiles the graphs; the timed rounds do not compile.

- ``test_predict``: ``greedy_generate`` as predict runs it, batch 4 (the entry's) and 1; beside it
  in the same test, the calibration kernel (the model's matmuls for the same decoding steps, in
  numpy), whose time the gate divides by (``tests/benchmarks/gate.py``).
- ``test_predict_plain``: the plain path (full forward per token, prompts in input order) on the
  tiny model at batch 4, the speed-up's reference in the same run.
- ``test_transformers_generate``: the same weights exported with ``mathlora.model.export_hf``,
  the same prompts and batches through transformers ``generate`` (KV cache, greedy, left padding);
  ``extra_info`` holds its time over ours (``ratio_vs_project``; > 1: ours is faster).
- ``test_matmul_peak``: float32 matmul FLOP/s of torch and numpy here; with the model's FLOPs per
  token it gives the floor, the time the tokens would take at peak matmul speed.

``extra_info``: per-prompt latency (s), generated tokens/s, sizes. Runs only with ``--benchmark-only``
(``make bench``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("LOG_MF_PATH", "/tmp/mathlora-bench-mf-logs")

CONFIG = Path(__file__).resolve().parents[2] / "config" / "config.yaml"
SEED = 20240705
NEW_TOKENS = 24
PROMPTS = 16
LENGTHS = [22, 53, 31, 40, 27, 47, 35, 25, 50, 38, 29, 44, 33, 23, 52, 36]  # like the math test set
SIZES = {
    "tiny": {"hidden_size": 256, "num_layers": 4, "num_heads": 8, "n_kv_heads": 2,
             "intermediate_size": 704, "seq_length": 128},
    "small": {"hidden_size": 512, "num_layers": 8, "num_heads": 8, "n_kv_heads": 2,
              "intermediate_size": 1408, "seq_length": 128},
}
RANKS = 1915  # + 256 specials = vocab 2171, the default model's
_BUILT: dict = {}


@pytest.fixture(scope="module")
def work(request, tmp_path_factory):
    if not request.config.getoption("benchmark_only", default=False):
        pytest.skip("a benchmark: run with --benchmark-only")
    return tmp_path_factory.mktemp("predict_bench")


def _tokenizer(work):
    from mathlora.tokenizer.llama3 import format_ranks

    # Any RANKS distinct byte strings will do: prompts are random ids and the text is never read.
    path = work / "tokenizer.model"
    if not path.exists():
        ranks = {bytes([i]): i for i in range(256)}
        for i in range(256, RANKS):
            ranks[f"<t{i}>".encode()] = i
        path.write_text(format_ranks(ranks), encoding="utf-8")
    return path


def _model_files(work, size):
    """Rendered yaml and random weights (seeded) of one size."""
    import mindspore as ms

    from mathlora.model import network, render
    from mathlora.tokenizer.llama3 import read_vocab

    if size in _BUILT:
        return _BUILT[size]
    tokenizer = _tokenizer(work)
    settings = render.load_settings(CONFIG, None)
    settings["model"].update(SIZES[size])
    values = render.render_values(settings, mode="finetune", vocab=read_vocab(tokenizer),
                                  tokenizer=tokenizer, rows=320, dataset="", load_checkpoint="",
                                  output_dir=str(work / "output"), config_name=f"bench-{size}")
    yaml_path = work / f"{size}.yaml"
    yaml_path.write_text(render.render(values), encoding="utf-8")
    network.set_context("cpu")
    ms.set_seed(SEED)
    net = network.build_causal_lm(network.llama_config(yaml_path))
    checkpoint = work / f"{size}.ckpt"
    ms.save_checkpoint(net, str(checkpoint))
    _BUILT[size] = (yaml_path, checkpoint, tokenizer)
    return _BUILT[size]


def _prompts(bos: int):
    rng = np.random.default_rng(SEED)
    return [[bos, *rng.integers(0, RANKS, n - 1).tolist()] for n in LENGTHS[:PROMPTS]]


def _ids(work, size, batch):
    """Loaded network, prompts and special ids for one size and batch."""
    from mathlora.model import network

    yaml_path, checkpoint, _ = _model_files(work, size)
    net = network.load_causal_lm(yaml_path, checkpoint, batch_size=batch)
    bos, eos, pad = RANKS, RANKS + 1, RANKS + 2
    return net, _prompts(bos), eos, pad


def _record(benchmark, *, size, batch, tokens, prompts, **extra):
    mean = benchmark.stats.stats.mean
    benchmark.extra_info.update({
        "model": size, **SIZES[size], "batch_size": batch, "prompts": prompts,
        "new_tokens_per_prompt": NEW_TOKENS, "generated_tokens": tokens,
        "per_prompt_latency_s": round(mean / prompts, 5),
        "tokens_per_s": round(tokens / mean, 2), **extra})


def _run_project(net, prompts, eos, pad, batch, **options):
    from mathlora.model.generate import greedy_generate

    return greedy_generate(net, prompts, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,
                           eos_id=eos, pad_id=pad, batch_size=batch, progress=False, **options)


ROUNDS = {"tiny": 15, "small": 8}
CALIBRATION_ROUNDS = 7


def calibration_seconds(size: str, batch: int) -> float:
    """Median time of the model's matmuls for this run's decoding steps (numpy, float32).

    Per step, ``batch`` rows through every Linear of every layer and the lm_head, for
    ``NEW_TOKENS`` steps of each batch: the memory-bound small matmuls decoding is made of, on this
    machine, with nothing of the project's code.
    """
    settings = SIZES[size]
    h, f = settings["hidden_size"], settings["intermediate_size"]
    kv = h // settings["num_heads"] * settings["n_kv_heads"]
    rng = np.random.default_rng(SEED)
    layer = [rng.standard_normal(shape, dtype=np.float32)
             for shape in ((h, h), (h, kv), (h, kv), (h, h), (h, f), (h, f), (f, h))]
    head = rng.standard_normal((h, RANKS + 256), dtype=np.float32)
    x = rng.standard_normal((batch, h), dtype=np.float32)
    steps = NEW_TOKENS * -(-PROMPTS // batch)
    times = []
    for _ in range(CALIBRATION_ROUNDS):
        started = time.perf_counter()
        for _ in range(steps):
            for _ in range(settings["num_layers"]):
                q, k, v, o = x @ layer[0], x @ layer[1], x @ layer[2], x @ layer[3]
                gate, up = x @ layer[4], x @ layer[5]
                down = (gate * up) @ layer[6]
            logits = (o + down) @ head
        times.append(time.perf_counter() - started)
    del q, k, v, logits
    return float(np.median(times))


@pytest.mark.parametrize("batch", [4, 1])
@pytest.mark.parametrize("size", ["tiny", "small"])
def test_predict(benchmark, work, size, batch):
    net, prompts, eos, pad = _ids(work, size, batch)
    # The gate divides the median by the calibration kernel's: enough rounds that one stalled round
    # on a shared 2-core machine does not move it.
    out = benchmark.pedantic(_run_project, args=(net, prompts, eos, pad, batch),
                             rounds=ROUNDS[size], warmup_rounds=1, iterations=1)
    assert [len(row) for row in out] == [NEW_TOKENS] * len(prompts)
    _record(benchmark, size=size, batch=batch, tokens=NEW_TOKENS * len(prompts), prompts=len(prompts),
            calibration_s=round(calibration_seconds(size, batch), 6))


def test_predict_plain(benchmark, work):
    net, prompts, eos, pad = _ids(work, "tiny", 4)
    out = benchmark.pedantic(_run_project, args=(net, prompts, eos, pad, 4),
                             kwargs={"method": "full", "sort_by_length": False},
                             rounds=3, warmup_rounds=1, iterations=1)
    assert out == _run_project(net, prompts, eos, pad, 4)  # the fast path decodes the same tokens
    _record(benchmark, size="tiny", batch=4, tokens=NEW_TOKENS * len(prompts), prompts=len(prompts),
            method="full forward per token, input order")


def _hf_generate(model, batches, eos, pad):
    import torch

    out = []
    with torch.inference_mode():
        for batch in batches:
            width = max(len(p) for p in batch)
            ids = torch.tensor([[pad] * (width - len(p)) + p for p in batch])
            mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in batch])
            gen = model.generate(input_ids=ids, attention_mask=mask, do_sample=False, num_beams=1,
                                 use_cache=True, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,
                                 eos_token_id=eos, pad_token_id=pad)
            out.extend(row[width:].tolist() for row in gen)
    return out


def model_flops_per_token(settings: dict, vocab: int, context: float) -> float:
    """Multiply-adds x 2 of one token: every Linear (lm_head included) and the attention over
    ``context`` earlier positions (scores and weighted values)."""
    h, f, layers = settings["hidden_size"], settings["intermediate_size"], settings["num_layers"]
    kv = h // settings["num_heads"] * settings["n_kv_heads"]
    per_layer = h * h * 2 + h * kv * 2 + 3 * h * f
    return 2.0 * (layers * per_layer + h * vocab) + 4.0 * layers * h * context


@pytest.mark.parametrize("size", ["tiny", "small"])
def test_transformers_generate(benchmark, work, size):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    import torch
    from transformers import LlamaForCausalLM

    from mathlora.model import export_hf

    batch = 4
    yaml_path, checkpoint, tokenizer = _model_files(work, size)
    out_dir = work / f"hf-{size}"
    if not out_dir.exists():
        export_hf.export(checkpoint, yaml_path, tokenizer, out_dir)
    model = LlamaForCausalLM.from_pretrained(out_dir, torch_dtype=torch.float32).eval()
    net, prompts, eos, pad = _ids(work, size, batch)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))  # as greedy_generate batches
    batches = [[prompts[i] for i in order[b:b + batch]] for b in range(0, len(order), batch)]

    ours = []
    _run_project(net, prompts, eos, pad, batch)  # compile outside the timing
    for _ in range(5):
        started = time.perf_counter()
        mine = _run_project(net, prompts, eos, pad, batch)
        ours.append(time.perf_counter() - started)
    theirs = benchmark.pedantic(_hf_generate, args=(model, batches, eos, pad), rounds=5,
                                warmup_rounds=1, iterations=1)
    same = sum(theirs[k] == mine[i] for k, i in enumerate(order))
    hf_mean = benchmark.stats.stats.mean
    tokens = NEW_TOKENS * len(prompts)
    _record(benchmark, size=size, batch=batch, tokens=tokens, prompts=len(prompts),
            framework=f"transformers (torch {torch.__version__}, {torch.get_num_threads()} threads)",
            project_mean_s=round(float(np.mean(ours)), 4),
            project_median_s=round(float(np.median(ours)), 4),
            ratio_vs_project=round(hf_mean / float(np.mean(ours)), 3),
            identical_continuations=f"{same}/{len(prompts)}")


@pytest.mark.parametrize("library", ["torch", "numpy"])
def test_matmul_peak(benchmark, work, library):
    """float32 1024x1024 matmul: the machine's practical peak, and the FLOP floor of each model."""
    n = 1024
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    if library == "torch":
        torch = pytest.importorskip("torch")
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        run = lambda: torch.matmul(ta, tb)  # noqa: E731
    else:
        run = lambda: a @ b  # noqa: E731
    benchmark.pedantic(run, rounds=20, warmup_rounds=2, iterations=1)
    peak = 2.0 * n ** 3 / benchmark.stats.stats.min
    benchmark.extra_info["gflops_peak"] = round(peak / 1e9, 2)
    prompt_tokens, new_tokens = sum(LENGTHS[:PROMPTS]), NEW_TOKENS * PROMPTS
    context = float(np.mean(LENGTHS[:PROMPTS])) + NEW_TOKENS / 2
    for size, settings in SIZES.items():
        flops = model_flops_per_token(settings, RANKS + 256, context) * (prompt_tokens + new_tokens)
        benchmark.extra_info[f"{size}_gflop_per_run"] = round(flops / 1e9, 3)
        benchmark.extra_info[f"{size}_floor_s"] = round(flops / peak, 5)
        benchmark.extra_info[f"{size}_floor_tokens_per_s"] = round(new_tokens / (flops / peak), 1)
