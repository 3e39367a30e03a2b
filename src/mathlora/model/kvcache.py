"""Incremental (KV-cached) forward pass of a MindFormers LlamaForCausalLM, for CPU decoding.

MindFormers' own cache (``use_past``) runs on paged-attention kernels that exist only on Ascend.
``CachedLlama`` wraps an already built (and loaded) ``LlamaForCausalLM`` and runs the same
sub-cells with the same weights: embedding, per layer ``attention_norm``, ``wq``/``wk``/``wv``,
the rotary embedding, ``_repeat_kv`` and ``_attn`` of the attention, ``wo``, ``ffn_norm``,
``feed_forward``, then ``norm_out`` and ``lm_head``. Only the new tokens of a step go through
them; the keys and values of earlier positions come from a cache of fixed width ``W`` (the
model's ``seq_length``), so one compiled graph serves every decoding step of a batch size.

The attention mask is the one the full network builds (``LowerTriangularMaskWithDynamic``): a key
is visible when it is not after the query and its token is not ``pad_token_id``; hidden keys get
``-10000`` added to their score. Cache writes select (``where``) and gather exact values, so the
cache holds bit for bit the keys and values the full pass computes.
"""

from __future__ import annotations

import numpy as np

MASK_VALUE = -10000.0  # what LowerTriangularMaskWithDynamic adds to hidden scores


def attention_mask(tokens: np.ndarray, positions: np.ndarray, pad_id: int) -> np.ndarray:
    """Additive mask (B, 1, C, W): query at ``positions[b, c]`` sees key ``w`` when ``w <= position``
    and ``tokens[b, w] != pad_id`` (``tokens`` is the (B, W) buffer of every token so far)."""
    width = tokens.shape[1]
    causal = np.arange(width)[None, None, :] <= positions[:, :, None]
    visible = causal & (tokens != pad_id)[:, None, :]
    return ((1.0 - visible.astype(np.float32)) * np.float32(MASK_VALUE))[:, None, :, :]


def cache_slots(start: np.ndarray, chunk: int, n_kv_head: int, width: int) -> np.ndarray:
    """Scatter indices (B, n_kv_head, C, 3) = (row, head, position) of the C new tokens per row.

    Positions past the cache (only pad tokens of a last, partial chunk land there) are clipped to
    its last column, which no real token occupies (prompts leave room for new tokens).
    """
    rows = start.shape[0]
    positions = np.minimum(start[:, None] + np.arange(chunk)[None, :], width - 1)       # (B, C)
    slots = np.empty((rows, n_kv_head, chunk, 3), dtype=np.int32)
    slots[..., 0] = np.arange(rows)[:, None, None]
    slots[..., 1] = np.arange(n_kv_head)[None, :, None]
    slots[..., 2] = positions[:, None, :]
    return slots


def _cell_class():
    """Defined lazily: mindspore is imported only when a cached model is built."""
    import mindspore as ms
    from mindspore import Parameter, nn, ops

    class CachedLlama(nn.Cell):
        """``(tokens, positions, slots, mask, last) -> logits`` for a fixed batch size.

        tokens (B, C) int32 sit at ``positions`` (B, C); ``slots`` from ``cache_slots`` says where
        their keys and values go in the caches (parameters of this cell, updated in place, one
        (B, n_kv_heads, W, head_dim) pair per layer); mask (B, 1, C, W) from ``attention_mask``;
        ``last`` (B,) picks the chunk position whose logits are returned (B, vocab).
        """

        def __init__(self, network, batch_size: int):
            super().__init__(auto_prefix=False)
            config = network.config
            if getattr(config, "qkv_concat", False) or getattr(config, "use_flash_attention", False):
                raise ValueError("CachedLlama needs separate wq/wk/wv and no flash attention")
            model = network.model
            self.embed = model.tok_embeddings
            self.layers = model.layers
            self.norm_out = model.norm_out
            self.lm_head = network.lm_head
            self.num_layers = int(config.num_layers)
            self.batch_size = batch_size
            self.width = int(config.seq_length)
            self.n_head = int(config.num_heads)
            self.n_kv_head = int(config.n_kv_heads or config.num_heads)
            self.head_dim = int(config.hidden_size) // self.n_head
            self.hidden = int(config.hidden_size)
            self.n_rep = self.n_head // self.n_kv_head
            self.freqs_cos = model.freqs_mgr.freqs_cos
            self.freqs_sin = model.freqs_mgr.freqs_sin
            self.swap_mask = model.freqs_mgr.swap_mask
            self.dtype = model.dtype
            shape = (batch_size, self.n_kv_head, self.width, self.head_dim)
            # Stale entries of an earlier batch stay finite and are always masked out.
            self.k_cache = ms.ParameterTuple(
                Parameter(np.zeros(shape, np.float32), name=f"kvcache.key.{i}", requires_grad=False)
                for i in range(self.num_layers))
            self.v_cache = ms.ParameterTuple(
                Parameter(np.zeros(shape, np.float32), name=f"kvcache.value.{i}", requires_grad=False)
                for i in range(self.num_layers))
            self.scatter = ops.ScatterNdUpdate()

        def construct(self, tokens, positions, slots, mask, last):
            bsz, chunk = tokens.shape
            flat = positions.reshape(-1)
            cos = ops.gather(self.freqs_cos, flat, 0).reshape(bsz, 1, chunk, self.head_dim)
            sin = ops.gather(self.freqs_sin, flat, 0).reshape(bsz, 1, chunk, self.head_dim)
            freqs = (cos, sin, self.swap_mask)

            h = ops.cast(self.embed(tokens), self.dtype).reshape(bsz, chunk, self.hidden)
            for i in range(self.num_layers):
                layer = self.layers[i]
                attn = layer.attention
                x = layer.attention_norm(h)
                query = ops.cast(attn.wq(x), self.dtype)
                key = ops.cast(attn.wk(x), self.dtype)
                value = ops.cast(attn.wv(x), self.dtype)
                query = ops.transpose(query.reshape(bsz, chunk, self.n_head, self.head_dim), (0, 2, 1, 3))
                key = ops.transpose(key.reshape(bsz, chunk, self.n_kv_head, self.head_dim), (0, 2, 1, 3))
                value = ops.transpose(value.reshape(bsz, chunk, self.n_kv_head, self.head_dim), (0, 2, 1, 3))
                query, key = attn.apply_rotary_emb(query, key, freqs)
                keys = ops.depend(self.k_cache[i], self.scatter(self.k_cache[i], slots, key))
                values = ops.depend(self.v_cache[i], self.scatter(self.v_cache[i], slots, value))
                context = attn._attn(query, attn._repeat_kv(keys, self.n_rep),  # pylint: disable=protected-access
                                     attn._repeat_kv(values, self.n_rep), mask)  # pylint: disable=protected-access
                h = h + ops.cast(attn.wo(context), h.dtype)
                h = h + layer.feed_forward(layer.ffn_norm(h))
            pick = ops.broadcast_to(last.reshape(bsz, 1, 1), (bsz, 1, self.hidden))
            h = ops.gather_elements(h, 1, pick)                               # (B, 1, hidden)
            return ops.cast(self.lm_head(self.norm_out(h)), ms.float32).reshape(bsz, -1)

    return CachedLlama


def cached_model(network, batch_size: int):
    """A ``CachedLlama`` for ``batch_size`` rows sharing ``network``'s weights, in inference mode."""
    cell = _cell_class()(network, batch_size)
    cell.set_train(False)
    return cell
