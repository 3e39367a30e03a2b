"""A small but complete finished run on disk, for the report, bundle and verify tests.

Every JSON report is written through ``write_artifact`` (so it matches its schema), the code package
comes from a real git repository, and the zip is built by the real bundler. The fixtures are shared
through ``conftest.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from mathlora import artifacts
from mathlora.artifacts import write_artifact

REPO = Path(__file__).resolve().parents[2]
DENOMINATOR = 8_030_000_000
TRAINABLE = 3_407_872  # the entry's count; the tests never derive it from the code under test

FINETUNE_YAML = """\
seed: 0
output_dir: './output'
run_mode: 'finetune'
runner_config: {epochs: 2, batch_size: 16, sink_mode: False}
optimizer: {type: FP32StateAdamWeightDecay, beta1: 0.9, beta2: 0.95, eps: 1.e-8}
lr_schedule: {type: CosineWithWarmUpLR, learning_rate: 1.e-3, lr_end: 0.0, warmup_ratio: 0.03}
parallel_config: {data_parallel: 1, model_parallel: 1}
recompute_config: {recompute: False}
model:
  model_config:
    type: LlamaConfig
    seq_length: 128
    hidden_size: 256
    num_layers: 4
    num_heads: 8
    n_kv_heads: 2
    vocab_size: 3256
    intermediate_size: 704
    rms_norm_eps: 1.0e-5
    bos_token_id: 3000
    eos_token_id: 3001
    pad_token_id: 3002
    compute_dtype: float32
    param_init_type: float32
    theta: 500000
    use_flash_attention: False
    pet_config: {pet_type: lora, lora_rank: 8, lora_alpha: 16, lora_dropout: 0.0, target_modules: '.*wq|.*wv'}
  arch: {type: LlamaForCausalLM}
"""


@pytest.fixture
def schemas(tmp_path_factory, monkeypatch):
    """A private copy of the project's schemas (a test may change one); caches reset around it."""
    folder = tmp_path_factory.mktemp("schemas")
    for path in (REPO / "schemas").glob("*.schema.json"):
        shutil.copy(path, folder / path.name)
    monkeypatch.setenv("MATHLORA_SCHEMAS", str(folder))
    # provenance records the command line; keep the test runner's (maybe absolute) paths out of it
    monkeypatch.setattr("sys.argv", ["pytest"])
    artifacts.validator.cache_clear()
    artifacts._registry.cache_clear()
    yield folder
    artifacts.validator.cache_clear()
    artifacts._registry.cache_clear()


def accuracy_block(correct: int, n: int) -> dict[str, Any]:
    share = correct / n
    return {"correct": correct, "accuracy": share, "ci95": [max(0.0, share - 0.1), min(1.0, share + 0.1)]}


def math_payload(model: str, correct: int, n: int = 40) -> dict[str, Any]:
    return {"model": model, "prompt": "entry", "n": n, "correct_ids": [str(i) for i in range(1, correct + 1)],
            "primary_mode": "first_answer", "accuracy": correct / n,
            "rule": {"name": "rounded", "round_to_reference": True, "rel_tol": 1e-6},
            "modes": {"first_answer": accuracy_block(correct, n), "last_number": accuracy_block(correct, n)},
            "categories": {}, "unknown_category": 0, "reference_without_number": 0,
            "prompt_not_found": 0, "sweep": {}, "failures": []}


def squad_payload(model: str, f1: float, em: float) -> dict[str, Any]:
    return {"model": model, "dev": "resources/squad/dev-v1.1.json", "paragraphs_without_question": 0,
            "f1": f1, "em": em, "n": 120, "empty_predictions": 3, "predict": None, "examples": []}


PREPARE = {
    "input": "resources/data/train.json", "chinese_lines": 20000, "seed": 7, "on_error": "fail",
    "lines_read": 20250, "invalid": {"total": 0, "by_reason": {}, "examples": {}}, "valid": 20250,
    "template_text": {"texts": ["请解答："], "lines": 11, "occurrences": 11},
    "removed": {"multiplication": 4321, "division": 4123, "empty_after_template_removal": 0},
    "duplicates": {"input": 97, "sample": 2},
    "input_by_category": {"add": 5000, "english": 250}, "eligible": {"chinese": 11556, "english": 250},
    "requested": {"chinese": 3000, "english": 40}, "sampled": {"chinese": 3000, "english": 40, "total": 3040},
    "sampled_by_category": {"add": 1500, "english": 40},
}


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte, number = number & 0x7F, number >> 7
        out.append(byte | (0x80 if number else 0))
        if not number:
            return bytes(out)


def checkpoint_bytes(k: int, tags: tuple[str, ...] = ("model.tok_embeddings.embedding_weight",
                                                      "model.norm_out.weight")) -> bytes:
    """A small file framed as a MindSpore checkpoint (values of random bytes), different per ``k``."""
    out = b""
    for tag in tags:
        name = tag.encode()
        content = os.urandom(1500) + bytes([k]) * 25
        value = b"\x0a" + _varint(len(name)) + name + b"\x12" + _varint(len(content)) + content
        out += b"\x0a" + _varint(len(value)) + value
    return out


def make_run(root: Path) -> dict[str, Any]:
    """Write a finished run under ``root`` (a git checkout with a commit); returns its facts."""
    (root / "src" / "mathlora").mkdir(parents=True)
    (root / "src" / "mathlora" / "__init__.py").write_text('"""package"""\nprint("hello")\n')
    (root / "pyproject.toml").write_text('[project]\nname = "x"\n')
    (root / "Snakefile").write_text('rule all:\n    input: "a"\n')
    (root / ".gitignore").write_text("results/\nlogs/\nbenchmarks/\n")
    for shipped in ("resources/base/tokenizer.model", "resources/data/train.json"):  # one kept, one not
        (root / shipped).parent.mkdir(parents=True, exist_ok=True)
        (root / shipped).write_text("tracked\n")
    shutil.copytree(REPO / "submission", root / "submission",
                    ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "run"], cwd=root, check=True)
    (root / "untracked.txt").write_text("not part of the commit\n")

    r = root / "results"
    write_artifact(r / "data/prepare.json", "prepare", PREPARE)
    write_artifact(r / "finetune/train.json", "train", {
        "schedule": {"rows": 3040, "epochs": 2, "global_batch_size": 16, "steps_per_epoch": 190,
                     "total_steps": 380, "save_checkpoint_steps": 190, "checkpoint_steps": [190, 380]},
        "checkpoints": [{"k": 1, "step": 190, "epoch": 1, "path": "results/finetune/checkpoints/lora1.ckpt",
                         "shards": ["rank_0/a.ckpt"]},
                        {"k": 2, "step": 380, "epoch": 2, "path": "results/finetune/checkpoints/lora2.ckpt",
                         "shards": ["rank_0/b.ckpt"]}],
        "strategy_files": [], "ranks": 1, "trainable_parameters": TRAINABLE,
        "lora": {"rank": 8, "alpha": 16.0, "dropout": 0.0, "target_modules": ".*wq|.*wv"},
        "losses": [{"step": 1, "loss": 5.0}, {"step": 380, "loss": 1.25}], "final_loss": 1.25,
        "resumed_from": None, "seconds": 321.5, "yaml": "results/model/finetune.yaml"})
    ratio = TRAINABLE / DENOMINATOR
    write_artifact(r / "params.json", "params", {
        "lora": {"rank": 8, "alpha": 16.0, "target_modules": ".*wq|.*wv"}, "lora_modules": 64,
        "lora_module_names": ["wq", "wv"], "total_parameters": 8_033_669_120,
        "base_parameters": 8_030_261_248, "trainable_parameters": TRAINABLE,
        "official_denominator": DENOMINATOR, "official_ratio": ratio,
        "exact_ratio": TRAINABLE / 8_033_669_120, "source": "results/model/finetune.yaml"})
    scores = {"base": (8, 60.0, 45.0), "ckpt1": (20, 58.0, 44.0), "ckpt2": (30, 50.0, 30.0)}
    math, squad = {}, {}
    for model, (correct, f1, em) in scores.items():
        math[model] = write_artifact(r / f"eval/{model}/math.json", "math", math_payload(model, correct))
        squad[model] = write_artifact(r / f"eval/{model}/squad.json", "squad", squad_payload(model, f1, em))
    from mathlora.evaluate.summary import summarise

    limits = {"mode": "relative", "relative": 0.9, "f1": 0.9 * 60.0, "em": 0.9 * 45.0}
    write_artifact(r / "summary.json", "summary", summarise(ratio, math, squad, limits))
    (r / "model").mkdir(parents=True)
    (r / "model/finetune.yaml").write_text(FINETUNE_YAML)
    (r / "merged").mkdir()
    for k in (1, 2):
        (r / f"merged/ckpt{k}.ckpt").write_bytes(checkpoint_bytes(k))
    (r / "finetune/loss.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    (root / "logs/finetune").mkdir(parents=True)
    (root / "logs/finetune/finetune.log").write_text(
        f"step 1 loss 5.0\nsaved to {root}/results/finetune/checkpoints/lora1.ckpt\n")
    (root / "logs/bundle").mkdir(parents=True)
    (root / "logs/bundle/bundle.log").write_text("being written\n")
    (root / "logs/stale").mkdir(parents=True)  # an earlier run's log nobody declared
    (root / "logs/stale/old.log").write_text("from a rule that no longer exists\n")
    (root / "benchmarks/finetune").mkdir(parents=True)
    (root / "benchmarks/finetune/finetune.tsv").write_text("s\th:m:s\n321.5\t0:05:21\n")
    return {"ratio": ratio, "trainable": TRAINABLE, "root": root}


def report_args(root: Path, out: Path) -> argparse.Namespace:
    """Parsed ``mathlora report`` options for the run in ``root`` (``report.main`` takes them)."""
    r = root / "results"
    models = ("base", "ckpt1", "ckpt2")
    return argparse.Namespace(
        out=out, run_name="tiny-cpu", device="cpu", prepare=r / "data/prepare.json", split=None,
        conversation=None,
        train=r / "finetune/train.json", params=r / "params.json", summary=r / "summary.json",
        yaml=r / "model/finetune.yaml", math=[r / f"eval/{m}/math.json" for m in models],
        squad=[r / f"eval/{m}/squad.json" for m in models])


def bundle_argv(out: str = "results/submission/tiny-cpu.zip", *, checkpoints: str = "local") -> list[str]:
    """Command-line arguments of ``mathlora bundle`` for the run in the working directory."""
    argv = ["--out", out, "--name", "tiny-cpu", "--repo", ".", "--report", "results/submission/REPORT.md",
            "--yaml", "results/model/finetune.yaml", "--checkpoints", checkpoints,
            # the jobs' declared logs: one that ran, one that did not (absent), not the bundle's own
            "--log", "logs/finetune/finetune.log", "--log", "logs/predict/never.log",
            "--benchmark", "benchmarks/finetune/finetune.tsv", "--figure", "results/finetune/loss.png"]
    for path in ("results/data/prepare.json", "results/finetune/train.json", "results/params.json",
                 "results/summary.json"):
        argv += ["--artifact", path]
    for model in ("base", "ckpt1", "ckpt2"):
        argv += ["--artifact", f"math=results/eval/{model}/math.json",
                 "--artifact", f"results/eval/{model}/squad.json"]
    if checkpoints == "local":
        argv += ["--checkpoint", "results/merged/ckpt1.ckpt", "--checkpoint", "results/merged/ckpt2.ckpt"]
    return argv


def parse(module, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    module.configure(parser)
    return parser.parse_args(argv)


@pytest.fixture
def run(tmp_path, schemas, monkeypatch):
    """A finished run in a fresh folder, which is the working directory during the test."""
    root = tmp_path / "build"
    root.mkdir()
    monkeypatch.chdir(root)
    facts = make_run(root)
    from mathlora.cli import report

    report.main(report_args(root, root / "results/submission/REPORT.md"))
    return facts


@pytest.fixture
def built(run):
    """The run's bundle, built by the real bundler."""
    from mathlora.cli import bundle

    assert bundle.main(parse(bundle, bundle_argv())) == 0
    return Path("results/submission/tiny-cpu.zip").resolve()


def fake_recount(trainable: int = TRAINABLE):
    def recount(yaml_path: Path) -> dict[str, Any]:
        assert yaml_path.is_file()
        return {"trainable": trainable, "total": None, "ratio": trainable / DENOMINATOR}
    return recount


def rewrite_zip(source: Path, target: Path, edit) -> None:
    """Copy a zip member by member; ``edit(name, data)`` returns [(ZipInfo|name, data), ...]."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            for new_info, data in edit(info, src.read(info)):
                dst.writestr(new_info, data)


def set_member(source: Path, target: Path, rel: str, data: bytes, *, update_manifest: bool) -> None:
    """Replace (or add) the member ``tiny-cpu/<rel>``; optionally keep the manifest consistent."""
    import hashlib

    with zipfile.ZipFile(source) as src:
        manifest = json.loads(src.read("tiny-cpu/manifest.json"))
    if update_manifest:
        for entry in manifest["members"]:
            if entry["path"] == rel:
                entry["size"], entry["sha256"] = len(data), hashlib.sha256(data).hexdigest()
    names = set()

    def edit(info, old):
        names.add(info.filename)
        if info.filename == f"tiny-cpu/{rel}":
            return [(info.filename, data)]
        if info.filename == "tiny-cpu/manifest.json":
            return [(info.filename, json.dumps(manifest).encode())]
        return [(info, old)]

    rewrite_zip(source, target, edit)
    if f"tiny-cpu/{rel}" not in names:
        with zipfile.ZipFile(target, "a") as dst:
            dst.writestr(f"tiny-cpu/{rel}", data)
