"""The generated SQuAD-v1.1-format set: format, answer spans, determinism."""

import json

from mathlora.cli import main as cli
from mathlora.data.squad_synth import check_spans, dataset
from mathlora.evaluate.squad import read_examples


def test_spans_are_in_the_passages():
    document = dataset(7, "train", 200)
    assert document["version"] == "1.1" and check_spans(document) == 0
    for article in document["data"]:
        for para in article["paragraphs"]:
            assert 3 <= len(para["qas"]) <= 4
            for qa in para["qas"]:
                answer = qa["answers"][0]
                start = answer["answer_start"]
                assert para["context"][start:start + len(answer["text"])] == answer["text"]
                # whole-word span: not the inside of a longer word
                assert start == 0 or not para["context"][start - 1].isalnum()


def test_splits_differ_and_short_passages():
    train, dev = dataset(7, "train", 30), dataset(7, "dev", 30)
    contexts = lambda d: [p["context"] for a in d["data"] for p in a["paragraphs"]]  # noqa: E731
    assert not set(contexts(train)) & set(contexts(dev))
    assert max(len(c) for c in contexts(train)) < 260


def test_cli_is_deterministic_and_readable(tmp_path):
    paths = []
    for run in ("a", "b"):
        dev = tmp_path / f"{run}-dev.json"
        assert cli(["squad", "synth", "--seed", "5", "--dev", "12", "--dev-out", str(dev)]) == 0
        paths.append(dev)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    examples, without = read_examples(paths[0])
    assert len(examples) == 12 and without == 0
    assert sum(len(a["paragraphs"]) for a in json.loads(paths[0].read_text())["data"]) == 12


def test_the_base_check_split_is_its_own(tmp_path):
    """make base-model's reading check: other passages than the reported dev set's, same format."""
    dev, check = tmp_path / "dev.json", tmp_path / "check.json"
    assert cli(["squad", "synth", "--seed", "5", "--dev", "12", "--out", str(dev)]) == 0
    assert cli(["squad", "synth", "--seed", "5", "--dev", "12", "--split", "base-check",
                "--out", str(check)]) == 0
    contexts = [{p["context"] for a in json.loads(path.read_text())["data"] for p in a["paragraphs"]}
                for path in (dev, check)]
    assert len(contexts[1]) == 12 and not contexts[0] & contexts[1]
    assert read_examples(check)[1] == 0
