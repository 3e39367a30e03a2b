"""submission/run_llama3_test.py without a model: its CLI, prompt, input formats, batches and npy.

The script's run through MindFormers is in test_entry_script.py."""

from __future__ import annotations

import ast
import importlib.util
import json
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
    assert constants["MATH_PROMPT_PREFIX"].encode() == prompts.ENTRY.prefix.encode()
    assert constants["MATH_PROMPT_SUFFIX"].encode() == prompts.ENTRY.suffix.encode()
    assert constants["MATH_PROMPT_PREFIX"] == "Please answer the following math promblem:\n "


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
        "--auto_trans_ckpt", "True", "--input_dir", "test.json"])
    assert args.use_parallel is False and args.auto_trans_ckpt is True
    assert args.max_length == 512 and args.batch_size == 4 and args.result_file == "result_npy.npy"
    assert args.load_checkpoint == "ckpt2.ckpt" and args.vocab_file == "tokenizer.model"
    assert args.mode == 0  # run_llama3.py's default: graph mode


# Every flag of MindFormers r1.1's research/llama3/run_llama3.py, as the organisers pass them.
R11_FLAGS = ["--task", "text_generation", "--config", "c.yaml", "--run_mode", "predict",
             "--seq_length", "512", "--use_parallel", "false", "--device_id", "0", "--mode", "0",
             "--load_checkpoint", "x.ckpt", "--src_strategy", "s", "--auto_trans_ckpt", "FALSE",
             "--resume", "False", "--train_dataset", "t.mindrecord", "--eval_dataset", "e",
             "--predict_data", "a", "b", "--max_length", "512", "--remote_save_url", "obs://x",
             "--vocab_file", "tok.model", "--dp", "1", "--mp", "4", "--pp", "1",
             "--micro_batch_num", "1", "--input_dir", "t.json"]


def test_every_r11_flag_is_accepted(script):
    args = script.build_parser().parse_args(R11_FLAGS)
    assert (args.dp, args.mp, args.pp, args.micro_batch_num) == (1, 4, 1, 1)
    assert args.predict_data == ["a", "b"] and args.seq_length == 512 and args.use_parallel is False


def test_training_flags_are_ignored_with_a_warning(script, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mindformers", None)  # importing it would raise
    path = tmp_path / "bad.json"
    path.write_text("[]")
    argv = ["--config", "c.yaml", "--input_dir", str(path), "--train_dataset", "t.mindrecord",
            "--predict_data", "a"]
    with pytest.raises(script.InputFileError):
        script.main(argv)
    err = capsys.readouterr().err
    assert "--train_dataset is ignored" in err and "--predict_data is ignored" in err


@pytest.mark.parametrize("argv", [
    ["--config", "c.yaml", "--input_dir", "t.json", "--run_mode", "finetune"],
    ["--config", "c.yaml", "--input_dir", "t.json", "--use_parallel", "maybe"],
    ["--config", "c.yaml", "--input_dir", "t.json", "--use_parallel", "1"],  # r1.1: true/false only
    ["--input_dir", "t.json"],
])
def test_cli_rejections(script, argv):
    with pytest.raises(SystemExit):
        script.build_parser().parse_args(argv)


def test_reads_a_json_array_as_the_entrys_json_load(script, tmp_path):
    path = tmp_path / "test.json"
    records = [{"problem": "计算 1 + 1", "solution": "2"}, {"problem": "b", "solution": "c"}]
    path.write_text(json.dumps(records, ensure_ascii=False, indent=2), encoding="utf-8")
    assert script.read_problems(str(path)) == ["计算 1 + 1", "b"]


def test_reads_json_lines_in_order(script, tmp_path):
    path = tmp_path / "test.jsonl"
    path.write_text('{"problem": "计算 1 + 1", "solution": "2"}\n{"problem": "b", "solution": "c"}\n',
                    encoding="utf-8")
    assert script.read_problems(str(path)) == ["计算 1 + 1", "b"]


@pytest.mark.parametrize("content, where", [
    (b'{"problem": "a"}\n\n{"problem": "b"}\n', "bad.json:2: empty line"),
    (b'{"problem": "a"}\n{"problem": 3}\n', "bad.json:2: field 'problem' must be a string"),
    (b'{"problem": "a"}\n[1]\n', "bad.json:2: expected an object"),
    (b'not json\n', "bad.json:1: not JSON"),
    (b'{"problem": "\xff"}\n', "bad.json:1: invalid UTF-8"),
    (b'', "no problems"),
    (b'[]', "no problems"),
    (b'[\n {"problem": "a"},\n 7\n]', "bad.json:3: item 2: expected an object"),
    (b'[\n {"problem": "a"},\n {"solution": "b"}\n]', "bad.json:3: item 2: field 'problem' must be a "
                                                     "string \\(missing\\)"),
    (b'[{"problem": ["a"]}]', "bad.json:1: item 1: field 'problem' must be a string \\(list\\)"),
    (b'[{"problem": "a"} {"problem": "b"}]', "bad.json:1: after item 1: expected ','"),
    (b'[{"problem": "a"},\n {"problem": }]', "bad.json:2: item 2: not JSON"),
])
def test_bad_input_names_file_line_and_item(script, tmp_path, content, where):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(script.InputFileError, match=where):
        script.read_problems(str(path))


def test_main_fails_on_bad_input_before_loading_mindformers(script, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mindformers", None)  # importing it would raise
    path = tmp_path / "bad.jsonl"
    path.write_text("oops\n")
    with pytest.raises(script.InputFileError, match="bad.jsonl:1"):
        script.main(["--config", "c.yaml", "--input_dir", str(path)])


def test_a_yaml_without_processor_is_refused_by_name(script, tmp_path):
    yaml_path = tmp_path / "finetune.yaml"
    yaml_path.write_text("output_dir: './output'\nmodel:\n  model_config:\n    seq_length: 8\n")
    args = script.build_parser().parse_args(["--config", str(yaml_path), "--input_dir", "t.json",
                                             "--vocab_file", "tok.model"])
    with pytest.raises(ValueError, match="finetune.yaml: no processor.tokenizer block"):
        script.load_config(args)
    yaml_path.write_text("output_dir: 'out'\n")
    with pytest.raises(ValueError, match="output_dir must be './output'"):
        script.load_config(args)


def test_batches_of_four_fill_the_last_batch(script):
    items = [f"p{i}" for i in range(10)]
    out = list(script.batches(items, 4))
    assert [len(b) for b in out] == [4, 4, 4]
    assert [x for b in out for x in b][:10] == items
    assert out[-1] == ["p8", "p9", "p9", "p9"]
    assert list(script.batches(items[:8], 4)) == [items[:4], items[4:8]]
    with pytest.raises(ValueError):
        list(script.batches(items, 0))


def test_result_list_is_one_dict_per_batch_without_fillers(script):
    key = script.TEXT_KEY
    # What the pipeline returns for 6 problems in batches of 4 (the last two are fillers).
    output = [{key: ["a", "b", "c", "d"]}, {key: ["e", "f", "f", "f"]}]
    assert script.result_list(output, 6, 4) == [{key: ["a", "b", "c", "d"]}, {key: ["e", "f"]}]
    with pytest.raises(RuntimeError, match="8 prompts gave 7 results"):
        script.result_list([{key: list("abcdefg")}], 6, 4)
    with pytest.raises(TypeError):
        script.texts_of([42])


def test_saved_results_load_with_the_projects_safe_reader(script, tmp_path):
    results = [{script.TEXT_KEY: [prompts.math_prompt(p) + " 3" for p in ("1 + 2", "计算 x")]},
               {script.TEXT_KEY: [prompts.math_prompt("y") + " 4"]}]
    path = tmp_path / "result_npy.npy"
    script.save_results(results, str(path))
    assert list(np.load(path, allow_pickle=True)) == results
    assert not list(tmp_path.glob("*.tmp*"))
    from mathlora.evaluate.npy_safe import load_result_texts

    assert load_result_texts(path) == [t for r in results for t in r[script.TEXT_KEY]]


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
