"""predict's pure parts: prompts, token budgets, output files, and the generation loop (fake model)."""

import json
import sys
import types

import numpy as np
import pytest

from mathlora.evaluate import predict
from mathlora.evaluate.npy_safe import load_result_texts
from mathlora.settings import MathSettings


class CharTokenizer:
    """One id per character; bos/eos/pad beyond the character range."""

    bos_id, eos_id, pad_id = 100000, 100001, 100002

    def encode(self, text, *, bos=False, eos=False):
        return ([self.bos_id] if bos else []) + [ord(c) for c in text] + ([self.eos_id] if eos else [])

    def decode(self, ids, *, skip_special=False):
        return "".join(chr(i) for i in ids)


def test_prompts_are_the_entrys_by_default():
    test = [{"problem": "计算 1 + 2 等于多少？", "solution": "3"}]
    default = MathSettings.from_section({"rel_tol": 0}).prompt  # the config schema's default
    assert predict.math_prompts(test, default) == [
        "Please answer the following math promblem:\n 计算 1 + 2 等于多少？\n###answer:"]
    assert predict.math_prompts(test, "report") == [
        "Please answer the following math problems:\n计算 1 + 2 等于多少？\n###answer"]


def test_budgets():
    assert predict.budgets([10, 500, 512, 600], max_new_tokens=24, max_length=512) == [24, 12, 0, 0]


def test_generate_texts_with_a_fake_model(monkeypatch):
    calls = []

    def greedy(model, prompts, *, max_new_tokens, min_new_tokens=0, eos_id, pad_id,
               batch_size, progress=True):
        calls.append((len(prompts), max_new_tokens, min_new_tokens))
        # continuation: " =" then the prompt's last character, then "x" up to the budget (like
        # greedy, never more than max_new_tokens); the second prompt's closest call a near tie
        ids = [([ord(" "), ord("="), p[-1]] + [ord("x")] * 50)[:max_new_tokens] for p in prompts]
        return types.SimpleNamespace(ids=ids, margins=[0.5, 2e-4][:len(prompts)])

    monkeypatch.setitem(sys.modules, "mathlora.model.generate", types.SimpleNamespace(greedy=greedy))
    model = types.SimpleNamespace(config=types.SimpleNamespace(seq_length=30))
    prompts = ["a" * 5, "b" * 20, "c" * 40]
    gen = predict.generate_texts(model, CharTokenizer(), prompts, max_new_tokens=8, max_length=512,
                                 batch_size=2, min_new_tokens=1)
    # 6 prompt ids -> 8 new; 21 -> 9 left of the model's 30, capped at 8; 41 -> none left
    assert gen.budgets == [8, 8, 0]
    assert gen.texts == [" =axxxxx", " =bxxxxx", ""]
    assert calls == [(2, 8, 1)]
    stats = gen.stats()
    assert stats["prompt_too_long"] == 1 and stats["hit_token_limit"] == 2
    assert stats["generated_tokens"] == 16 and stats["empty_generations"] == 1
    # The prompt without room decided nothing; the near tie is counted and is the smallest margin.
    assert gen.margins == [0.5, 2e-4, float("inf")]
    assert stats["near_ties"] == 1 and stats["smallest_margin"] == 2e-4
    # A decoder that shows no logits (MindFormers' generate on Ascend) counts no near ties.
    untraced = predict.Generation(["a"], [1], [1], [1], 1.0, [float("nan")]).stats()
    assert untraced["near_ties"] is None and untraced["smallest_margin"] is None


def test_output_files(tmp_path):
    prompts = ["P1\n###answer:", "P2\n###answer:"]
    records = predict.prediction_records(prompts, [" 3", ""])
    assert records[0] == {"id": "1", "prompt": prompts[0], "output": prompts[0] + " 3",
                          "generation": " 3"}
    predict.write_jsonl(tmp_path / "p.jsonl", records)
    lines = (tmp_path / "p.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == records
    predict.write_result_npy(tmp_path / "r.npy", [r["output"] for r in records])
    loaded = np.load(tmp_path / "r.npy", allow_pickle=True)
    assert list(loaded) == [{"text_generation_text": [prompts[0] + " 3"]},
                            {"text_generation_text": [prompts[1]]}]
    assert load_result_texts(tmp_path / "r.npy") == [prompts[0] + " 3", prompts[1]]
    with pytest.raises(ValueError):
        predict.prediction_records(prompts, [" 3"])
