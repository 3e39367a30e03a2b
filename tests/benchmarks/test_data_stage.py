"""Time of the data stage on a full-size generated train.json, beside pure tokenization of its text.

Runs only with ``--benchmark-only`` (``make bench``): generating the 809,993-line file and writing a
90,000-row MindRecord takes about a minute.
"""

import os

import pytest

from mathlora.cli import main as cli
from mathlora.data import synth
from mathlora.data.conversation import read_conversations
from mathlora.data.qa import render
from mathlora.tokenizer.llama3 import Llama3Tokenizer

os.environ.setdefault("LOG_MF_PATH", "/tmp/mathlora-bench-mf-logs")
SEED = 20240705


@pytest.fixture(scope="module")
def full(request, tmp_path_factory):
    if not request.config.getoption("benchmark_only", default=False):
        pytest.skip("a benchmark: run with --benchmark-only")
    root = tmp_path_factory.mktemp("data_stage")
    raw = root / "train.json"
    synth.write_lines(raw, synth.generate(synth.REAL_CHINESE_LINES, synth.REAL_ENGLISH_LINES, SEED, 0.01))
    # The tokenizer is an input of the stage, trained once outside the timing.
    assert stage(root, raw, tokenizer=None) == 0
    assert cli(["tokenizer", "train", "--in", str(root / "conv.json"), "--ranks", "3000",
                "--out", str(root / "tok.model"), "--report", str(root / "tok.json")]) == 0
    return root, raw


def stage(root, raw, tokenizer):
    """prepare -> split -> conversation (-> mindrecord when a tokenizer is given), the entry's sizes."""
    common = ["--in", str(raw), "--chinese-lines", "800000", "--seed", str(SEED)]
    codes = [
        cli(["prepare", *common, "--chinese", "88800", "--english", "1200",
             "--out", str(root / "train.jsonl"), "--report", str(root / "prepare.json")]),
        cli(["split", *common, "--train", str(root / "train.jsonl"), "--size", "2000",
             "--out", str(root / "test.jsonl"), "--report", str(root / "split.json")]),
        cli(["conversation", "--in", str(root / "train.jsonl"), "--out", str(root / "conv.json")]),
    ]
    if tokenizer is not None:
        codes.append(cli(["mindrecord", "--in", str(root / "conv.json"), "--tokenizer", str(tokenizer),
                          "--seq-length", "256", "--out", str(root / "train.mindrecord"),
                          "--report", str(root / "mindrecord.json")]))
    return max(codes)


def test_data_stage(benchmark, full):
    root, raw = full
    result = benchmark.pedantic(stage, args=(root, raw, root / "tok.model"), rounds=1, iterations=1)
    assert result == 0
    assert (root / "train.mindrecord.db").exists()


def test_pure_tokenization(benchmark, full):
    root, _ = full
    tokenizer = Llama3Tokenizer.from_file(root / "tok.model")
    texts = [render(human, gpt) for human, gpt in read_conversations(root / "conv.json")]
    ids = benchmark.pedantic(tokenizer.encode_batch, args=(texts,), rounds=3, iterations=1)
    assert len(ids) == 90_000
