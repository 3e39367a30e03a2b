"""``mathlora evaluate``: one model's math sets and SQuAD in one process, each output the same as
``predict`` and ``squad eval`` write alone, on a tiny random model (its greedy texts vary by prompt).

SQuAD is set to another length than the yaml's, so the command builds its second network too.
"""

from __future__ import annotations

import json

import pytest
from _model_helpers import mathlora, render_both_yamls, save_random_base, settings, sharpen

from mathlora.artifacts import read_artifact

TINY = settings(model__seq_length=128, evaluate__max_length=128)
PROBLEMS = [{"problem": f"{a} + {b} = ?", "solution": f"{a} + {b} = {a + b}"}
            for a, b in ((12, 30), (7, 5), (1000, 2), (3, 44), (91, 9))]
SQUAD = {"data": [{"title": "t", "paragraphs": [
    {"context": f"{name} keeps {count} goats in {town}.",
     "qas": [{"id": str(i), "question": f"Where are the goats of {name}?",
              "answers": [{"text": town, "answer_start": 0}]}]}
    for i, (name, count, town) in enumerate((("Ada", 3, "Rome"), ("Bo", 12, "Oslo"),
                                             ("Cy", 7, "Lima")))]}]}
LENGTHS = ["--batch-size", "2", "--max-length", "128"]
GENERATION = [*LENGTHS, "--max-new-tokens", "6", "--min-new-tokens", "1"]
SQUAD_GENERATION = ["--squad-max-length", "160", "--squad-max-new-tokens", "5",
                    "--squad-min-new-tokens", "1"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("evaluate")
    out = render_both_yamls(tmp, TINY)
    out["checkpoint"] = sharpen(save_random_base(out["finetune"], tmp / "random.ckpt", seed=5))
    out["test"] = tmp / "test.json"
    out["test"].write_text(json.dumps(PROBLEMS), encoding="utf-8")
    out["squad"] = tmp / "squad.json"
    out["squad"].write_text(json.dumps(SQUAD), encoding="utf-8")
    return out


def loaded(model) -> list[str]:
    return ["--model-yaml", str(model["predict"]), "--checkpoint", str(model["checkpoint"]),
            "--tokenizer", str(model["tokenizer"])]


def outputs(folder) -> list[str]:
    folder.mkdir()
    return [str(folder / name) for name in ("predictions.jsonl", "result_npy.npy", "predict.json")]


@pytest.mark.slow
def test_one_process_writes_what_predict_and_squad_write_alone(model):
    tmp = model["tmp"]
    done = mathlora("evaluate", "--model", "m", *loaded(model), *GENERATION, *SQUAD_GENERATION,
                    "--math", str(model["test"]), "entry", *outputs(tmp / "entry"),
                    "--math", str(model["test"]), "finetune", *outputs(tmp / "template"),
                    "--squad", str(model["squad"]), str(tmp / "squad-out.json"), cwd=tmp)
    assert done.returncode == 0, done.stderr[-3000:]
    alone = mathlora("predict", "--model", "m", "--test", str(model["test"]), *loaded(model),
                     *GENERATION, "--prompt", "entry", "--out-jsonl", str(tmp / "alone.jsonl"),
                     "--out-npy", str(tmp / "alone.npy"), "--out-json", str(tmp / "alone.json"), cwd=tmp)
    assert alone.returncode == 0, alone.stderr[-3000:]
    squad = mathlora("squad", "eval", "--model", "m", "--dev", str(model["squad"]), *loaded(model),
                     *LENGTHS, *SQUAD_GENERATION, "--out", str(tmp / "alone-squad.json"), cwd=tmp)
    assert squad.returncode == 0, squad.stderr[-3000:]

    together = (tmp / "entry" / "predictions.jsonl").read_bytes()
    assert together == (tmp / "alone.jsonl").read_bytes()
    assert (tmp / "entry" / "result_npy.npy").read_bytes() == (tmp / "alone.npy").read_bytes()
    generations = [json.loads(line)["generation"] for line in together.decode().splitlines()]
    assert len(set(generations)) > 1  # the texts depend on the prompt: the comparison means something
    reports = [read_artifact(p, "predict") for p in (tmp / "entry" / "predict.json", tmp / "alone.json")]
    timing = {"seconds", "tokens_per_second", "provenance"}
    assert [{k: v for k, v in r.items() if k not in timing} for r in reports][0] == \
        [{k: v for k, v in r.items() if k not in timing} for r in reports][1]
    # The second set was asked in the fine-tuning template.
    template = [json.loads(line) for line in (tmp / "template" / "predictions.jsonl").open()]
    assert read_artifact(tmp / "template" / "predict.json", "predict")["prompt"] == "finetune"
    assert all(not r["prompt"].startswith("Please answer") for r in template)
    # SQuAD at its own length: the same answers and scores as `squad eval` alone.
    ours, theirs = (read_artifact(tmp / name, "squad") for name in ("squad-out.json", "alone-squad.json"))
    assert ours["examples"] == theirs["examples"] and (ours["f1"], ours["em"]) == (theirs["f1"], theirs["em"])
    assert ours["predict"]["max_length"] == 160 and ours["predict"]["prompt_too_long"] == 0


def test_nothing_to_do_and_bad_settings_are_refused_before_loading(tmp_path):
    done = mathlora("evaluate", "--model-yaml", "y", "--checkpoint", "c", "--tokenizer", "t", cwd=tmp_path)
    assert done.returncode != 0 and "nothing to do" in done.stderr
    test = tmp_path / "test.json"
    test.write_text(json.dumps(PROBLEMS), encoding="utf-8")
    done = mathlora("evaluate", "--model-yaml", "y", "--checkpoint", "c", "--tokenizer", "t",
                    *LENGTHS, *SQUAD_GENERATION, "--max-new-tokens", "2", "--min-new-tokens", "3",
                    "--math", str(test), "entry", "a", "b", "c", cwd=tmp_path)
    assert done.returncode != 0 and "evaluate.min_new_tokens" in done.stderr
    done = mathlora("evaluate", "--model-yaml", "y", "--checkpoint", "c", "--tokenizer", "t", *GENERATION,
                    *SQUAD_GENERATION, "--math", str(test), "no-such-prompt", "a", "b", "c", cwd=tmp_path)
    assert done.returncode != 0 and "evaluate.prompt" in done.stderr
    assert not any(tmp_path.glob("a*")) and not (tmp_path / "a").exists()
