"""r1.1's generation length: a long prompt overflows the predict yaml's seq_length there.

MindFormers r1.1's ``text_generator.py`` clamps ``max_length`` to ``seq_length`` and then sets it to
``max_new_tokens`` + the longest prompt, so a batch whose longest prompt leaves fewer than
``max_new_tokens`` positions writes ``input_ids[i, seq_length]``: IndexError, no result file.
MindFormers 1.9 clamps after adding. The stand-in takes r1.1's bound back; the shipped script fits
the yaml's seq_length to the longest prompt first, or refuses an item that cannot fit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _model_helpers import mathlora, render_both_yamls, save_random_base, settings

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "submission" / "run_llama3_test.py"
# predict yaml: 128 positions, 8 new tokens; the byte-level test tokenizer gives one id per ASCII byte
TINY = settings(model__seq_length=128, evaluate__max_length=128)
SHORT = {"problem": "What is 1 + 2?", "solution": "3"}
# 55 bytes of prompt around 69 of problem: 124 ids, within seq_length, not with 8 more
LONG = {"problem": "Add " + " + ".join(["1"] * 17), "solution": "17"}


def _script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_llama3_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ascend_r11_generation_length_arithmetic():
    from mathlora.standin import r11_max_length

    # the shipped predict yaml: seq_length 512, max_new_tokens 128, the script's max_length 512
    assert r11_max_length(512, 512, 128, 384) == 512  # fits exactly
    assert r11_max_length(512, 512, 128, 385) == 513  # writes input_ids[i, 512]
    assert r11_max_length(512, 600, None, 385) == 512  # without max_new_tokens: clamped, safe
    assert r11_max_length(3000, 512, 128, 385) == 513  # the organisers' seq_length 3000: fits


def test_ascend_script_fits_seq_length_to_the_longest_prompt(capsys):
    from mindformers import MindFormerConfig

    script = _script()
    document = yaml.safe_load((ROOT / "submission" / "predict_llama3_8b_lora.yaml").read_text())
    model = document["model"]["model_config"]
    assert (model["seq_length"], model["max_new_tokens"], model["use_past"]) == (512, 128, True)

    def config():
        return MindFormerConfig(**json.loads(json.dumps(document)))

    short = config()
    assert script.fit_seq_length(short, [40, 384], "test.json") == 512
    assert short.model.model_config.seq_length == 512
    grown = config()
    assert script.fit_seq_length(grown, [40, 385, 100], "test.json") == 576  # 513 -> blocks of 64
    assert grown.model.model_config.seq_length == 576
    assert "seq_length 512 -> 576: item 2 of test.json" in capsys.readouterr().err
    with pytest.raises(script.PromptTooLongError, match=r"test\.json: item 3: its prompt is 8100 tokens"):
        script.fit_seq_length(config(), [40, 50, 8100], "test.json")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bound")
    out = render_both_yamls(tmp, TINY)
    out["checkpoint"] = save_random_base(out["finetune"], tmp / "random.ckpt", seed=3)
    return out


GENERATE = """
import sys, numpy as np
from mathlora.standin import install
install()
from mathlora.model import network
network.set_context("cpu")
net = network.build_causal_lm(network.llama_config(sys.argv[1], batch_size=1))
net.set_train(False)
for length in (120, 121):  # + 8 new tokens: 128 fits, 129 does not
    try:
        net.generate([list(range(1, length + 1))], max_length=128, max_new_tokens=8, do_sample=False)
        print(length, "ok")
    except IndexError as error:
        print(length, "IndexError", error)
"""


@pytest.mark.slow
def test_ascend_standin_generation_overflows_as_r11_for_a_long_prompt(tiny):
    done = subprocess.run([sys.executable, "-c", GENERATE, str(tiny["predict"])], capture_output=True,
                          text=True, cwd=tiny["tmp"], timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith(("120 ", "121 "))]
    assert lines[0] == "120 ok"
    assert lines[1].startswith("121 IndexError index 128 is out of bounds for axis 1 with size 128")


def _run_script(tiny, problems: list[dict], name: str) -> tuple[subprocess.CompletedProcess, Path]:
    tmp = tiny["tmp"]
    test = tmp / f"{name}.json"
    test.write_text(json.dumps(problems), encoding="utf-8")
    run = tmp / name
    done = mathlora("entry-script", "--script", str(SCRIPT), "--workdir", str(run),
                    "--out", str(tmp / f"{name}.entry.json"), "--",
                    "--config", str(tiny["predict"]), "--run_mode", "predict", "--use_parallel", "False",
                    "--load_checkpoint", str(tiny["checkpoint"]), "--vocab_file", str(tiny["tokenizer"]),
                    "--auto_trans_ckpt", "False", "--input_dir", str(test), "--max_length", "128", cwd=tmp)
    return done, run / "result_npy.npy"


@pytest.mark.slow
def test_ascend_shipped_script_fits_a_long_prompt_and_refuses_one_too_long(tiny):
    done, result = _run_script(tiny, [SHORT, LONG, SHORT], "long")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "seq_length 128 -> " in done.stderr and "item 2 of" in done.stderr
    from mathlora.evaluate.npy_safe import load_result_texts

    assert len(load_result_texts(result)) == 3
    # longer than the processor's model_max_length (8192): refused before the model is loaded
    huge = {"problem": "1 + " * 2100, "solution": "0"}
    done, result = _run_script(tiny, [SHORT, huge], "huge")
    assert done.returncode != 0
    assert "item 2: its prompt is" in done.stdout + done.stderr
    assert not result.exists()
