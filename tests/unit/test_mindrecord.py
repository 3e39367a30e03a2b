import base64
import json
import os

import numpy as np
import pytest

from mathlora.cli import main as cli
from mathlora.data import synth
from mathlora.data.conversation import to_conversations
from mathlora.data.mindrecord import histogram
from mathlora.data.qa import build_rows, reference_row, render
from mathlora.prompts import train_human
from mathlora.tokenizer.bpe import piece_counts, train
from mathlora.tokenizer.llama3 import Llama3Tokenizer, format_ranks

os.environ.setdefault("LOG_MF_PATH", "/tmp/mathlora-test-mf-logs")

SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. "
          "The assistant gives helpful, detailed, and polite answers to the user's questions.")
BOS, EOS, PAD, IGN = 256, 257, 258, -100


@pytest.fixture(scope="module")
def byte_tok():
    """256 single-byte ranks and nothing else: every token is one UTF-8 byte, so rows are hand-computable."""
    return Llama3Tokenizer({bytes([b]): b for b in range(256)})


def hand_row(human, gpt, length, corrected=False):
    """The organisers' row, computed by hand in bytes (one token per byte)."""
    instruction = f"{SYSTEM} USER: {human} ASSISTANT: ".encode()
    round_ = instruction + gpt.encode()
    ids = [BOS, *round_, EOS]
    ids = (ids + [PAD] * length)[:length]
    # position 0 and the instruction are masked, except its last byte (the -3 quirk), unless corrected
    masked = 1 + len(instruction) - (0 if corrected else 1)
    labels = [IGN] * min(masked, length) + ids[masked:]
    labels = [IGN if i >= 1 + len(round_) + 1 else v for i, v in enumerate(labels)]
    return ids, labels


@pytest.mark.parametrize("human, gpt", [("请解答如下数学问题： 计算 1 + 1 等于多少？", "1 + 1 = 2"),
                                        ("Compute $x$.", "$\\boxed{3}$"), ("q", "")])
@pytest.mark.parametrize("corrected", [False, True])
def test_rows_match_hand_computation(byte_tok, human, gpt, corrected):
    length = 257
    ids, labels = hand_row(human, gpt, length, corrected)
    mask = "corrected" if corrected else "organisers"
    assert reference_row(render(human, gpt), byte_tok, length, mask)[:2] == (ids, labels)
    rows = build_rows([(human, gpt)], byte_tok, length, mask)
    assert rows.input_ids[0].tolist() == ids and rows.labels[0].tolist() == labels


@pytest.mark.parametrize("mask, trained", [("organisers", b" 2"), ("corrected", b"2")])
def test_the_quirk_trains_on_the_space_before_the_answer(byte_tok, mask, trained):
    """The organisers' count leaves the separator's last byte (a space) trained; corrected does not."""
    human, gpt = "计算 1 + 1 等于多少？", "2"
    reference_ids, reference_labels, _ = reference_row(render(human, gpt), byte_tok, 257, mask)
    rows = build_rows([(human, gpt)], byte_tok, 257, mask)
    for ids, labels in [(reference_ids, reference_labels),
                        (rows.input_ids[0].tolist(), rows.labels[0].tolist())]:
        kept = [i for i, v in enumerate(labels) if v != IGN]
        assert kept == list(range(kept[0], kept[0] + len(trained) + 1))  # one run: answer, then eos
        assert bytes(labels[i] for i in kept[:-1]) == trained and labels[kept[-1]] == EOS
        assert [labels[i] for i in kept] == [ids[i] for i in kept]


@pytest.mark.parametrize("length", [8, 16, 257])
def test_histogram_bins_are_distinct_integer_ranges(length):
    lengths = np.arange(1, length + 4)  # every length in the row, and some beyond it
    bins = histogram(lengths, length)
    assert bins[0]["min"] == 1 and bins[-2]["max"] == length and bins[-1]["min"] == length + 1
    for low, high in zip(bins, bins[1:]):
        assert low["min"] <= low["max"] and high["min"] == low["max"] + 1
    assert sum(b["count"] for b in bins) == len(lengths)
    assert [b["count"] for b in bins] == [b["max"] - b["min"] + 1 for b in bins]


def test_truncated_row_is_cut_and_keeps_its_labels(byte_tok):
    human, gpt = "x", "y" * 100
    length = len(SYSTEM) + 40
    ids, labels, content = reference_row(render(human, gpt), byte_tok, length)
    assert len(ids) == len(labels) == length and content > length and PAD not in ids
    hand_ids, hand_labels = hand_row(human, gpt, length)
    assert ids == hand_ids and labels == hand_labels and labels[-1] == ord("y")


def test_separator_inside_the_text_masks_the_whole_row(byte_tok):
    for human, gpt in [("a ASSISTANT: b", "c"), ("a", "b</s>c")]:
        ids, labels, _ = reference_row(render(human, gpt), byte_tok, 300)
        assert set(labels) == {IGN} and ids[0] == BOS
        rows = build_rows([(human, gpt)], byte_tok, 300)
        assert rows.fallback == 1 and rows.labels[0].tolist() == labels
    # "a</s>c": two rounds, each closed by eos; the second has no separator
    ids, _, _ = reference_row(render("a", "b</s>c"), byte_tok, 300)
    assert ids.count(EOS) == 2


def test_fast_rows_equal_the_reference_procedure():
    lines = synth.generate(400, 30, seed=2, template_rate=0.0)
    edge = [("请解答如下数学问题：  lead", "x"), ("a", " leading space"), ("a\n", "\nb"), ("a", "word"),
            ("'s", "'ll"), ("", ""), ("数学", "答案 42"), ("a  ", "  ")]
    conversations = [(train_human(p), s) for p, s in lines] + edge
    texts = [(f"{h} {g}", 1) for h, g in conversations] + [(SYSTEM, 100)]
    tok = Llama3Tokenizer(train(piece_counts(texts), 1500))
    for mask in ("organisers", "corrected"):
        for length in (129, 40):
            rows = build_rows(conversations, tok, length, mask)
            assert rows.fallback == 0
            for i, (human, gpt) in enumerate(conversations):
                ids, labels, content = reference_row(render(human, gpt), tok, length, mask)
                assert rows.input_ids[i].tolist() == ids and rows.labels[i].tolist() == labels
                assert rows.content[i] == content


def test_cli_writes_a_readable_mindrecord(tmp_path, byte_tok):
    conv = tmp_path / "conv.json"
    records = [{"problem": "计算 1 + 1 等于多少？", "solution": "1 + 1 = 2"},
               {"problem": "p" * 300, "solution": "long"}]
    conv.write_text(json.dumps(to_conversations(records), ensure_ascii=False), encoding="utf-8")
    model = tmp_path / "bytes.model"
    model.write_text(format_ranks({bytes([b]): b for b in range(256)}), encoding="ascii")
    out, report = tmp_path / "train.mindrecord", tmp_path / "mindrecord.json"
    assert cli(["mindrecord", "--in", str(conv), "--tokenizer", str(model), "--seq-length", "256",
                "--out", str(out), "--report", str(report)]) == 0
    assert out.exists() and (tmp_path / "train.mindrecord.db").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    doc = json.loads(report.read_text())
    assert doc["rows"] == 2 and doc["truncated_rows"] == 1 and doc["fully_masked_rows"] == 1
    assert doc["row_length"] == 257 and sum(b["count"] for b in doc["histogram"]) == 2
    import mindspore.dataset as ds

    rows = list(ds.MindDataset(str(out), shuffle=False).create_dict_iterator(output_numpy=True))
    h, g = train_human(records[0]["problem"]), records[0]["solution"]
    ids, labels = hand_row(h, g, 257)
    assert rows[0]["input_ids"].dtype == np.int32 and rows[0]["labels"].dtype == np.int32
    assert rows[0]["input_ids"].tolist() == ids and rows[0]["labels"].tolist() == labels
    assert rows[1]["input_ids"].shape == (257,)


def test_bad_tokenizer_leaves_no_output(tmp_path, capsys):
    conv = tmp_path / "conv.json"
    conv.write_text(json.dumps(to_conversations([{"problem": "a", "solution": "b"}])), encoding="utf-8")
    model = tmp_path / "bad.model"
    model.write_bytes(base64.b64encode(b"a") + b" zero\n")
    out = tmp_path / "train.mindrecord"
    assert cli(["mindrecord", "--in", str(conv), "--tokenizer", str(model), "--seq-length", "64",
                "--out", str(out), "--report", str(tmp_path / "r.json")]) == 1
    assert f"{model}:1" in capsys.readouterr().err
    assert set(tmp_path.iterdir()) == {conv, model}


def test_rows_written_in_chunks_read_back_exactly(tmp_path):
    """Several write calls (a short last chunk) give back every row as written, in order."""
    import mindspore.dataset as ds

    from mathlora.data import mindrecord

    rng = np.random.default_rng(3)
    n, length = 3 * 7 + 2, 33
    ids = rng.integers(0, 5000, size=(n, length), dtype=np.int32)
    labels = np.where(rng.random((n, length)) < 0.3, IGN, ids).astype(np.int32)
    path = tmp_path / "x.mindrecord"
    original = mindrecord.CHUNK
    mindrecord.CHUNK = 7
    try:
        mindrecord.write_mindrecord(path, ids, labels)
    finally:
        mindrecord.CHUNK = original
    rows = list(ds.MindDataset(str(path), shuffle=False).create_dict_iterator(output_numpy=True))
    assert len(rows) == n
    for row, want_ids, want_labels in zip(rows, ids, labels):
        assert np.array_equal(row["input_ids"], want_ids) and np.array_equal(row["labels"], want_labels)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.mindrecord", "x.mindrecord.db"]
