"""The shipped run_llama3_test.py, run for real through MindFormers on a tiny random model.

The script runs unchanged in the stand-in of its contest environment (``mathlora entry-script``):
MindFormers' own Trainer.predict and text-generation pipeline, a JSON array input, result_npy.npy
as np.save writes it. Its texts must equal those of ``mathlora predict`` on the same checkpoint and
problems: both are greedy decoders of the same weights, with the same prompt bytes, no bos, at
least one and at most max_new_tokens new tokens, and special tokens dropped from the text.
Random weights make the continuations varied (every id, special ones included, is likely).
"""

from __future__ import annotations

import json

import pytest
from _model_helpers import mathlora, render_both_yamls, save_random_base, settings, sharpen

from mathlora.artifacts import read_artifact
from mathlora.evaluate.npy_safe import load_result_batches
from mathlora.prompts import math_prompt

# The byte-level test tokenizer spends three ids on a CJK character: room for the prompts.
LONG = settings(model__seq_length=128, evaluate__max_length=128)
PROBLEMS = [{"problem": f"计算 {a} + {b} 等于多少？", "solution": f"{a} + {b} = {a + b}"}
            for a, b in ((12, 30), (7, 5), (1000, 2), (3, 44), (91, 9), (6, 6))]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("entry")
    out = render_both_yamls(tmp, LONG)
    out["checkpoint"] = sharpen(save_random_base(out["finetune"], tmp / "random.ckpt", seed=3))
    test = tmp / "test.json"
    test.write_text(json.dumps(PROBLEMS, ensure_ascii=False, indent=1), encoding="utf-8")
    out["test"] = test
    return out


@pytest.mark.slow
def test_shipped_script_runs_through_mindformers_and_agrees_with_predict(model):
    tmp = model["tmp"]
    done = mathlora("predict", "--test", str(model["test"]), "--model-yaml", str(model["finetune"]),
                    "--checkpoint", str(model["checkpoint"]), "--tokenizer", str(model["tokenizer"]),
                    "--batch-size", "4", "--max-length", "128", "--max-new-tokens", "8",
                    "--min-new-tokens", "1", "--out-jsonl", str(tmp / "p.jsonl"),
                    "--out-npy", str(tmp / "ours.npy"), "--out-json", str(tmp / "p.json"), cwd=tmp)
    assert done.returncode == 0, done.stderr[-3000:]
    done = mathlora("entry-script", "--script", str(SCRIPT), "--workdir", str(tmp / "run"),
                    "--compare", str(tmp / "ours.npy"), "--out", str(tmp / "entry.json"), "--",
                    "--config", str(model["predict"]), "--run_mode", "predict", "--use_parallel",
                    "False", "--load_checkpoint", str(model["checkpoint"]), "--vocab_file",
                    str(model["tokenizer"]), "--auto_trans_ckpt", "False", "--input_dir",
                    str(model["test"]), "--max_length", "128", "--mode", "0", "--dp", "1", cwd=tmp)
    assert done.returncode == 0, done.stderr[-3000:]
    report = read_artifact(tmp / "entry.json", "entry_script")
    assert report["n"] == len(PROBLEMS) and report["batches"] == 2  # 4 + 2: fillers dropped
    assert report["compared_with"]["differing"] == []
    assert report["compared_with"]["identical"] == len(PROBLEMS)
    batches = load_result_batches(tmp / "run" / "result_npy.npy")
    assert [len(b) for b in batches] == [4, 2]
    texts = [text for batch in batches for text in batch]
    for text, record in zip(texts, PROBLEMS):
        assert text.startswith(math_prompt(record["problem"]))  # the entry's prompt, byte for byte
    continuations = [text[len(math_prompt(r["problem"])):] for text, r in zip(texts, PROBLEMS)]
    assert len(set(continuations)) > 1 and all(continuations)  # varied, and at least one token


SCRIPT = __import__("pathlib").Path(__file__).resolve().parents[2] / "submission" / "run_llama3_test.py"


def test_the_subset_is_stratified_and_fixed():
    from mathlora.evaluate.entry_script import subset

    rows = ([{"problem": f"计算 {i} + 1 等于多少？"} for i in range(10)]
            + [{"problem": f"计算 {i} - 1 等于多少？"} for i in range(10)]
            + [{"problem": f"计算 {i} 的平方根"} for i in range(4)])
    chosen = subset(rows, 6)
    assert chosen == subset(rows, 6) == sorted(chosen)
    operators = [rows[at]["problem"].split()[2] for at in chosen]
    # 2.5 / 2.5 / 1 by proportion: the tie on the remainder goes to the category listed first
    assert (operators.count("+"), operators.count("-"), operators.count("的平方根")) == (3, 2, 1)
    assert chosen[:2] == [0, 1]  # the first of each category, in file order


def test_the_input_flag_is_replaced_in_either_spelling():
    from mathlora.evaluate.entry_script import with_option

    assert with_option(["--input_dir", "a", "--x", "1"], "--input_dir", "b") == ["--input_dir", "b", "--x", "1"]
    assert with_option(["--input_dir=a"], "--input_dir", "b") == ["--input_dir=b"]
