"""Token rows exactly as the organisers' ``llama_preprocess.py --dataset_type qa`` builds them.

The reference procedure, for one conversation (FastChat vicuna v1.1; ``L = seq_length + 1``):

1. Render ``system + " USER: " + human + " ASSISTANT: " + gpt + "</s>"`` and split it on ``</s>``.
2. ids = ``[bos]``, then for each non-empty round its tokens *with bos and eos added*, leading bos
   dropped (so each round contributes its tokens and an eos). Pad with the pad id to ``L``.
3. labels = ids; label 0 is -100. For each round split on ``" ASSISTANT: "`` into exactly two parts
   (otherwise stop), the instruction ``parts[0] + " ASSISTANT: "`` is masked from the current
   position for ``len(tokens_with_bos_eos(instruction)) - 3`` positions, then the position advances
   by ``len(tokens_with_bos_eos(round)) - 1``. Everything after the last round (padding) is -100.
4. If the final position is inside the row but differs from the number of non-pad ids, the whole
   row is masked (-100 everywhere). Rows are cut to ``L``.

The quirk kept on purpose (``mask="organisers"``): with bos and eos counted, ``- 3`` masks one token
fewer than the instruction has, so the last instruction token (the space of ``"ASSISTANT: "``, when
the answer starts with a digit or sign) is trained on. The entry trained with it.
``mask="corrected"`` masks exactly the instruction tokens that the round's own tokenization shares
with the instruction's (their common prefix).

:func:`reference_row` is that procedure written out literally; :func:`build_rows` computes the same
rows many times faster for ordinary single-round conversations by tokenizing the constant system
prefix once (the split pattern has no look-behind, and every piece boundary it relies on is forced by
``":" + " "``), and falls back to :func:`reference_row` for anything else. Tests hold the two equal.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mathlora.prompts import VICUNA_ASSISTANT, VICUNA_ROUND_END, VICUNA_SYSTEM, VICUNA_USER
from mathlora.tokenizer.llama3 import Llama3Tokenizer

IGNORE_ID = -100
SEP = f" {VICUNA_ASSISTANT}: "  # vicuna v1.1: sep + role + ": "
MASKS = ("organisers", "corrected")


def render(human: str, gpt: str) -> str:
    """One conversation in the vicuna v1.1 template, as FastChat's get_prompt writes it."""
    return f"{VICUNA_SYSTEM} {VICUNA_USER}: {human}{SEP}{gpt}{VICUNA_ROUND_END}"


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def reference_row(text: str, tokenizer: Llama3Tokenizer, length: int,
                  mask: str = "organisers") -> tuple[list[int], list[int], int]:
    """(input_ids, labels, content length before cutting) of one rendered conversation."""
    if mask not in MASKS:
        raise ValueError(f"mask must be one of {MASKS}, not {mask!r}")
    rounds = text.split(VICUNA_ROUND_END)
    ids = [tokenizer.bos_id]
    for part in rounds:
        if part == "":
            break
        ids.extend(tokenizer.encode(part, bos=True, eos=True)[1:])
    content = len(ids)
    padded = ids + [tokenizer.pad_id] * max(0, length - len(ids))
    target = list(padded)
    total_len = sum(1 for token in padded if token != tokenizer.pad_id)
    cur_len = 1
    target[:cur_len] = [IGNORE_ID] * cur_len
    for part in rounds:
        if part == "":
            break
        pieces = part.split(SEP)
        if len(pieces) != 2:
            break
        instruction = pieces[0] + SEP
        round_tokens = tokenizer.encode(part, bos=True, eos=True)
        instruction_tokens = tokenizer.encode(instruction, bos=True, eos=True)
        round_len = len(round_tokens) - 1
        if mask == "organisers":
            instruction_len = len(instruction_tokens) - 3
        else:  # the instruction tokens the round really starts with (bos excluded)
            instruction_len = _common_prefix(round_tokens[1:-1], instruction_tokens[1:-1])
        end = min(cur_len + instruction_len, len(target))
        target[cur_len:end] = [IGNORE_ID] * max(0, end - cur_len)
        cur_len += round_len
    target[cur_len:] = [IGNORE_ID] * max(0, len(target) - cur_len)
    if cur_len < length and cur_len != total_len:
        target = [IGNORE_ID] * len(target)
    return padded[:length], target[:length], content


@dataclass
class Rows:
    input_ids: np.ndarray   # (n, length) int32
    labels: np.ndarray      # (n, length) int32
    content: np.ndarray     # (n,) ids before padding / cutting
    fallback: int           # rows built by the literal reference procedure


def build_rows(conversations: Sequence[tuple[str, str]], tokenizer: Llama3Tokenizer, length: int,
               mask: str = "organisers") -> Rows:
    """Rows for many (human, gpt) conversations; identical to :func:`reference_row` for each."""
    if mask not in MASKS:
        raise ValueError(f"mask must be one of {MASKS}, not {mask!r}")
    n = len(conversations)
    prefix = tokenizer.encode(f"{VICUNA_SYSTEM} {VICUNA_USER}:")
    (space,) = tokenizer.encode(" ")
    encode = tokenizer.encode
    head = [tokenizer.bos_id, *prefix]
    tail = [tokenizer.eos_id]
    fast: list[int] = []
    slow: list[int] = []
    pieces: list[list[int]] = []
    content = np.zeros(n, dtype=np.int64)
    masked = np.zeros(n, dtype=np.int64)
    for index, (human, gpt) in enumerate(conversations):
        text = render(human, gpt)
        if (text.count(SEP) != 1 or text.count(VICUNA_ROUND_END) != 1
                or not text.endswith(VICUNA_ROUND_END)):
            slow.append(index)
            continue
        middle, answer = encode(f" {human}{SEP[:-1]}"), encode(f" {gpt}")
        row = head + middle + answer + tail
        content[index] = len(row)
        pieces.append(row[:length])
        fast.append(index)
        # organisers: len(bos + instruction + space + eos) - 3 = instruction tokens without the space;
        # corrected: with the space when the round's tokens really start with it.
        masked[index] = 1 + len(prefix) + len(middle) + (
            mask == "corrected" and bool(answer) and answer[0] == space)
    input_ids = np.full((n, length), tokenizer.pad_id, dtype=np.int32)
    labels = np.full((n, length), IGNORE_ID, dtype=np.int32)
    if fast:
        rows = np.asarray(fast)
        everything = len(fast) == n  # the usual case: fill the outputs in place, no copies
        kept = np.minimum(content[rows], length)
        columns = np.arange(length)
        filled = columns[None, :] < kept[:, None]
        block = input_ids if everything else np.full((len(rows), length), tokenizer.pad_id,
                                                     dtype=np.int32)
        block[filled] = np.fromiter(itertools.chain.from_iterable(pieces), dtype=np.int32,
                                    count=int(kept.sum()))
        trained = filled & (columns[None, :] >= masked[rows][:, None])
        if everything:
            np.copyto(labels, block, where=trained)
        else:
            input_ids[rows] = block
            labels[rows] = np.where(trained, block, IGNORE_ID)
    for index in slow:
        ids, target, size = reference_row(render(*conversations[index]), tokenizer, length, mask)
        input_ids[index], labels[index], content[index] = ids, target, size
    return Rows(input_ids, labels, content, len(slow))
