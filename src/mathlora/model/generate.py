"""Greedy batched decoding with a MindFormers LlamaForCausalLM, with a KV cache on every device.

Three ways to get the next token of every row, same tokens (tests/unit/test_kvcache.py,
tests/unit/test_generate.py; speed-ups in docs/performance.md):

- ``library`` (the default where the network was built with ``use_past``, i.e. on Ascend):
  MindFormers' own ``generate``, whose KV cache runs on the paged-attention kernels as in the
  organisers' evaluation yamls; only the last position's logits of each row leave the device.
- ``cache`` (the default on CPU): ``mathlora.model.kvcache.CachedLlama`` runs the
  network's own layers on the new tokens only, keys and values of earlier positions kept in a
  cache. The prompts are read in chunks of ``PREFILL_CHUNK`` positions, then each step feeds one
  token per row. Two compiled graphs per batch size (chunk and single token), whatever the lengths.
- ``full``: the whole right-padded buffer through the network every step (causal attention
  makes the padding after a row's last token irrelevant); a network built with ``is_dynamic``
  takes the buffer cut to a length bucket (one compiled graph per bucket), a static one needs its
  full ``seq_length``. Used where neither cache applies (flash attention or fused qkv without
  ``use_past``). Only the logits at each row's last position are copied to the host (a gather on
  the device): batch x vocab values per step, not batch x buffer x vocab.

Prompts are sorted by length before batching (rows of a batch then need about the same number of
prefill chunks and decoding steps) and the results are put back in input order. The argmax is taken
in numpy (``ArgMaxExt`` has no CPU kernel); ties go to the lowest id, as in the plain loop.

``greedy`` also traces how close each prompt's decisions were: the smallest gap between the chosen
token's logit and the runner-up's over its steps. A decision closer than the float32 rounding of
another CPU's kernels can go the other way there, so the gap says which texts can differ between
machines (docs/performance.md, "The same numbers on another machine").
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numpy as np

BUCKET = 32          # ``full``: buffer lengths are rounded up to a multiple of this
PREFILL_CHUNK = 16   # ``cache``: prompt positions read per call
_CACHED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # network -> {batch: CachedLlama}


def _bucket(length: int, limit: int) -> int:
    return min(limit, -(-length // BUCKET) * BUCKET)


def library_applies(model) -> bool:
    """Whether ``auto`` uses MindFormers' ``generate``: the network was built with its KV cache."""
    return bool(getattr(model.config, "use_past", False))


def cache_applies(model) -> bool:
    """Whether ``auto`` uses ``CachedLlama``: on CPU (measured there; Ascend has MindFormers' own
    cache), for a network with separate wq/wk/wv and no flash attention."""
    import mindspore as ms

    config = model.config
    if str(ms.get_context("device_target")).upper() != "CPU":
        return False
    return not (getattr(config, "use_flash_attention", False) or getattr(config, "qkv_concat", False)
                or getattr(config, "use_past", False))


class _Full:
    """Next-token logits from a full forward pass over the (bucketed) buffer."""

    def __init__(self, model, width: int):
        self.model, self.width = model, width

    def logits(self, buffer: np.ndarray, cursor: np.ndarray) -> np.ndarray:
        import mindspore as ms
        from mindspore import ops

        out = self.model(ms.Tensor(buffer))
        out = out[0] if isinstance(out, tuple) else out
        rows = buffer.shape[0]
        # Pick each row's last position on the device: only rows x vocab values are copied.
        flat = out.reshape(rows * self.width, -1)
        last = ms.Tensor((np.arange(rows) * self.width + cursor - 1).astype(np.int32))
        return ops.gather(flat, last, 0).asnumpy()

    start = advance = logits


class _Cached:
    """Next-token logits from the cached network: prompts in chunks, then one token per step."""

    def __init__(self, model, batch_size: int):
        from mathlora.model import kvcache

        per_model = _CACHED.setdefault(model, {})
        if batch_size not in per_model:
            per_model[batch_size] = kvcache.cached_model(model, batch_size)
        self.cell, self.kv = per_model[batch_size], kvcache
        # The full network hides keys whose token is its config's pad id, whatever fills the buffer.
        self.pad_id = int(model.config.pad_token_id)
        self.width = self.cell.width

    def _call(self, buffer: np.ndarray, start: np.ndarray, chunk: int, last: np.ndarray) -> np.ndarray:
        import mindspore as ms

        rows = buffer.shape[0]
        positions = np.minimum(start[:, None] + np.arange(chunk)[None, :], self.width - 1)
        tokens = buffer[np.arange(rows)[:, None], positions].astype(np.int32)
        slots = self.kv.cache_slots(start, chunk, self.cell.n_kv_head, self.width)
        mask = self.kv.attention_mask(buffer, positions, self.pad_id)
        out = self.cell(ms.Tensor(tokens), ms.Tensor(positions.astype(np.int32)), ms.Tensor(slots),
                        ms.Tensor(mask), ms.Tensor(last.astype(np.int32)))
        return out.asnumpy()

    def start(self, buffer: np.ndarray, cursor: np.ndarray) -> np.ndarray:
        rows = buffer.shape[0]
        found = np.zeros((rows, 0), np.float32)
        for begin in range(0, int(cursor.max()), PREFILL_CHUNK):
            here = np.full(rows, begin)
            last = np.clip(cursor - 1 - begin, 0, PREFILL_CHUNK - 1)
            out = self._call(buffer, here, PREFILL_CHUNK, last)
            if found.shape[1] == 0:
                found = np.zeros_like(out)
            inside = (cursor - 1 >= begin) & (cursor - 1 < begin + PREFILL_CHUNK)
            found[inside] = out[inside]
        return found

    def advance(self, buffer: np.ndarray, cursor: np.ndarray) -> np.ndarray:
        position = np.minimum(cursor - 1, self.width - 1)
        return self._call(buffer, position, 1, np.zeros(buffer.shape[0], np.int32))


@dataclass(frozen=True)
class Greedy:
    """Greedy continuations and how narrowly each was decided."""

    ids: list[list[int]]  # per prompt: continuation ids (prompt excluded, cut at eos, eos excluded)
    margins: list[float]  # per prompt: smallest top-1 minus top-2 logit of its steps (nan: not traced)


def greedy_generate(model, prompts: list[list[int]], **options) -> list[list[int]]:
    """Greedy continuation ids per prompt (prompt excluded, cut at eos, eos excluded), in order;
    the options are :func:`greedy`'s."""
    return greedy(model, prompts, **options).ids


def greedy(model, prompts: list[list[int]], *, max_new_tokens: int, min_new_tokens: int,
           eos_id: int, pad_id: int, batch_size: int, progress: bool = True,
           method: str = "auto", sort_by_length: bool = True) -> Greedy:
    """Greedy continuations per prompt, in order, with the margin of their closest decision.

    ``method``: ``auto`` (``library`` where ``library_applies``, ``cache`` where ``cache_applies``,
    else ``full``), ``library``, ``cache`` or ``full``; ``sort_by_length`` batches prompts of similar
    lengths together. Both change only the speed.
    A row stops at eos, after ``max_new_tokens``, or when prompt + continuation fill ``seq_length``.
    """
    from tqdm import tqdm

    if method not in ("auto", "library", "cache", "full"):
        raise ValueError(f"method {method!r}: expected auto, library, cache or full")
    if any(len(p) < 1 for p in prompts):
        raise ValueError("empty prompt: expected at least one token (bos)")
    limit = int(model.config.seq_length)
    if prompts and max(len(p) for p in prompts) >= limit:
        raise ValueError(f"prompt of {max(len(p) for p in prompts)} tokens leaves no room in "
                         f"seq_length {limit}")
    library = method == "library" or (method == "auto" and library_applies(model))
    if library_applies(model) and not library:
        raise ValueError(f"method {method!r}: a network built with use_past decodes only through "
                         "MindFormers' generate (method library)")
    cached = not library and (method == "cache" or (method == "auto" and cache_applies(model)))
    dynamic = bool(getattr(model.config, "is_dynamic", False))
    order = list(range(len(prompts)))
    if sort_by_length:
        order.sort(key=lambda i: len(prompts[i]))
    results: list[list[int]] = [[] for _ in prompts]
    margins = [math.nan] * len(prompts)  # MindFormers' own generate shows no logits
    bar = tqdm(total=len(prompts), desc="generate", unit="prompt", disable=not progress)
    for begin in range(0, len(order), batch_size):
        rows = order[begin:begin + batch_size]
        lengths = [len(prompts[i]) for i in rows]
        if library:
            found = _library_batch(model, [prompts[i] for i in rows], batch_size=batch_size,
                                   max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens,
                                   eos_id=eos_id, pad_id=pad_id)
            for slot, continuation in enumerate(found):
                results[rows[slot]] = continuation
            bar.update(len(rows))
            continue
        if cached:
            stepper = _Cached(model, batch_size)
        else:
            stepper = _Full(model, _bucket(max(lengths) + max_new_tokens, limit) if dynamic else limit)
        found, closest = _decode_batch(stepper, [prompts[i] for i in rows], batch_size=batch_size,
                                       max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens,
                                       eos_id=eos_id, pad_id=pad_id)
        for slot, (continuation, margin) in enumerate(zip(found, closest)):
            results[rows[slot]], margins[rows[slot]] = continuation, margin
        bar.update(len(rows))
    bar.close()
    return Greedy(results, margins)


def _host_argmax(tensor, dim=-1, keepdim=False):
    """``mint.argmax`` on the host (CPU only): ties to the lowest id, int64 ids as on the device."""
    import mindspore as ms

    ids = tensor.asnumpy().argmax(axis=dim)
    return ms.Tensor((np.expand_dims(ids, dim) if keepdim else ids).astype(np.int64))


def _library_batch(model, prompts: list[list[int]], *, batch_size: int, max_new_tokens: int,
                   min_new_tokens: int, eos_id: int, pad_id: int) -> list[list[int]]:
    """One fixed-shape batch through MindFormers' ``generate`` (greedy), continuations cut at eos.

    Rows are right-padded with ``pad_id`` to one length (``generate`` reads each row's length as
    its last non-pad position); spare rows repeat the first prompt and are dropped.
    """
    width = max(len(p) for p in prompts)
    rows = [list(p) + [pad_id] * (width - len(p)) for p in prompts]
    rows += [rows[0]] * (batch_size - len(rows))
    limit = int(model.config.seq_length)
    # A row stops when prompt + continuation fill seq_length, as in the other methods.
    new_tokens = max(0, min(max_new_tokens, limit - max(len(p) for p in prompts)))
    if new_tokens == 0:
        return [[] for _ in prompts]
    import mindspore as ms

    if str(ms.get_context("device_target")).upper() == "CPU":
        # generate's greedy step takes mint.argmax, whose ArgMaxExt kernel exists only on Ascend
        model.argmax = _host_argmax
    output = model.generate(rows, max_new_tokens=new_tokens, min_new_tokens=min_new_tokens or None,
                            do_sample=False, eos_token_id=[eos_id], pad_token_id=pad_id)
    out = []
    for prompt, ids in zip(prompts, output):
        continuation = [int(t) for t in list(ids)[len(prompt):]]
        if eos_id in continuation:
            continuation = continuation[:continuation.index(eos_id)]
        out.append(continuation)
    return out


def _decode_batch(stepper, prompts: list[list[int]], *, batch_size: int, max_new_tokens: int,
                  min_new_tokens: int, eos_id: int, pad_id: int) -> tuple[list[list[int]], list[float]]:
    """Greedy decoding of up to ``batch_size`` prompts in one fixed-shape batch (spare rows idle):
    each prompt's continuation and the smallest margin of its decisions (inf: none made)."""
    width = stepper.width
    buffer = np.full((batch_size, width), pad_id, dtype=np.int32)
    for slot, prompt in enumerate(prompts):
        buffer[slot, :len(prompt)] = prompt
    cursor = np.array([len(p) for p in prompts] + [1] * (batch_size - len(prompts)))
    done = np.zeros(batch_size, dtype=bool)
    done[len(prompts):] = True
    out: list[list[int]] = [[] for _ in prompts]
    closest = np.full(batch_size, np.inf)
    if max_new_tokens <= 0:
        return out, closest[:len(prompts)].tolist()
    logits = stepper.start(buffer, cursor)
    for step in range(max_new_tokens):
        if step < min_new_tokens:
            logits = logits.copy()
            logits[:, eos_id] = -np.inf
        chosen = logits.argmax(axis=-1)
        runner_up, best = np.partition(logits, -2, axis=-1)[:, -2:].T
        closest = np.where(done, closest, np.minimum(closest, best - runner_up))
        for slot in range(len(prompts)):
            if done[slot]:
                continue
            token = int(chosen[slot])
            if token == eos_id:
                done[slot] = True
                continue
            out[slot].append(token)
            buffer[slot, cursor[slot]] = token
            cursor[slot] += 1
            if cursor[slot] >= width:  # the next token would have no position left
                done[slot] = True
        if done.all() or step == max_new_tokens - 1:
            break
        logits = stepper.advance(buffer, cursor)
    return out, closest[:len(prompts)].astype(float).tolist()
