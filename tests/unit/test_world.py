"""The tiny base's world corpus: other phrasings, every wrapper, no training or test problem."""

from __future__ import annotations

import json

from mathlora.artifacts import read_artifact
from mathlora.cli import main as cli
from mathlora.data import world
from mathlora.prompts import ENTRY


def test_organiser_problems_are_keyed_by_their_operands():
    assert world.arithmetic_key("计算 12 + 34 等于多少？") == "add:12:34"
    assert world.arithmetic_key("计算 -7.50 - 3.25 等于多少？") == "subtract:-7.50:3.25"
    assert world.arithmetic_key("计算 12 * 34 等于多少？") is None
    assert world.arithmetic_key("解方程 2x + 3 = 0") is None


def test_excluded_pairs_never_appear_and_the_phrasing_is_never_the_organisers(tmp_path):
    excluded = {f"add:{a}:{b}" for a in range(10) for b in range(10)}
    documents = world.arithmetic_documents(80, 9, seed=1, excluded=excluded)
    assert all(d["key"].startswith("subtract:") for d in documents)  # every add pair is excluded
    assert len({d["key"] for d in documents}) > 50  # pairs recur only by chance
    assert not any("计算" in d["text"] or "等于多少" in d["text"] or " + " in d["text"] for d in documents)
    assert any(d["text"].startswith(ENTRY.prefix) for d in documents)  # the entry's wrapper is seen


def test_reading_documents_end_with_their_answer_span():
    documents = world.reading_documents(5, seed=3)
    assert documents and all(d["kind"] == "reading" for d in documents)
    assert all(d["text"].startswith("Read the passage and answer the question below.") for d in documents)


def test_the_corpus_file_is_deterministic_and_leaves_out_the_given_sets(tmp_path):
    problems = tmp_path / "test.jsonl"
    problems.write_text("".join(json.dumps({"problem": f"计算 {a} + {b} 等于多少？", "solution": "x"},
                                           ensure_ascii=False) + "\n" for a in range(5) for b in range(5)))
    argv = ["world", "--seed", "2", "--arithmetic", "100", "--paragraphs", "3", "--largest", "9",
            "--exclude", str(problems)]
    assert cli(argv + ["--out", str(tmp_path / "a.jsonl"), "--report", str(tmp_path / "a.json")]) == 0
    assert cli(argv + ["--out", str(tmp_path / "b.jsonl"), "--report", str(tmp_path / "b.json")]) == 0
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    report = read_artifact(tmp_path / "a.json", "world")
    assert report["excluded_pairs"] == 25 and report["documents"]["arithmetic"] == 100
    keys = {d["key"] for d in world.read_corpus(tmp_path / "a.jsonl") if d["kind"] == "arithmetic"}
    assert not keys & {f"add:{a}:{b}" for a in range(5) for b in range(5)}
    # and the contamination check agrees: no test problem's pair is in the corpus
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps({"problem": "计算 8 + 8 等于多少？", "solution": "16"}) + "\n")
    out = tmp_path / "contamination.json"
    assert cli(["contamination", "--train", str(train), "--test", str(problems), "--base-corpus",
                str(tmp_path / "a.jsonl"), "--out", str(out)]) == 0
    found = read_artifact(out, "contamination")["base_corpus"]
    assert found["operand_pairs"]["count"] == 0 and found["texts"]["count"] == 0


def test_contamination_finds_a_leaked_pair_and_a_corpus_that_is_not_the_bases(tmp_path, capsys):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"kind": "arithmetic", "key": "add:1:2", "text": "What is 1 plus 2?\n3"})
                      + "\n")
    test = tmp_path / "test.jsonl"
    test.write_text(json.dumps({"problem": "计算 1 + 2 等于多少？", "solution": "1 + 2 = 3"},
                               ensure_ascii=False) + "\n")
    out = tmp_path / "c.json"
    assert cli(["contamination", "--train", str(test), "--test", str(test), "--base-corpus", str(corpus),
                "--out", str(out)]) == 0
    assert read_artifact(out, "contamination")["base_corpus"]["operand_pairs"]["count"] == 1
