"""The Llama3 tokenizer over the tiktoken file format, as MindFormers and Meta use it.

A ``tokenizer.model`` is a text file of BPE ranks, one ``base64(token bytes) rank`` per line (the
real Llama3 file has 128,000). The 256 special tokens are not in the file: they take the ids right
after the ranks, in Llama3's order (``<|begin_of_text|>``, ``<|end_of_text|>``,
``<|reserved_special_token_0..3|>``, ``<|start_header_id|>``, ``<|end_header_id|>``,
``<|reserved_special_token_4|>``, ``<|eot_id|>``, ``<|reserved_special_token_5..250|>``), so for N ranks
bos/eos/pad are N, N+1, N+2 (128000/128001/128002 for the real file). Text is split with Llama3's
pattern before BPE, after Unicode NFC normalisation (as r1.1's ``Llama3Tokenizer.tokenize`` does
it, so a decomposed ``é`` gets the ids of the composed one). Special-token text inside ordinary
text is encoded as ordinary text, as Meta's tokenizer does by default.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mathlora.errors import InputError

# How numbers are split into pieces before BPE: runs of up to three digits, as in Meta's Llama3 and
# MindFormers' r1.1.0 branch since 2024-05-29 (commit 8a2082c); the v1.1.0 tag split single digits
# (\p{N}). Which one and why: docs/decisions.md ("Numbers in pieces of up to three digits").
NUMBER_PIECE = r"\p{N}{1,3}"
PAT_STR = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|" + NUMBER_PIECE
           + r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
# r1.1 normalises every text before splitting it.
NORMALIZATION = "NFC"


def normalize(text: str) -> str:
    """The text as r1.1's tokenizer sees it (Unicode NFC)."""
    return unicodedata.normalize(NORMALIZATION, text)


NUM_SPECIAL = 256
SPECIAL_TOKENS: tuple[str, ...] = (
    "<|begin_of_text|>", "<|end_of_text|>",
    *(f"<|reserved_special_token_{i}|>" for i in range(4)),
    "<|start_header_id|>", "<|end_header_id|>", "<|reserved_special_token_4|>", "<|eot_id|>",
    *(f"<|reserved_special_token_{i}|>" for i in range(5, NUM_SPECIAL - 5)),
)
BOS, EOS, PAD = SPECIAL_TOKENS[0], SPECIAL_TOKENS[1], SPECIAL_TOKENS[2]
# Offsets of bos/eos/pad after the last rank (their places in SPECIAL_TOKENS).
SPECIAL_OFFSETS = {"bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 2}


def special_ids(ranks: int) -> dict[str, int]:
    """The id layout of a Llama3 vocabulary of ``ranks`` BPE ranks: size and bos/eos/pad ids."""
    return {"ranks": ranks, "vocab_size": ranks + NUM_SPECIAL,
            **{key: ranks + offset for key, offset in SPECIAL_OFFSETS.items()}}


def read_vocab(path: str | Path) -> dict[str, int]:
    """:func:`special_ids` of a tokenizer file, parsed strictly with :func:`parse_ranks`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise InputError(path, "tokenizer file not found") from None
    return special_ids(len(parse_ranks(data, path)))


def check_fits(vocab: Mapping[str, int], model: Mapping[str, Any], *, tokenizer: str | Path,
               model_source: str) -> None:
    """A tokenizer's ids (``special_ids``) must fit a model's vocabulary and agree on bos/eos/pad.

    ``model`` holds ``vocab_size`` and optionally the three special ids; absent ones are not checked.
    """
    size = model.get("vocab_size")
    if size is not None and vocab["vocab_size"] > int(size):
        raise InputError(tokenizer, f"tokenizer has {vocab['vocab_size']} ids ({vocab['ranks']} ranks + "
                         f"{NUM_SPECIAL} specials) but {model_source} has vocab_size {size}; expected "
                         f"at most {size} ids", field="vocab_size")
    for key in SPECIAL_OFFSETS:
        if model.get(key) is not None and int(model[key]) != vocab[key]:
            raise InputError(tokenizer, f"{key} is {vocab[key]} for this tokenizer but {model[key]} in "
                             f"{model_source}; expected the same id", field=key)


def parse_ranks(data: bytes, path: str | Path = "<ranks>") -> dict[bytes, int]:
    """Parse a tiktoken ranks file strictly: every line ``base64 rank``, ranks exactly 0..N-1."""
    if not data:
        raise InputError(path, "file is empty: expected tiktoken BPE ranks ('base64(token) rank' lines)")
    if data.startswith(b"\xef\xbb\xbf"):
        raise InputError(path, "UTF-8 byte-order mark: expected plain 'base64(token) rank' lines", line=1)
    ranks: dict[bytes, int] = {}
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    for number, raw in enumerate(lines, start=1):
        if raw.endswith(b"\r"):
            raise InputError(path, "CRLF line ending: expected LF (\\n) line endings", line=number)
        parts = raw.split(b" ")
        if len(parts) != 2 or not parts[0] or not parts[1].isdigit():
            raise InputError(path, f"expected 'base64(token) rank', got {raw[:60]!r}", line=number)
        try:
            token = base64.b64decode(parts[0], validate=True)
        except (binascii.Error, ValueError):
            raise InputError(path, f"invalid base64 token {parts[0][:40]!r}", line=number) from None
        rank = int(parts[1])
        if not token:
            raise InputError(path, "empty token: expected at least one byte", line=number)
        if token in ranks:
            raise InputError(path, f"token {token!r} repeats the one of rank {ranks[token]}", line=number)
        ranks[token] = rank
    if sorted(ranks.values()) != list(range(len(ranks))):
        seen = set(ranks.values())
        gap = next(i for i in range(len(ranks) + 1) if i not in seen)
        raise InputError(path, f"ranks must be 0..{len(ranks) - 1} without gaps or repeats; "
                               f"rank {gap} is missing")
    missing = [b for b in range(256) if bytes([b]) not in ranks]
    if missing:
        raise InputError(path, f"byte-level BPE needs all 256 single-byte tokens; {len(missing)} are "
                               f"missing (first: byte {missing[0]})")
    return ranks


def format_ranks(ranks: dict[bytes, int]) -> str:
    """The tiktoken file text of ``ranks``, in rank order."""
    return "".join(f"{base64.b64encode(token).decode('ascii')} {rank}\n"
                   for token, rank in sorted(ranks.items(), key=lambda item: item[1]))


class Llama3Tokenizer:
    """Encode/decode with a Llama3-format ranks file; ids beyond the ranks are the special tokens."""

    def __init__(self, ranks: dict[bytes, int], *, name: str = "llama3", sha256: str | None = None) -> None:
        import tiktoken  # the Rust core; imported here to keep module import cheap

        self.num_ranks = len(ranks)
        self.special_tokens = {token: self.num_ranks + i for i, token in enumerate(SPECIAL_TOKENS)}
        self.sha256 = sha256
        self._encoding = tiktoken.Encoding(name, pat_str=PAT_STR, mergeable_ranks=ranks,
                                           special_tokens=self.special_tokens)
        layout = special_ids(self.num_ranks)
        self.bos_id = layout["bos_token_id"]
        self.eos_id = layout["eos_token_id"]
        self.pad_id = layout["pad_token_id"]
        self.vocab_size = layout["vocab_size"]

    @classmethod
    def from_file(cls, path: str | Path) -> Llama3Tokenizer:
        path = Path(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise InputError(path, "tokenizer file not found") from None
        return cls(parse_ranks(data, path), name=path.name, sha256=hashlib.sha256(data).hexdigest())

    def encode(self, text: str, *, bos: bool = False, eos: bool = False) -> list[int]:
        ids = self._encoding.encode_ordinary(normalize(text))
        return ([self.bos_id] if bos else []) + ids + ([self.eos_id] if eos else [])

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Ordinary-text ids of many texts (no bos/eos).

        A plain loop: for short texts tiktoken's threaded batch spends more time scheduling one
        future per text than encoding (measured 2.7x slower on the training conversations).
        """
        encode = self._encoding.encode_ordinary
        return [encode(normalize(text)) for text in texts]

    def decode(self, ids: Iterable[int], *, skip_special: bool = False) -> str:
        """The text of ``ids``; ``skip_special`` drops the special tokens first, as MindFormers'
        pipeline decodes generations (``skip_special_tokens=True``)."""
        ids = list(ids)
        if skip_special:
            ids = [i for i in ids if i < self.num_ranks]
        return self._encoding.decode(ids)

    def token_bytes(self, token_id: int) -> bytes:
        return self._encoding.decode_single_token_bytes(token_id)
