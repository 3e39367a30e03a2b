"""Byte-level BPE training into the tiktoken ranks format, in seconds on the default's data.

Text is first split with Llama3's pattern (so no token crosses a piece boundary, exactly as the
tokenizer will split it later); identical pieces are counted once with their frequency. The trainer
then merges the most frequent adjacent pair again and again, updating pair counts only for the
pieces that contain the merged pair (a heap with lazy deletion picks the best pair), so a few
thousand ranks take seconds. Ranks 0..255 are the single bytes in byte order; each merge gets the
next rank. Ties are broken by the merged bytes, then the pair's ids: same text -> same file.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable

from mathlora.tokenizer.llama3 import PAT_STR, normalize

Pair = tuple[int, int]


DIGITS = frozenset(b"0123456789")


def piece_counts(texts: Iterable[tuple[str, int]], *, single_digits: bool = False) -> Counter[bytes]:
    """UTF-8 pieces of weighted texts under Llama3's split pattern, with summed weights.

    With ``single_digits`` the pieces that hold digits are left out of training, so no merge is
    ever learned inside a number: every digit stays a token of its own (Llama3's pattern keeps
    digits in pieces of their own, so nothing else is lost).
    """
    import regex  # installed with tiktoken; supports \p{L} / \p{N}

    pattern = regex.compile(PAT_STR)
    counts: Counter[bytes] = Counter()
    for text, weight in texts:
        for piece in pattern.findall(normalize(text)):  # as encoding will see it
            data = piece.encode("utf-8")
            if single_digits and not DIGITS.isdisjoint(data):
                continue
            counts[data] += weight
    return counts


def _pairs(word: list[int]) -> Iterable[Pair]:
    return zip(word, word[1:])


def train(counts: Counter[bytes], num_ranks: int) -> dict[bytes, int]:
    """Learn up to ``num_ranks`` ranks (256 single bytes + merges) from piece frequencies."""
    if num_ranks < 256:
        raise ValueError(f"a byte-level BPE needs at least 256 ranks, got {num_ranks}")
    vocab: list[bytes] = [bytes([b]) for b in range(256)]
    ids = {token: i for i, token in enumerate(vocab)}
    words = [list(piece) for piece in sorted(counts)]
    freqs = [counts[piece] for piece in sorted(counts)]
    pair_count: Counter[Pair] = Counter()
    where: dict[Pair, set[int]] = {}
    for index, word in enumerate(words):
        for pair in _pairs(word):
            pair_count[pair] += freqs[index]
            where.setdefault(pair, set()).add(index)

    def entry(pair: Pair) -> tuple[int, bytes, int, int]:
        return (-pair_count[pair], vocab[pair[0]] + vocab[pair[1]], pair[0], pair[1])

    heap = [entry(pair) for pair in pair_count]
    heapq.heapify(heap)
    while len(vocab) < num_ranks and heap:
        negative, merged, a, b = heapq.heappop(heap)
        pair = (a, b)
        if -negative != pair_count.get(pair, 0) or negative == 0:
            continue  # stale entry: the count changed since it was pushed
        new = ids.get(merged)
        if new is None:
            new = len(vocab)
            vocab.append(merged)
            ids[merged] = new
        touched: set[Pair] = set()
        for index in where.pop(pair, ()):
            word, freq = words[index], freqs[index]
            if pair not in set(_pairs(word)):
                continue
            for old in _pairs(word):
                pair_count[old] -= freq
                touched.add(old)
            merged_word: list[int] = []
            i = 0
            while i < len(word):
                if i + 1 < len(word) and word[i] == a and word[i + 1] == b:
                    merged_word.append(new)
                    i += 2
                else:
                    merged_word.append(word[i])
                    i += 1
            words[index] = merged_word
            for fresh in _pairs(merged_word):
                pair_count[fresh] += freq
                where.setdefault(fresh, set()).add(index)
                touched.add(fresh)
        pair_count.pop(pair, None)
        for changed in touched:
            if pair_count.get(changed, 0) > 0:
                heapq.heappush(heap, entry(changed))
            else:
                pair_count.pop(changed, None)
    return {token: rank for rank, token in enumerate(vocab)}
