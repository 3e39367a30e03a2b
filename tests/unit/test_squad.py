"""SQuAD F1/EM: identical to MindFormers' EmF1Metric on English and Chinese, and the dev reader."""

import json
import os

import pytest

from mathlora.artifacts import read_artifact
from mathlora.cli import main as cli
from mathlora.errors import InputError
from mathlora.evaluate.squad import corpus_scores, cut_prediction, em_score, f1_score, longest_common_run, read_examples
from mathlora.prompts import SQUAD_PROMPT

PAIRS = [  # (answer, raw prediction)
    ("Denver Broncos", " Denver Broncos\nQuestion: who"),
    ("Denver Broncos", "The Denver Broncos won."),
    ("Santa Clara, California", "Levi's Stadium in Santa Clara, California."),
    ("1452", "It was founded in 1452"),
    ("gold", "golden anniversary"),
    ("郑州市", "郑州市。"),
    ("郑州市", "郑州"),
    ("河南省的省会是郑州", "省会是郑州，位于河南"),
    ("北京大学", "我在北京大学读书"),
    ("I love Beijing.", "I love Beijing, because it's beautiful"),
    ("Hello world", "Hello world。"),
    ("anything", ""),
    ("anything", "\n\nanswer on the third line"),
    ("C-3PO", "c 3po"),
]


@pytest.fixture(scope="module")
def metric():
    os.environ.setdefault("LOG_MF_PATH", "/tmp/mathlora-test-mflog")
    from mindformers.core.metric.metric import EmF1Metric

    return EmF1Metric()


def test_per_pair_scores_match_emf1metric(metric, capsys):
    for answer, raw in PAIRS:
        cut = cut_prediction(raw)
        assert f1_score(answer, cut) == pytest.approx(metric.calc_f1_score([answer], cut), abs=1e-12)
        assert em_score(answer, cut) == metric.calc_em_score([answer], cut)
        assert (longest_common_run(metric.mixed_segmentation(answer, True),
                                   metric.mixed_segmentation(cut, True))
                == metric.find_lcs(metric.mixed_segmentation(answer, True),
                                   metric.mixed_segmentation(cut, True))[1])


def test_corpus_scores_match_emf1metric(metric, capsys):
    metric.clear()
    for answer, raw in PAIRS:
        metric.update([raw], [answer])  # update() strips and cuts at the first newline itself
    expected = metric.eval()
    got = corpus_scores([a for a, _ in PAIRS], [p for _, p in PAIRS])
    assert got["f1"] == pytest.approx(expected["F1"], abs=1e-9)
    assert got["em"] == pytest.approx(expected["Em"], abs=1e-9)
    assert 0 < got["em"] < got["f1"] < 100


def test_known_values():
    assert cut_prediction("  first\nsecond") == "first"
    assert em_score("郑州市", "郑州市。") == 1          # Chinese full stop is punctuation
    assert em_score("Denver", "Denver.") == 0           # the ASCII full stop is not
    assert f1_score("a b", "") == 0.0


def squad_file(tmp_path, paragraphs):
    path = tmp_path / "dev.json"
    path.write_text(json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": paragraphs}]}),
                    "utf-8")
    return path


def test_reader_takes_first_question_and_answer(tmp_path):
    path = squad_file(tmp_path, [
        {"context": "Ann met Bob.", "qas": [
            {"id": "q1", "question": "Who met Bob?", "answers": [{"text": "Ann", "answer_start": 0},
                                                                  {"text": "Ann.", "answer_start": 0}]},
            {"id": "q2", "question": "Who did Ann meet?", "answers": [{"text": "Bob", "answer_start": 8}]}]},
        {"context": "No questions here.", "qas": []},
    ])
    examples, without = read_examples(path)
    assert [(e.id, e.answer) for e in examples] == [("q1", "Ann")] and without == 1
    assert examples[0].prompt == SQUAD_PROMPT.format(context="Ann met Bob.", question="Who met Bob?")
    assert examples[0].prompt.endswith("### Input:\nWho met Bob?\n\n### Response:")


@pytest.mark.parametrize("paragraphs, field", [
    ([{"qas": []}], "data/0/paragraphs/0/context"),
    ([{"context": "x", "qas": [{"question": "q", "answers": []}]}], "data/0/paragraphs/0/qas/0"),
    ([{"context": "x"}], "data/0/paragraphs/0/qas"),
])
def test_reader_bad_input(tmp_path, paragraphs, field):
    with pytest.raises(InputError, match=field):
        read_examples(squad_file(tmp_path, paragraphs))


def test_eval_from_saved_generations(tmp_path, capsys):
    dev = squad_file(tmp_path, [
        {"context": "Ann met Bob.", "qas": [{"id": "a", "question": "Who met Bob?",
                                             "answers": [{"text": "Ann", "answer_start": 0}]}]},
        {"context": "郑州是河南的省会。", "qas": [{"id": "b", "question": "河南的省会是哪里？",
                                                "answers": [{"text": "郑州", "answer_start": 0}]}]},
    ])
    gens = tmp_path / "gens.jsonl"
    gens.write_text('{"id": "a", "generation": " Ann\\nQuestion"}\n{"id": "b", "generation": ""}\n',
                    "utf-8")
    out = tmp_path / "squad.json"
    assert cli(["squad", "eval", "--dev", str(dev), "--generations", str(gens), "--model", "base",
                "--out", str(out)]) == 0
    report = read_artifact(out, "squad")
    assert (report["f1"], report["em"], report["n"]) == (50.0, 50.0, 2)
    assert report["empty_predictions"] == 1 and report["examples"][0]["prediction"] == "Ann"
    gens.write_text('{"id": "a", "generation": "Ann"}\n', "utf-8")
    assert cli(["squad", "eval", "--dev", str(dev), "--generations", str(gens),
                "--out", str(out)]) == 1
    assert "1 generations for 2 SQuAD examples" in capsys.readouterr().err


def test_eval_without_model_or_generations(tmp_path, capsys):
    dev = squad_file(tmp_path, [{"context": "x", "qas": [
        {"id": "a", "question": "q", "answers": [{"text": "x", "answer_start": 0}]}]}])
    assert cli(["squad", "eval", "--dev", str(dev), "--out", str(tmp_path / "s.json")]) == 1
    assert "--generations or all of --model-yaml" in capsys.readouterr().err


def test_report_scores_are_the_mean_of_the_per_example_scores_and_equal_corpus_scores():
    from mathlora.evaluate.squad import Example, score_examples

    examples = [Example(str(i), "ctx", "q?", answer) for i, (answer, _) in enumerate(PAIRS)]
    generations = [raw for _, raw in PAIRS]
    scores = score_examples(examples, generations)
    corpus = corpus_scores([a for a, _ in PAIRS], generations)
    assert (scores["f1"], scores["em"]) == (corpus["f1"], corpus["em"])  # exactly, not approx
    assert scores["f1"] == pytest.approx(sum(e["f1"] for e in scores["examples"]) / len(PAIRS))
    assert scores["em"] == pytest.approx(sum(e["em"] for e in scores["examples"]) / len(PAIRS))
    assert scores["empty_predictions"] == 1  # the "" generation


def test_all_questions_option_reads_every_question(tmp_path):
    document = {"version": "1.1", "data": [{"title": "t", "paragraphs": [
        {"context": "c1", "qas": [{"id": "a", "question": "q1", "answers": [{"text": "x"}]},
                                  {"id": "b", "question": "q2", "answers": [{"text": "y"}]}]},
        {"context": "c2", "qas": []}]}]}
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    first, without = read_examples(path)
    every, _ = read_examples(path, all_questions=True)
    assert [e.id for e in first] == ["a"] and without == 1
    assert [(e.id, e.answer) for e in every] == [("a", "x"), ("b", "y")]


def test_limit_must_be_positive(tmp_path, capsys):
    assert cli(["squad", "eval", "--dev", str(tmp_path / "dev.json"), "--out", str(tmp_path / "s.json"),
                "--generations", str(tmp_path / "g.jsonl"), "--limit", "0"]) == 1
    assert "--limit must be >= 1, got 0" in capsys.readouterr().err
