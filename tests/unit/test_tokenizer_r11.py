"""The tokenizer as MindFormers r1.1's research/llama3 one: NFC first, numbers in runs of three.

r1.1's ``Llama3Tokenizer.tokenize`` normalises every text to NFC before encoding; its split
pattern is that of the r1.1.0 branch since 2024-05-29 (the v1.1.0 tag split single digits).
"""

from __future__ import annotations

from pathlib import Path

from _model_helpers import write_tokenizer

ROOT = Path(__file__).resolve().parents[2]
# research/llama3/llama3_tokenizer.py of MindFormers' r1.1.0 branch after commit 8a2082c
R11_BRANCH_PAT_STR = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| "
                      r"?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
COMPOSED, DECOMPOSED = "Caf\u00e9 \u00c5ngstr\u00f6m", "Cafe\u0301 A\u030angstro\u0308m"


def test_ascend_tokenizer_applies_nfc_as_r11(tmp_path):
    from mathlora.tokenizer.llama3 import Llama3Tokenizer

    path = write_tokenizer(tmp_path / "tok.model")
    tokenizer = Llama3Tokenizer.from_file(path)
    assert COMPOSED != DECOMPOSED
    assert tokenizer.encode(DECOMPOSED) == tokenizer.encode(COMPOSED)
    assert tokenizer.encode_batch([DECOMPOSED]) == [tokenizer.encode(COMPOSED)]


def test_ascend_standin_tokenizer_applies_nfc_as_r11(tmp_path):
    from mathlora.model.compat import prepare_mindformers_import

    prepare_mindformers_import()
    from mathlora.standin.llama3_tokenizer import Llama3Tokenizer

    tokenizer = Llama3Tokenizer(vocab_file=str(write_tokenizer(tmp_path / "tok.model")))
    assert tokenizer(DECOMPOSED)["input_ids"] == tokenizer(COMPOSED)["input_ids"]


def test_ascend_number_pattern_is_one_constant_of_stated_provenance():
    import regex

    from mathlora.tokenizer import bpe, llama3

    assert llama3.PAT_STR == R11_BRANCH_PAT_STR
    assert llama3.NUMBER_PIECE == r"\p{N}{1,3}" and llama3.NUMBER_PIECE in llama3.PAT_STR
    assert bpe.PAT_STR is llama3.PAT_STR
    assert regex.findall(llama3.PAT_STR, "12345") == ["123", "45"]
    decisions = (ROOT / "docs" / "decisions.md").read_text(encoding="utf-8")
    section = decisions.split("Numbers in pieces of up to three digits", 1)[1][:2000]
    for fact in ("8a2082c", "2024-05-29", "v1.1.0", r"`\p{N}`", r"`\p{N}{1,3}`"):
        assert fact in section, fact
