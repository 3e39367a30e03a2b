"""Greedy decoding gives exactly the tokens of a plain one-token-at-a-time loop.

The reference is the simplest decoder there is: one prompt at a time, a static network at its full
sequence length, a full forward pass per token and the argmax at the last real position. The code
under test batches prompts of different lengths and handles eos / min_new_tokens per row, in both
of its methods: ``full`` (a forward pass per token over buffers cut to length buckets on a dynamic
network) and ``cache`` (the KV cache; what ``auto`` picks on CPU). Neither may change a single token.
"""

from __future__ import annotations

import pytest
from _model_helpers import RANKS, plain_greedy, render_tiny, save_random_base

SEQ = 64          # model length: prompt + 10 new tokens fit a 32-token bucket, so buffers are cut
NEW = 10
PAD = RANKS + 2
PROMPTS = [[RANKS, 5, 17, 42], [RANKS, 9], [RANKS, *range(100, 113)], [RANKS, 7, 7, 7, 7, 7, 7],
           [RANKS, 250, 3]]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from mathlora.model import network

    tmp = tmp_path_factory.mktemp("generate")
    paths = render_tiny(tmp)
    base = save_random_base(paths["yaml"], tmp / "base.ckpt", seed=3)
    batched = network.load_causal_lm(paths["yaml"], base, batch_size=2, seq_length=SEQ)
    static = network.build_causal_lm(network.llama_config(paths["yaml"], batch_size=1, seq_length=SEQ))
    network.check_and_load(static, network.read_checkpoint(base), base)
    static.set_train(False)
    assert batched.config.is_dynamic and not static.config.is_dynamic
    return batched, static


def plain_loop(net, prompts, *, steps, eos_id, min_new_tokens=0):
    return plain_greedy(net, prompts, seq_length=SEQ, pad_id=PAD, steps=steps, eos_id=eos_id,
                        min_new_tokens=min_new_tokens)


def generate(net, prompts, **kw):
    from mathlora.model.generate import greedy_generate

    kw.setdefault("min_new_tokens", 0)
    return greedy_generate(net, prompts, max_new_tokens=NEW, pad_id=PAD, batch_size=2, progress=False, **kw)


METHODS = pytest.mark.parametrize("method", ["cache", "full"])


@pytest.fixture(scope="module")
def free_run(models):
    """Continuations with an eos that never occurs (-> every row runs NEW tokens)."""
    return plain_loop(models[1], PROMPTS, steps=NEW, eos_id=None)


@METHODS
def test_batched_equals_plain_loop_without_eos(models, free_run, method):
    got = generate(models[0], PROMPTS, eos_id=RANKS + 255, method=method)  # a special the random model never picks
    assert all(len(row) == NEW for row in free_run)
    assert got == free_run
    assert len({tuple(row) for row in got}) > 1  # the prompts really lead to different text


@METHODS
def test_eos_cuts_its_row_only(models, free_run, method):
    eos = free_run[2][3]  # the 4th token of prompt 2 becomes "eos"
    expected = plain_loop(models[1], PROMPTS, steps=NEW, eos_id=eos)
    got = generate(models[0], PROMPTS, eos_id=eos, method=method)
    assert got == expected
    assert len(got[2]) <= 3 and eos not in got[2]
    assert all(eos not in row for row in got)
    assert any(len(row) == NEW for row in got)  # other rows are not stopped by row 2's eos


@METHODS
def test_min_new_tokens_suppresses_early_eos(models, free_run, method):
    eos = free_run[0][0]  # prompt 0 would stop at once
    assert generate(models[0], PROMPTS[:1], eos_id=eos, method=method) == [[]]
    expected = plain_loop(models[1], PROMPTS, steps=NEW, eos_id=eos, min_new_tokens=2)
    got = generate(models[0], PROMPTS, eos_id=eos, min_new_tokens=2, method=method)
    assert got == expected
    assert len(got[0]) >= 2 and got[0][0] != eos


def test_deterministic_and_order_independent_of_batching(models, free_run):
    from mathlora.model.generate import greedy_generate

    eos = RANKS + 255
    first = generate(models[0], PROMPTS, eos_id=eos)
    assert generate(models[0], PROMPTS, eos_id=eos) == first
    # Reversed input order gives the reversed output: rows do not leak into each other.
    assert generate(models[0], PROMPTS[::-1], eos_id=eos) == first[::-1]
    with pytest.raises(ValueError, match="empty prompt"):
        greedy_generate(models[0], [[]], max_new_tokens=1, min_new_tokens=0, eos_id=eos, pad_id=PAD, batch_size=2,
                        progress=False)


@pytest.mark.parametrize("eos_offset, min_new", [(255, 0), (None, 0), (None, 2)])
def test_ascend_library_method_equals_the_plain_loop(models, free_run, eos_offset, min_new):
    """MindFormers' own generate (what decodes a use_past network on Ascend), run here without the
    cache: the same tokens as the plain loop, eos and min_new_tokens handled per row."""
    eos = RANKS + eos_offset if eos_offset is not None else free_run[0][1]
    got = generate(models[0], PROMPTS, eos_id=eos, method="library", min_new_tokens=min_new)
    want = plain_loop(models[1], PROMPTS, steps=NEW, eos_id=eos, min_new_tokens=min_new)
    assert got == want


def test_ascend_full_method_copies_only_the_last_logits_to_the_host(models, monkeypatch):
    """Host-bound bytes per generated token of the ``full`` decoder: one row of logits per batch
    row (batch x vocab x 4 bytes), not the whole buffer's (batch x width x vocab x 4)."""
    import mindspore as ms

    copied = []
    original = ms.Tensor.asnumpy

    def counting(self):
        array = original(self)
        copied.append(array.nbytes)
        return array

    monkeypatch.setattr(ms.Tensor, "asnumpy", counting)
    got = generate(models[0], PROMPTS[:2], eos_id=RANKS + 255, method="full")
    steps = max(len(c) for c in got)
    vocab = int(models[0].config.vocab_size)
    per_step = sum(copied) / steps
    assert per_step <= 2 * vocab * 4 * 1.01, per_step  # batch 2 rows of fp32 logits


def test_ascend_predict_network_keeps_use_past_and_decodes_through_the_library():
    """The Ascend predict yaml's use_past reaches the network there (not on CPU, no kernels), and
    such a network is decoded by MindFormers' generate, never by a full pass per token."""
    from pathlib import Path
    from types import SimpleNamespace

    import yaml

    from mathlora.model import generate as decoding
    from mathlora.model import network

    shipped = Path(__file__).resolve().parents[2] / "submission" / "predict_llama3_8b_lora.yaml"
    model_config = yaml.safe_load(shipped.read_text())["model"]["model_config"]
    assert network.llama_options(model_config, "ascend")[0]["use_past"] is True
    assert network.llama_options(model_config, "cpu")[0]["use_past"] is False
    cached = SimpleNamespace(config=SimpleNamespace(use_past=True, seq_length=16))
    assert decoding.library_applies(cached)
    for method in ("full", "cache"):
        with pytest.raises(ValueError, match="use_past"):
            decoding.greedy_generate(cached, [[1, 2]], max_new_tokens=2, min_new_tokens=0, eos_id=0, pad_id=0,
                                     batch_size=1, progress=False, method=method)


def reference_margins(net, prompts, *, steps):
    """Per prompt, the smallest gap between the top two logits over its plain-loop decisions."""
    import mindspore as ms
    import numpy as np

    gaps = []
    for prompt, continuation in zip(prompts, plain_loop(net, prompts, steps=steps, eos_id=None)):
        seq, smallest = list(prompt), float("inf")
        for token in continuation:
            buffer = np.full((1, SEQ), PAD, np.int32)
            buffer[0, :len(seq)] = seq
            logits = net(ms.Tensor(buffer))
            last = (logits[0] if isinstance(logits, tuple) else logits).asnumpy().reshape(SEQ, -1)[len(seq) - 1]
            second, first = np.sort(last)[-2:]
            smallest = min(smallest, float(first - second))
            seq.append(token)
        gaps.append(smallest)
    return gaps


@METHODS
def test_each_prompts_closest_decision_is_traced(models, free_run, method):
    """The margins say how near a text came to another: the plain loop's own top-two gaps."""
    from mathlora.model.generate import greedy

    out = greedy(models[0], PROMPTS, max_new_tokens=NEW, min_new_tokens=0, eos_id=RANKS + 255, pad_id=PAD,
                 batch_size=2, progress=False, method=method)
    assert out.ids == free_run
    assert out.margins == pytest.approx(reference_margins(models[1], PROMPTS, steps=NEW), abs=1e-4)
    assert all(0 < m < float("inf") for m in out.margins)
