import base64
import itertools
import json
import re

import pytest

from mathlora.cli import main as cli
from mathlora.errors import InputError
from mathlora.prompts import SQUAD_PROMPT, VICUNA_SYSTEM
from mathlora.tokenizer.bpe import piece_counts, train
from mathlora.tokenizer.llama3 import SPECIAL_TOKENS, Llama3Tokenizer, format_ranks, parse_ranks

TEXTS = ["计算 -7840.79 + 4206.75 等于多少？", "-7840.79 + 4206.75 = -3634.04", "方程的解为：-0.8571",
         "What is $\\dbinom{8}{3}$? The answer is $\\boxed{56}$.", "  spaces\n\nand\ttabs ", "emoji 🙂 ok",
         "<|begin_of_text|> is plain text here", ""]


def full_size_ranks() -> bytes:
    """A 128,000-rank file: the 256 single bytes, all 65,536 byte pairs, then byte triples."""
    singles = (bytes([b]) for b in range(256))
    pairs = (bytes(p) for p in itertools.product(range(256), repeat=2))
    triples = (bytes(t) for t in itertools.product(range(256), repeat=3))
    tokens = itertools.islice(itertools.chain(singles, pairs, triples), 128_000)
    return "".join(f"{base64.b64encode(t).decode()} {i}\n" for i, t in enumerate(tokens)).encode()


def test_full_size_file_has_llama3_special_ids(tmp_path):
    path = tmp_path / "tokenizer.model"
    path.write_bytes(full_size_ranks())
    tok = Llama3Tokenizer.from_file(path)
    assert (tok.bos_id, tok.eos_id, tok.pad_id, tok.vocab_size) == (128000, 128001, 128002, 128256)
    assert tok.special_tokens["<|start_header_id|>"] == 128006
    assert tok.special_tokens["<|eot_id|>"] == 128009
    assert tok.special_tokens["<|reserved_special_token_250|>"] == 128255
    for text in TEXTS:
        ids = tok.encode(text, bos=True, eos=True)
        assert ids[0] == 128000 and ids[-1] == 128001 and max(ids[1:-1], default=0) < 128000
        assert tok.decode(ids[1:-1]) == text
    assert tok.decode([128000]) == "<|begin_of_text|>"


def test_special_token_order():
    assert len(SPECIAL_TOKENS) == 256 == len(set(SPECIAL_TOKENS))
    assert SPECIAL_TOKENS[:10] == (
        "<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
        "<|reserved_special_token_1|>", "<|reserved_special_token_2|>", "<|reserved_special_token_3|>",
        "<|start_header_id|>", "<|end_header_id|>", "<|reserved_special_token_4|>", "<|eot_id|>")
    assert SPECIAL_TOKENS[10] == "<|reserved_special_token_5|>"


def test_trained_bpe_round_trips_and_compresses(tmp_path):
    corpus = [(text, 3) for text in TEXTS] + [(VICUNA_SYSTEM, 50)]
    ranks = train(piece_counts(corpus), 600)  # its time: tests/benchmarks/test_tokenizer_train.py
    assert 256 < len(ranks) <= 600 and sorted(ranks.values()) == list(range(len(ranks)))
    assert ranks == train(piece_counts(corpus), 600)  # deterministic
    path = tmp_path / "bpe.model"
    path.write_text(format_ranks(ranks), encoding="ascii")
    tok = Llama3Tokenizer.from_file(path)
    assert (tok.bos_id, tok.eos_id, tok.pad_id) == (len(ranks), len(ranks) + 1, len(ranks) + 2)
    for text in TEXTS + [SQUAD_PROMPT, "unseen 文本 text 12345"]:
        assert tok.decode(tok.encode(text)) == text
    # The weighted system text became a handful of tokens (one per split-pattern piece).
    assert len(tok.encode(VICUNA_SYSTEM)) <= 30 < len(VICUNA_SYSTEM.encode())


def test_cli_train_and_info(tmp_path):
    conv = tmp_path / "conv.json"
    conv.write_text(json.dumps([{"id": str(i + 1), "conversations": [
        {"from": "human", "value": f"请解答如下数学问题： 计算 {i}.5 + 1.25 等于多少？"},
        {"from": "gpt", "value": f"{i}.5 + 1.25 = {i + 1}.75"}]} for i in range(200)], ensure_ascii=False),
        encoding="utf-8")
    model, report, info = tmp_path / "tok.model", tmp_path / "tok.json", tmp_path / "info.json"
    assert cli(["tokenizer", "train", "--in", str(conv), "--ranks", "2000", "--out", str(model),
                "--report", str(report)]) == 0
    doc = json.loads(report.read_text())
    assert doc["training"]["learned_ranks"] == doc["ranks"] <= 2000
    assert doc["special_ids"]["bos"] == doc["ranks"] and doc["vocab_size"] == doc["ranks"] + 256
    assert doc["template_tokens"]["vicuna_system"] < 40
    assert cli(["tokenizer", "info", "--model", str(model), "--report", str(info)]) == 0
    assert json.loads(info.read_text())["sha256"] == doc["sha256"]


def good_lines(n: int = 256) -> list[bytes]:
    return [base64.b64encode(bytes([b])) + b" " + str(b).encode() for b in range(n)]


@pytest.mark.parametrize("data, message, line", [
    (b"", "file is empty", None),
    (b"\n".join(good_lines()[:3] + [b"QQ== x"]) + b"\n", "expected 'base64(token) rank'", 4),
    (b"\n".join(good_lines()[:3] + [b"QQ==  3"]) + b"\n", "expected 'base64(token) rank'", 4),
    (b"\n".join(good_lines()[:3] + [b"!!!! 3"]) + b"\n", "invalid base64", 4),
    (b"\n".join(good_lines()[:3] + [base64.b64encode(b"\x00") + b" 3"]) + b"\n", "repeats", 4),
    (b"\r\n".join(good_lines()[:3]) + b"\r\n", "CRLF", 1),
    (b"\xef\xbb\xbf" + b"\n".join(good_lines()) + b"\n", "byte-order mark", 1),
    (b"\n".join(good_lines()[:255]) + b"\n", "single-byte tokens", None),
    (b"\n".join(good_lines() + [base64.b64encode(b"ab") + b" 257"]) + b"\n", "rank 256 is missing", None),
])
def test_bad_ranks_files(tmp_path, data, message, line):
    with pytest.raises(InputError, match=re.escape(message)) as caught:
        parse_ranks(data, tmp_path / "t.model")
    assert caught.value.line == line


def test_bad_tokenizer_file_through_the_cli(tmp_path, capsys):
    model = tmp_path / "bad.model"
    model.write_bytes(b"\n".join(good_lines()) + b"\nnot-a-rank-line\n")
    out = tmp_path / "info.json"
    assert cli(["tokenizer", "info", "--model", str(model), "--report", str(out)]) == 1
    assert f"{model}:257" in capsys.readouterr().err and not out.exists()


def test_special_ids_follow_the_special_token_order(tmp_path):
    from mathlora.tokenizer.llama3 import BOS, EOS, PAD, special_ids

    layout = special_ids(128_000)
    assert layout == {"ranks": 128_000, "vocab_size": 128_256, "bos_token_id": 128_000,
                      "eos_token_id": 128_001, "pad_token_id": 128_002}
    # The offsets are the places of bos/eos/pad among the specials, as the tokenizer assigns them.
    ranks = {bytes([b]): b for b in range(256)}
    tok = Llama3Tokenizer(ranks)
    assert [tok.special_tokens[t] for t in (BOS, EOS, PAD)] == [
        special_ids(256)[k] for k in ("bos_token_id", "eos_token_id", "pad_token_id")]


def test_check_fits_names_the_field(tmp_path):
    from mathlora.errors import InputError
    from mathlora.tokenizer.llama3 import check_fits, read_vocab, special_ids

    path = tmp_path / "tok.model"
    path.write_text(format_ranks({bytes([b]): b for b in range(256)}), encoding="utf-8")
    vocab = read_vocab(path)
    assert vocab == special_ids(256)
    check_fits(vocab, {"vocab_size": 512, "bos_token_id": 256}, tokenizer=path, model_source="m")
    with pytest.raises(InputError, match=r"tok.model: field 'vocab_size': tokenizer has 512 ids "
                                         r"\(256 ranks \+ 256 specials\) but m has vocab_size 500"):
        check_fits(vocab, {"vocab_size": 500}, tokenizer=path, model_source="m")
    with pytest.raises(InputError, match=r"field 'pad_token_id': pad_token_id is 258 for this "
                                         r"tokenizer but 2 in m"):
        check_fits(vocab, {"vocab_size": 600, "pad_token_id": 2}, tokenizer=path, model_source="m")
    with pytest.raises(InputError, match="nope.model: tokenizer file not found"):
        read_vocab(tmp_path / "nope.model")
