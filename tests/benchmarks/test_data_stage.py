"""Time of the data stage on a full-size generated train.json, beside pure tokenization of its text.

Four figures, same tokenizer (3,000 BPE ranks trained on the sample, as the default config does):

- ``test_data_stage``: prepare, split, conversation, mindrecord one after another on the
  809,993-line file at the entry's sizes (88,800 + 1,200 sampled, 2,000 test problems,
  seq_length 256), each a ``mathlora`` process as the Snakemake rules run them (interpreter start,
  imports and MindSpore's import included): the stage on one core.
- ``test_data_stage_2_cores``: the same commands as ``snakemake --cores 2`` schedules them: prepare,
  then split beside conversation -> mindrecord (both need only prepare's sample).
- ``test_pure_tokenization_raw``: ``encode_ordinary`` of every problem and solution of the raw file
  (all 809,993 lines, each field separately, JSON already parsed): the text the stage reads.
- ``test_pure_tokenization``: ``encode_ordinary`` of the 90,000 rendered training conversations
  (vicuna template included): the text the stage tokenizes.

Runs only with ``--benchmark-only`` (``make bench``): generating the file takes about a minute.
"""

import json
import os
import subprocess
import sys

import pytest

from mathlora.cli import main as cli
from mathlora.data import synth
from mathlora.data.qa import render
from mathlora.jsonl import read_conversations, write_problems
from mathlora.tokenizer.llama3 import Llama3Tokenizer

os.environ.setdefault("LOG_MF_PATH", "/tmp/mathlora-bench-mf-logs")
SEED = 20240705


@pytest.fixture(scope="module")
def full(request, tmp_path_factory):
    if not request.config.getoption("benchmark_only", default=False):
        pytest.skip("a benchmark: run with --benchmark-only")
    root = tmp_path_factory.mktemp("data_stage")
    raw = root / "train.json"
    write_problems(raw, synth.generate(synth.REAL_CHINESE_LINES, synth.REAL_ENGLISH_LINES, SEED, 0.01))
    # The tokenizer is an input of the stage, trained once outside the timing.
    assert stage(root, raw, tokenizer=None) == 0
    assert cli(["tokenizer", "train", "--in", str(root / "conv.json"), "--ranks", "3000",
                "--out", str(root / "tok.model"), "--report", str(root / "tok.json")]) == 0
    return root, raw


def commands(root, raw, tokenizer):
    """The four commands of the stage at the entry's sizes (mindrecord only with a tokenizer)."""
    common = ["--in", str(raw), "--chinese-lines", "800000", "--seed", str(SEED)]
    found = {
        "prepare": ["prepare", *common, "--sample", '{"chinese": 88800, "english": 1200}',
                    "--out", str(root / "train.jsonl"), "--report", str(root / "prepare.json")],
        "split": ["split", *common, "--train", str(root / "train.jsonl"), "--dev-size", "1000",
                  "--test-size", "2000", "--out-dev", str(root / "dev.jsonl"),
                  "--out-test", str(root / "test.jsonl"), "--report", str(root / "split.json")],
        "conversation": ["conversation", "--in", str(root / "train.jsonl"), "--out", str(root / "conv.json"),
                         "--report", str(root / "conversation.json")],
    }
    if tokenizer is not None:
        found["mindrecord"] = ["mindrecord", "--in", str(root / "conv.json"), "--tokenizer", str(tokenizer),
                               "--seq-length", "256", "--out", str(root / "train.mindrecord"),
                               "--report", str(root / "mindrecord.json")]
    return found


def stage(root, raw, tokenizer):
    """prepare -> split -> conversation (-> mindrecord when a tokenizer is given), in this process."""
    return max(cli(argv) for argv in commands(root, raw, tokenizer).values())


def launch(argv):
    return subprocess.Popen([sys.executable, "-m", "mathlora.cli", *argv], stdout=subprocess.DEVNULL)


def stage_processes(root, raw, tokenizer, parallel):
    """The stage as separate processes; with ``parallel``, split runs beside conversation -> mindrecord."""
    steps = commands(root, raw, tokenizer)
    codes = [launch(steps["prepare"]).wait()]
    split = launch(steps["split"])
    if not parallel:
        codes.append(split.wait())
    codes += [launch(steps["conversation"]).wait(), launch(steps["mindrecord"]).wait()]
    if parallel:
        codes.append(split.wait())
    return max(codes)


def test_data_stage(benchmark, full):
    root, raw = full
    result = benchmark.pedantic(stage_processes, args=(root, raw, root / "tok.model", False),
                                rounds=3, iterations=1)
    assert result == 0
    assert (root / "train.mindrecord.db").exists()


def test_data_stage_2_cores(benchmark, full):
    root, raw = full
    result = benchmark.pedantic(stage_processes, args=(root, raw, root / "tok.model", True),
                                rounds=3, iterations=1)
    assert result == 0
    assert (root / "train.mindrecord.db").exists()


def test_pure_tokenization_raw(benchmark, full):
    root, raw = full
    tokenizer = Llama3Tokenizer.from_file(root / "tok.model")
    texts = [text for line in raw.read_text(encoding="utf-8").splitlines()
             for text in json.loads(line).values()]
    ids = benchmark.pedantic(tokenizer.encode_batch, args=(texts,), rounds=3, iterations=1)
    assert len(ids) == 2 * (synth.REAL_CHINESE_LINES + synth.REAL_ENGLISH_LINES)


def test_pure_tokenization(benchmark, full):
    root, _ = full
    tokenizer = Llama3Tokenizer.from_file(root / "tok.model")
    texts = [render(human, gpt) for human, gpt in read_conversations(root / "conv.json")]
    ids = benchmark.pedantic(tokenizer.encode_batch, args=(texts,), rounds=3, iterations=1)
    assert len(ids) == 90_000
