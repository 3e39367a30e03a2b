"""submission/run_llama3_test.py: what can run without MindSpore (CLI, prompt, input, batches, npy)."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from mathlora import prompts

SCRIPT = Path(__file__).resolve().parents[2] / "submission" / "run_llama3_test.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("run_llama3_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def literal_constants() -> dict[str, object]:
    tree = ast.parse(SCRIPT.read_text(encoding="utf-8"))
    return {node.targets[0].id: node.value.value for node in tree.body
            if isinstance(node, ast.Assign) and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Constant)}


def test_prompt_strings_are_byte_identical_to_the_project():
    constants = literal_constants()
    assert constants["MATH_PROMPT_PREFIX"].encode() == prompts.MATH_PROMPT_PREFIX.encode()
    assert constants["MATH_PROMPT_SUFFIX"].encode() == prompts.MATH_PROMPT_SUFFIX.encode()


def test_entry_facts():
    constants = literal_constants()
    assert constants["BATCH_SIZE"] == 4
    assert constants["RESULT_FILE"] == "result_npy.npy"
    assert constants["REQUIRED_OUTPUT_DIR"] == "./output"


def test_only_standard_library_at_module_level():
    tree = ast.parse(SCRIPT.read_text(encoding="utf-8"))
    top = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import)
           for alias in node.names}
    top |= {node.module.split(".")[0] for node in tree.body
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    assert top <= set(sys.stdlib_module_names) | {"__future__"}, top


def test_wraps_problems_like_the_project(script):
    for problem in ("计算 1 + 2 等于多少？", "What is $\\frac{1}{2}$?\nShow work", ""):
        assert script.math_prompt(problem) == prompts.math_prompt(problem)


def test_cli_matches_run_llama3(script):
    args = script.build_parser().parse_args([
        "--config", "predict.yaml", "--run_mode", "predict", "--use_parallel", "False",
        "--load_checkpoint", "ckpt2.ckpt", "--vocab_file", "tokenizer.model",
        "--auto_trans_ckpt", "True", "--input_dir", "test.jsonl"])
    assert args.use_parallel is False and args.auto_trans_ckpt is True
    assert args.max_length == 512 and args.batch_size == 4 and args.result_file == "result_npy.npy"
    assert args.load_checkpoint == "ckpt2.ckpt" and args.vocab_file == "tokenizer.model"


@pytest.mark.parametrize("argv", [
    ["--config", "c.yaml", "--input_dir", "t.jsonl", "--run_mode", "finetune"],
    ["--config", "c.yaml", "--input_dir", "t.jsonl", "--use_parallel", "maybe"],
    ["--input_dir", "t.jsonl"],
])
def test_cli_rejections(script, argv):
    with pytest.raises(SystemExit):
        script.build_parser().parse_args(argv)


def test_reads_problems_in_order(script, tmp_path):
    path = tmp_path / "test.jsonl"
    path.write_text('{"problem": "计算 1 + 1", "solution": "2"}\n{"problem": "b", "solution": "c"}\n',
                    encoding="utf-8")
    assert script.read_problems(str(path)) == ["计算 1 + 1", "b"]


@pytest.mark.parametrize("content, where", [
    (b'{"problem": "a"}\n\n{"problem": "b"}\n', ":2"),
    (b'{"problem": "a"}\n{"problem": 3}\n', ":2"),
    (b'{"problem": "a"}\n[1]\n', ":2"),
    (b'not json\n', ":1"),
    (b'{"problem": "\xff"}\n', ":1"),
    (b'', "no problems"),
])
def test_bad_input_names_file_and_line(script, tmp_path, content, where):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(script.InputFileError, match=f"bad.jsonl{where}" if where[0] == ":" else where):
        script.read_problems(str(path))


def test_main_fails_on_bad_input_before_loading_mindformers(script, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mindformers", None)  # importing it would raise
    path = tmp_path / "bad.jsonl"
    path.write_text("oops\n")
    with pytest.raises(script.InputFileError, match="bad.jsonl:1"):
        script.main(["--config", "c.yaml", "--input_dir", str(path)])


def test_batches_of_four_fill_the_last_batch(script):
    items = [f"p{i}" for i in range(10)]
    out = list(script.batches(items, 4))
    assert [len(b) for b in out] == [4, 4, 4]
    assert [x for b in out for x in b][:10] == items
    assert out[-1] == ["p8", "p9", "p9", "p9"]
    assert list(script.batches(items[:8], 4)) == [items[:4], items[4:8]]
    with pytest.raises(ValueError):
        list(script.batches(items, 0))


def test_normalise_results_flattens_mindformers_output(script):
    key = script.TEXT_KEY
    nested = [{key: ["a", "b"]}, {key: "c"}, "d"]
    assert script.normalise_results(nested, 4) == [{key: [t]} for t in "abcd"]
    with pytest.raises(RuntimeError):
        script.normalise_results(nested, 5)
    with pytest.raises(TypeError):
        script.normalise_results([42], 1)


def test_saved_results_load_with_the_projects_safe_reader(script, tmp_path):
    results = [{script.TEXT_KEY: [prompts.math_prompt(p) + " 3"]} for p in ("1 + 2", "计算 x")]
    path = tmp_path / "result_npy.npy"
    script.save_results(results, str(path))
    assert list(np.load(path, allow_pickle=True)) == results
    assert not list(tmp_path.glob("*.tmp*"))
    from mathlora.evaluate.npy_safe import load_result_texts

    assert load_result_texts(path) == [r[script.TEXT_KEY][0] for r in results]


def test_committed_yamls_equal_the_renderers_output():
    from mathlora.package.yamls import submission_yamls

    rendered = submission_yamls(str(SCRIPT.parents[1] / "config" / "ascend.yaml"))
    for name, text in rendered.items():
        committed = (SCRIPT.parent / name).read_text(encoding="utf-8")
        # the header names the config path it was rendered from; compare the rest
        assert committed.splitlines()[1:] == text.splitlines()[1:], \
            f"submission/{name} is stale: run python -m mathlora.package.yamls"


def test_shipped_yamls_carry_the_entrys_settings():
    import yaml

    train = yaml.safe_load((SCRIPT.parent / "finetune_llama3_8b_lora.yaml").read_text())
    predict = yaml.safe_load((SCRIPT.parent / "predict_llama3_8b_lora.yaml").read_text())
    pet = train["model"]["model_config"]["pet_config"]
    assert (pet["lora_rank"], pet["lora_alpha"], pet["target_modules"]) == (8, 16, ".*wq|.*wv")
    assert train["runner_config"]["epochs"] == 5
    assert train["model"]["model_config"]["seq_length"] == 256
    assert train["model"]["model_config"]["vocab_size"] == 128256
    assert predict["output_dir"] == "./output"  # run_llama3_test.py insists on it
    assert predict["model"]["model_config"]["batch_size"] == 4


def test_failed_save_leaves_no_temporary_file(script, tmp_path):
    path = tmp_path / "missing-dir" / "result_npy.npy"  # np.save cannot create the folder
    with pytest.raises(OSError):
        script.save_results([{script.TEXT_KEY: ["x"]}], str(path))
    assert not path.exists() and not list(tmp_path.rglob("*.tmp*"))

    class Unpicklable:
        def __reduce__(self):
            raise TypeError("cannot pickle")

    path = tmp_path / "result_npy.npy"
    with pytest.raises(TypeError):
        script.save_results([{script.TEXT_KEY: [Unpicklable()]}], str(path))
    assert not path.exists() and not list(tmp_path.glob("*.tmp*"))
