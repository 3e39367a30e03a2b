"""The KV-cached forward pass gives the full network's logits, and greedy tokens do not change.

Reference: the plainest decoder there is, one prompt at a time through a static network at its full
sequence length, a full forward pass and an argmax per token. Prompts here are longer than one
prefill chunk (several chunks per batch), of mixed lengths, in a batch that is not full, and one holds
the pad token in its middle (the full network hides pad keys; the cache must too).
"""

from __future__ import annotations

import numpy as np
import pytest
from _model_helpers import RANKS, plain_greedy, render_tiny, save_random_base

SEQ = 64
NEW = 8
PAD = RANKS + 2
NEVER = RANKS + 255  # a special token the random model never picks: every row runs NEW tokens
PROMPTS = [[RANKS, *range(10, 50)],                  # 41 tokens: three prefill chunks
           [RANKS, 9],
           [RANKS, *range(100, 117)],                # 18: just past one chunk
           [RANKS, 7, PAD, 7, 7, 7],                 # pad inside the prompt
           [RANKS, 250, 3, *range(60, 90)],
           [RANKS],
           [RANKS, *range(200, 216)]]                # 17


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from mathlora.model import network

    tmp = tmp_path_factory.mktemp("kvcache")
    paths = render_tiny(tmp, model__seq_length=SEQ)
    base = save_random_base(paths["yaml"], tmp / "base.ckpt", seed=11)
    dynamic = network.load_causal_lm(paths["yaml"], base, batch_size=3)
    static = network.build_causal_lm(network.llama_config(paths["yaml"], batch_size=1))
    network.check_and_load(static, network.read_checkpoint(base), base)
    static.set_train(False)
    return dynamic, static


def full_logits(net, buffer):
    import mindspore as ms

    out = net(ms.Tensor(buffer))
    return (out[0] if isinstance(out, tuple) else out).asnumpy().reshape(buffer.shape[0], SEQ, -1)


def plain_loop(net, prompts, *, steps, eos_id, min_new_tokens=0):
    return plain_greedy(net, prompts, seq_length=SEQ, pad_id=PAD, steps=steps, eos_id=eos_id,
                        min_new_tokens=min_new_tokens)


@pytest.fixture(scope="module")
def reference(models):
    return plain_loop(models[1], PROMPTS, steps=NEW, eos_id=NEVER)


def test_cached_logits_match_the_full_pass(models):
    """Prefill in chunks, then one token per step: logits equal the full pass at every position."""
    from mathlora.model.generate import _Cached

    dynamic, static = models
    rng = np.random.default_rng(5)
    rows = [PROMPTS[0], PROMPTS[3], PROMPTS[2]]
    buffer = np.full((3, SEQ), PAD, np.int32)
    for r, prompt in enumerate(rows):
        buffer[r, :len(prompt)] = prompt
        buffer[r, len(prompt):len(prompt) + 6] = rng.integers(0, RANKS, 6)
    buffer[1, len(rows[1]) + 2] = PAD  # a "generated" pad token: hidden from later positions too
    expected = np.stack([full_logits(static, buffer[r:r + 1])[0] for r in range(3)])
    stepper = _Cached(dynamic, 3)
    cursor = np.array([len(p) for p in rows])
    got = stepper.start(buffer, cursor)
    worst = np.abs(got - expected[np.arange(3), cursor - 1]).max()
    for _ in range(6):
        cursor = cursor + 1
        got = stepper.advance(buffer, cursor)
        worst = max(worst, np.abs(got - expected[np.arange(3), cursor - 1]).max())
    scale = np.abs(expected).max()
    assert worst <= 1e-5 * scale, (worst, scale)


@pytest.mark.parametrize("method", ["cache", "full"])
@pytest.mark.parametrize("sort_by_length", [True, False])
def test_greedy_tokens_equal_the_plain_loop(models, reference, method, sort_by_length):
    from mathlora.model.generate import greedy_generate

    got = greedy_generate(models[0], PROMPTS, max_new_tokens=NEW, min_new_tokens=0, eos_id=NEVER, pad_id=PAD,
                          batch_size=3, progress=False, method=method, sort_by_length=sort_by_length)
    assert all(len(row) == NEW for row in reference)
    assert got == reference
    assert len({tuple(row) for row in got}) > 3


def test_eos_and_min_new_tokens_match_the_plain_loop(models, reference):
    from mathlora.model.generate import greedy_generate

    eos = reference[4][2]  # prompt 4 stops before its third token
    expected = plain_loop(models[1], PROMPTS, steps=NEW, eos_id=eos, min_new_tokens=1)
    got = greedy_generate(models[0], PROMPTS, max_new_tokens=NEW, min_new_tokens=1, eos_id=eos,
                          pad_id=PAD, batch_size=3, progress=False, method="cache")
    assert got == expected
    assert len(got[4]) == 2 and any(len(row) == NEW for row in got)


def test_a_row_stops_when_the_sequence_is_full(models):
    from mathlora.model.generate import greedy_generate

    long = [RANKS, *range(1, SEQ - 3)]  # 61 tokens: room for 3 more
    expected = plain_loop(models[1], [long], steps=NEW, eos_id=NEVER)
    for method in ("cache", "full"):
        got = greedy_generate(models[0], [long, PROMPTS[1]], max_new_tokens=NEW, min_new_tokens=0, eos_id=NEVER,
                              pad_id=PAD, batch_size=3, progress=False, method=method)
        assert got[0] == expected[0] and len(got[0]) == 3
        assert len(got[1]) == NEW  # the short row of the same batch goes on


def test_attention_mask_hides_later_and_pad_keys():
    from mathlora.model.kvcache import MASK_VALUE, attention_mask, cache_slots

    tokens = np.array([[5, 6, PAD, 8, PAD, PAD]])
    mask = attention_mask(tokens, np.array([[1, 3]]), PAD)
    assert mask.shape == (1, 1, 2, 6)
    assert (mask[0, 0, 0] == [0, 0, MASK_VALUE, MASK_VALUE, MASK_VALUE, MASK_VALUE]).all()
    assert (mask[0, 0, 1] == [0, 0, MASK_VALUE, 0, MASK_VALUE, MASK_VALUE]).all()
    slots = cache_slots(np.array([2, 5]), 2, n_kv_head=2, width=6)
    assert slots.shape == (2, 2, 2, 3)
    assert slots[1, 1].tolist() == [[1, 1, 5], [1, 1, 5]]  # past the end: clipped to the last column
    assert slots[0, 0].tolist() == [[0, 0, 2], [0, 0, 3]]
