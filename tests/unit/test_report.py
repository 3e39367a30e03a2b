"""REPORT.md: the contest's sections, every number from the run's artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from package_kit import PREPARE, TRAINABLE, report_args

from mathlora import prompts
from mathlora.artifacts import write_artifact
from mathlora.cli import report as report_cli
from mathlora.errors import InputError, MathloraError
from mathlora.package import report

SECTIONS = ["## 1. Method", "## 2. Data scale and preprocessing", "## 3. Hyper-parameters",
            "## 4. Checkpoints and scores", "## 5. Original ability (SQuAD v1.1)",
            "## 6. Math accuracy, ratio and composite", "## 7. Prompts", "## 8. Environment"]


@pytest.fixture
def text(run):
    return Path("results/submission/REPORT.md").read_text(encoding="utf-8")


def test_sections_in_the_contest_order(text):
    positions = [text.index(section) for section in SECTIONS]
    assert positions == sorted(positions)


def test_data_counts_come_from_prepare_json(text):
    assert "| `removed.multiplication` | 4,321 |" in text
    assert "| `sampled.total` | 3,040 |" in text
    assert f"| `duplicates.input` | {PREPARE['duplicates']['input']:,} |" in text


def test_a_fine_tuning_set_narrowed_by_category_is_stated_with_its_counts(run, tmp_path):
    args = report_args(Path.cwd(), tmp_path / "r.md")
    assert "data.finetune_categories" not in report.build_report(sources(args))  # the entry's: all
    args.conversation = tmp_path / "conversation.json"
    write_artifact(args.conversation, "conversation", {
        "input": "train.jsonl", "output": "train.conversation.json", "categories": ["add", "subtract"],
        "lines_read": 3040, "written": 1502, "left_out": 1538,
        "written_by_category": {"add": 760, "subtract": 742},
        "left_out_by_category": {"english": 40, "sqrt": 1498}})
    text = report.build_report(sources(args))
    assert "categories `add`, `subtract` become conversations (`data.finetune_categories`): " \
           "1,502 of 3,040 are trained on" in text
    assert "| `left_out_by_category.sqrt` | 1,498 |" in text


def test_hyper_parameters_come_from_the_yaml(text):
    assert "| LoRA rank / alpha / dropout | 8 / 16 / 0 |" in text
    assert "| LoRA target modules | .*wq\\|.*wv |" in text
    assert "| optimizer | FP32StateAdamWeightDecay |" in text
    assert "| hidden / layers / heads / KV heads | 256 / 4 / 8 / 2 |" in text


def test_checkpoint_rows_scores_and_best(text, run):
    summary = json.loads(Path("results/summary.json").read_text())
    for row in summary["models"]:
        assert f"| {row['score']:.9f} |" in text
    assert "| `ckpt1` | 190 | 1 | 0.5000 |" in text
    assert f"**`{summary['best']}`**" in text
    # ratio printed to the contest's 9 decimals: 3,407,872 / 8.03e9
    assert "**0.000424393**" in text and f"{TRAINABLE:,}" in text
    assert f"{(1 - TRAINABLE / 8_030_000_000) * 0.3 + 0.5 * 0.7:.9f}" in text  # ckpt1's composite


def test_original_ability_pass_and_fail_are_shown(text):
    assert "| `ckpt2` | 120 | 50.000 | 30.000 | 3 | — | — | no |" in text  # saved generations: no run
    assert "may move by up to 100 x near ties / n points" in text
    assert "F1 >= 54.000, EM >= 40.500" in text


def test_prompts_are_the_projects(text):
    assert "Inference prompt of every math prediction in this report: `entry`" in text
    assert prompts.math_prompt("<problem>") in text
    assert prompts.math_prompt("<problem>", "report") in text  # the unused variant, shown as such
    assert prompts.SQUAD_PROMPT in text
    assert prompts.TRAIN_HUMAN_PREFIX in text


def test_environment_lists_exact_versions(text, run):
    packages = json.loads(Path("results/finetune/train.json").read_text())["provenance"]["packages"]
    for name, version in packages.items():
        assert f"| {name} | `{version}` |" in text


def test_same_artifacts_same_report(run, tmp_path):
    a, b = tmp_path / "a.md", tmp_path / "b.md"
    report_cli.main(report_args(Path.cwd(), a))
    report_cli.main(report_args(Path.cwd(), b))
    assert a.read_bytes() == b.read_bytes()


def test_ascend_report_names_the_contest_environment(run, tmp_path):
    args = report_args(Path.cwd(), tmp_path / "r.md")
    args.device = "ascend"
    assert report.CONTEST_ENVIRONMENT in report.build_report(sources(args))


def test_two_reports_for_one_model_is_an_error(run, tmp_path):
    args = report_args(Path.cwd(), tmp_path / "r.md")
    args.math.append(args.math[0])
    with pytest.raises(InputError, match="second math report"):
        report.build_report(sources(args))


def test_broken_inputs_fail_without_output(run, tmp_path):
    args = report_args(Path.cwd(), tmp_path / "r.md")
    Path("results/model/finetune.yaml").write_text("model: [unclosed\n")
    with pytest.raises(InputError, match="finetune.yaml"):
        report_cli.main(args)
    assert not args.out.exists()
    args = report_args(Path.cwd(), tmp_path / "r.md")
    summary = json.loads(Path("results/summary.json").read_text())
    summary["best"] = 7
    Path("results/summary.json").write_text(json.dumps(summary))
    with pytest.raises(MathloraError, match="summary.json"):
        report_cli.main(args)


def sources(args) -> report.Sources:
    return report.Sources(run_name=args.run_name, device=args.device, prepare=args.prepare,
                          train=args.train, params=args.params, summary=args.summary, yaml=args.yaml,
                          math=tuple(args.math), squad=tuple(args.squad), split=args.split,
                          conversation=args.conversation)


def consistent(model: str, correct: int, n: int = 40) -> dict:
    from package_kit import math_payload

    payload = math_payload(model, correct, n)
    payload["failures"] = [{"id": str(i), "category": "add", "problem": "p", "reference": None,
                            "generation": "", "first_answer": None, "last_number": None}
                           for i in range(correct + 1, n + 1)]
    return payload


def test_a_choice_on_dev_shows_both_columns_and_the_optimism(run, tmp_path):
    from mathlora.evaluate.summary import summarise

    args = report_args(Path.cwd(), tmp_path / "r.md")
    squad = {m: {"f1": 60.0, "em": 45.0} for m in ("base", "ckpt1", "ckpt2")}
    dev = {m: consistent(m, c) for m, c in (("base", 8), ("ckpt1", 30), ("ckpt2", 20))}
    test = {m: consistent(m, c) for m, c in (("base", 8), ("ckpt1", 22), ("ckpt2", 24))}
    limits = {"mode": "relative", "relative": 0.9, "f1": 54.0, "em": 40.5}
    write_artifact(args.summary, "summary", summarise(0.0004, test, squad, limits, dev=dev))
    text = report.build_report(sources(args))
    assert "| dev accuracy | dev 95 % CI | test accuracy |" in text
    assert "chosen on the development set" in text and "**`ckpt1`**" in text  # dev's best, not test's
    assert "`ckpt1` scores 0.7500 on dev and 0.5500 on test, a difference of +0.2000" in text
