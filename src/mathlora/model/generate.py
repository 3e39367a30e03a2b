"""Greedy batched decoding with a MindFormers LlamaForCausalLM (no KV cache: CPU has none).

Prompts are right-padded into one fixed-shape buffer per batch (one compiled graph per length
bucket); causal attention means the padding after a row's last token never changes its logits,
so each step reads the logits at every row's own last position and takes the argmax in numpy
(``ArgMaxExt`` has no CPU kernel).
"""

from __future__ import annotations

import numpy as np

BUCKET = 32  # buffer lengths are rounded up to a multiple of this, to reuse compiled graphs


def _bucket(length: int, limit: int) -> int:
    return min(limit, -(-length // BUCKET) * BUCKET)


def greedy_generate(model, prompts: list[list[int]], *, max_new_tokens: int, min_new_tokens: int = 0,
                    eos_id: int, pad_id: int, batch_size: int, progress: bool = True) -> list[list[int]]:
    """Greedy continuation ids per prompt (prompt excluded, cut at eos, eos excluded), in order."""
    import mindspore as ms
    from tqdm import tqdm

    limit = int(model.config.seq_length)
    results: list[list[int]] = [[] for _ in prompts]
    order = list(range(len(prompts)))
    bar = tqdm(total=len(prompts), desc="generate", unit="prompt", disable=not progress)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        lengths = [len(prompts[i]) for i in rows]
        if min(lengths) < 1:
            raise ValueError("empty prompt: expected at least one token (bos)")
        if max(lengths) >= limit:
            raise ValueError(f"prompt of {max(lengths)} tokens leaves no room in seq_length {limit}")
        width = _bucket(max(lengths) + max_new_tokens, limit)
        buffer = np.full((batch_size, width), pad_id, dtype=np.int32)  # fixed batch: one graph
        for slot, i in enumerate(rows):
            buffer[slot, :lengths[slot]] = prompts[i]
        cursor = np.array(lengths + [1] * (batch_size - len(rows)))
        done = np.zeros(batch_size, dtype=bool)
        done[len(rows):] = True
        for step in range(max_new_tokens):
            if done.all() or cursor.max() >= width:
                break
            logits = model(ms.Tensor(buffer))
            logits = logits[0] if isinstance(logits, tuple) else logits
            logits = logits.asnumpy().reshape(batch_size, width, -1)
            last = logits[np.arange(batch_size), cursor - 1]
            if step < min_new_tokens:
                last[:, eos_id] = -np.inf
            chosen = last.argmax(axis=-1)
            for slot in range(len(rows)):
                if done[slot] or cursor[slot] >= width:
                    done[slot] = True
                    continue
                token = int(chosen[slot])
                if token == eos_id:
                    done[slot] = True
                    continue
                buffer[slot, cursor[slot]] = token
                results[rows[slot]].append(token)
                cursor[slot] += 1
        bar.update(len(rows))
    bar.close()
    return results
