"""Summary: ratio, accuracy, SQuAD pass/fail (relative and fixed), composite, best checkpoint chosen
on the development set, the test numbers reported, the optimism of the choice."""

import json

import pytest

from mathlora.artifacts import read_artifact, write_artifact
from mathlora.cli import main as cli
from mathlora.evaluate.score import composite
from mathlora.evaluate.summary import summarise, thresholds


def math_report(model, acc):
    block = {"correct": int(acc * 100), "accuracy": acc, "ci95": [max(0, acc - 0.1), min(1, acc + 0.1)]}
    return {"model": model, "prompt": "entry", "n": 100,
            "correct_ids": [str(i) for i in range(1, int(acc * 100) + 1)],
            "primary_mode": "first_answer", "accuracy": acc,
            "rule": {"name": "r", "round_to_reference": True, "rel_tol": 1e-6},
            "modes": {"first_answer": {**block, "no_answer": 0}, "last_number": {**block, "no_answer": 0}},
            "categories": {}, "unknown_category": 0, "reference_without_number": 0,
            "prompt_not_found": 0, "sweep": {}, "failures": []}


def scored(model, right, n=100):
    """A math report whose items "1".."n" are right exactly where ``right`` says (consistent ids)."""
    report = math_report(model, len(right) / n)
    report["correct_ids"] = [str(i) for i in sorted(right)]
    report["failures"] = [{"id": str(i), "category": "add", "problem": "p", "reference": None,
                           "generation": "", "first_answer": None, "last_number": None}
                          for i in range(1, n + 1) if i not in right]
    return report


def squad_report(model, f1, em):
    return {"model": model, "dev": "dev.json", "paragraphs_without_question": 0, "f1": f1, "em": em,
            "n": 10, "empty_predictions": 0, "predict": None, "examples": []}


def params_report(trainable: int) -> dict:
    """A params.json body as `mathlora params` writes it (8.03e9 written out, not imported)."""
    return {"lora": {"rank": 8, "alpha": 16.0, "target_modules": ".*wq|.*wv"}, "lora_modules": 64,
            "lora_module_names": ["wq", "wv"], "total_parameters": 8_033_669_120,
            "base_parameters": 8_030_261_248, "trainable_parameters": trainable,
            "official_denominator": 8_030_000_000, "official_ratio": trainable / 8_030_000_000,
            "exact_ratio": trainable / 8_033_669_120, "source": "finetune.yaml"}


ACC = {"base": 0.2, "ckpt1": 0.3, "ckpt2": 0.6, "ckpt3": 0.5, "ckpt4": 0.6}
SQUAD = {"base": (60.0, 45.0), "ckpt1": (58.0, 44.0), "ckpt2": (50.0, 41.0),
         "ckpt3": (54.0, 40.5), "ckpt4": (55.0, 41.0)}


def test_relative_thresholds_and_best():
    math = {m: math_report(m, a) for m, a in ACC.items()}
    squad = {m: squad_report(m, *s) for m, s in SQUAD.items()}
    limits = thresholds("relative", relative=0.9, fixed_f1=53.883, fixed_em=39.753, base=squad["base"])
    assert limits["f1"] == pytest.approx(54.0) and limits["em"] == pytest.approx(40.5)
    result = summarise(0.000424393, math, squad, limits)
    rows = {r["model"]: r for r in result["models"]}
    assert [r["model"] for r in result["models"]] == ["base", "ckpt1", "ckpt2", "ckpt3", "ckpt4"]
    assert not rows["ckpt2"]["squad_pass"]                  # F1 50 < 54
    assert rows["ckpt3"]["squad_pass"]                      # exactly at both limits
    assert rows["base"]["ratio"] == 0.0
    assert rows["ckpt4"]["score"] == pytest.approx(composite(0.6, 0.000424393))
    assert result["best"] == "ckpt4"                        # ckpt2 scores as high but fails SQuAD


def test_fixed_thresholds_and_none_passing():
    math = {m: math_report(m, ACC[m]) for m in ("ckpt1", "ckpt2")}
    squad = {"ckpt1": squad_report("ckpt1", 53.0, 45.0), "ckpt2": squad_report("ckpt2", 60.0, 39.0)}
    limits = thresholds("fixed", relative=0.9, fixed_f1=53.883, fixed_em=39.753, base=None)
    result = summarise(0.0004, math, squad, limits)
    assert result["best"] is None and result["best_score"] is None


def test_tie_goes_to_earliest():
    math = {m: math_report(m, 0.5) for m in ("ckpt2", "ckpt1")}
    squad = {m: squad_report(m, 60.0, 45.0) for m in ("ckpt1", "ckpt2")}
    limits = thresholds("fixed", relative=0.9, fixed_f1=53.883, fixed_em=39.753, base=None)
    assert summarise(0.0004, math, squad, limits)["best"] == "ckpt1"


def test_cli(tmp_path, capsys):
    args = ["summary", "--params", str(tmp_path / "params.json"), "--out", str(tmp_path / "s.json")]
    write_artifact(tmp_path / "params.json", "params", params_report(3_407_872))
    maths, squads = [], []
    for m, a in ACC.items():
        write_artifact(tmp_path / f"{m}.math.json", "math", math_report(m, a))
        maths.append(str(tmp_path / f"{m}.math.json"))
        write_artifact(tmp_path / f"{m}.squad.json", "squad", squad_report(m, *SQUAD[m]))
        squads.append(str(tmp_path / f"{m}.squad.json"))
    assert cli(args + ["--math", *maths, "--squad", *squads]) == 0
    summary = read_artifact(tmp_path / "s.json", "summary")
    assert summary["best"] == "ckpt4"
    assert "best valid checkpoint, chosen on test: ckpt4" in capsys.readouterr().out
    # relative thresholds without a base report
    assert cli(args + ["--math", *maths[1:], "--squad", *squads[1:]]) == 1
    assert "base model's squad.json" in capsys.readouterr().err
    # a model with math but no SQuAD report
    assert cli(args + ["--math", *maths, "--squad", *squads[:-1]]) == 1
    assert "each model needs both" in capsys.readouterr().err


def test_cli_reads_params_as_a_validated_artifact(tmp_path, capsys):
    write_artifact(tmp_path / "base.squad.json", "squad", squad_report("base", 60.0, 45.0))
    write_artifact(tmp_path / "base.math.json", "math", math_report("base", 0.2))
    common = ["summary", "--math", str(tmp_path / "base.math.json"), "--squad",
              str(tmp_path / "base.squad.json"), "--out", str(tmp_path / "s.json")]
    loose = tmp_path / "loose.json"
    loose.write_text(json.dumps({"official_ratio": 0.000424393}))  # no provenance, no counts
    assert cli(common + ["--params", str(loose)]) == 1
    assert "loose.json" in capsys.readouterr().err
    assert cli(common + ["--params", str(tmp_path / "none.json")]) == 1
    assert "none.json: params report not found" in capsys.readouterr().err
    assert not (tmp_path / "s.json").exists()


def test_fixed_marks_are_the_contests():
    from mathlora.contest import SQUAD_FIXED_EM, SQUAD_FIXED_F1

    assert (SQUAD_FIXED_F1, SQUAD_FIXED_EM) == (53.883, 39.753)


def test_checkpoints_are_paired_with_the_base_and_the_best():
    from mathlora.evaluate.summary import summarise, thresholds

    math = {m: math_report(m, a) for m, a in ACC.items()}
    math["ckpt2"]["correct_ids"] = [str(i) for i in range(41, 101)]  # 60 right, 20 of them the base's too
    squad = {m: squad_report(m, *SQUAD[m]) for m in ACC}
    limits = thresholds("relative", relative=0.9, fixed_f1=0, fixed_em=0, base=squad["base"])
    rows = {r["model"]: r for r in summarise(0.0004, math, squad, limits)["models"]}
    versus = {p["model"]: p for p in rows["ckpt2"]["paired"]}
    assert (versus["base"]["only_this"], versus["base"]["only_other"]) == (60, 20)
    assert versus["base"]["p"] < 1e-5
    best = summarise(0.0004, math, squad, limits)["best"]
    assert [p["model"] for p in rows["ckpt1"]["paired"]] == ["base", best]
    assert rows["ckpt2"]["above_base"] is True and rows["ckpt1"]["above_base"] is False
    assert "base" not in {r["model"] for r in rows.values() if r["paired"]}


def test_the_template_diagnostic_sits_beside_the_entry_prompt():
    from mathlora.evaluate.summary import summarise, thresholds

    math = {m: math_report(m, a) for m, a in ACC.items()}
    template = {m: {**math_report(m, min(1.0, a + 0.1)), "prompt": "finetune"} for m, a in ACC.items()}
    squad = {m: squad_report(m, *SQUAD[m]) for m in ACC}
    limits = thresholds("fixed", relative=0.9, fixed_f1=50, fixed_em=40, base=None)
    rows = summarise(0.0004, math, squad, limits, template)["models"]
    assert [r["finetune_prompt"]["accuracy"] for r in rows] == pytest.approx([0.3, 0.4, 0.7, 0.6, 0.7])
    with pytest.raises(Exception, match="each model needs both"):
        summarise(0.0004, math, squad, limits, {"base": template["base"]})


def dev_and_test():
    """ckpt2 is best on dev (70 right), ckpt3 on test (65): the choice must follow dev."""
    dev = {"base": scored("base", set(range(1, 21))), "ckpt1": scored("ckpt1", set(range(1, 41))),
           "ckpt2": scored("ckpt2", set(range(1, 71))), "ckpt3": scored("ckpt3", set(range(1, 61)))}
    test = {"base": scored("base", set(range(1, 21))), "ckpt1": scored("ckpt1", set(range(1, 41))),
            "ckpt2": scored("ckpt2", set(range(1, 56))), "ckpt3": scored("ckpt3", set(range(1, 66)))}
    squad = {m: squad_report(m, 60.0, 45.0) for m in dev}
    limits = thresholds("relative", relative=0.9, fixed_f1=0, fixed_em=0, base=squad["base"])
    return dev, test, squad, limits


def test_the_choice_reads_dev_and_every_reported_number_is_tests():
    dev, test, squad, limits = dev_and_test()
    result = summarise(0.0004, test, squad, limits, dev=dev)
    rows = {r["model"]: r for r in result["models"]}
    assert result["chosen_on"] == "dev" and result["best"] == "ckpt2"
    assert rows["ckpt2"]["accuracy"] == 0.55 and rows["ckpt2"]["dev"]["accuracy"] == 0.70
    assert result["best_score"] == pytest.approx(composite(0.55, 0.0004))   # the test number
    assert result["optimism"]["difference"] == pytest.approx(0.15)
    low, high = result["optimism"]["ci95"]
    assert low < 0.15 < high and low > 0          # 15 points on 100 + 100 items: clearly optimistic


def test_changing_a_test_answer_never_moves_the_choice_and_a_dev_answer_may():
    dev, test, squad, limits = dev_and_test()
    chosen = summarise(0.0004, test, squad, limits, dev=dev)["best"]
    flipped = dict(test, ckpt2=scored("ckpt2", set(range(1, 11))),         # ckpt2 collapses on test
                   ckpt3=scored("ckpt3", set(range(1, 101))))              # ckpt3 perfect on test
    assert summarise(0.0004, flipped, squad, limits, dev=dev)["best"] == chosen
    moved = dict(dev, ckpt3=scored("ckpt3", set(range(1, 81))))            # ckpt3 now best on dev
    assert summarise(0.0004, test, squad, limits, dev=moved)["best"] == "ckpt3"


def test_without_a_dev_set_the_choice_reads_the_given_test_set_and_says_so():
    dev, test, squad, limits = dev_and_test()
    result = summarise(0.0004, test, squad, limits)
    assert result["chosen_on"] == "test" and result["best"] == "ckpt3" and result["optimism"] is None


def test_the_optimism_interval_is_seeded_and_needs_the_same_items_for_every_model():
    from mathlora.evaluate.summary import optimism

    dev, test, *_ = dev_and_test()
    valid = ["ckpt1", "ckpt2", "ckpt3"]
    assert optimism("ckpt2", valid, dev, test) == optimism("ckpt2", valid, dev, test)
    assert optimism("ckpt2", valid, dev, test, seed=1)["ci95"] != optimism("ckpt2", valid, dev, test)["ci95"]
    short = dict(test, ckpt3=scored("ckpt3", set(range(1, 40)), n=90))
    with pytest.raises(Exception, match="same items"):
        optimism("ckpt2", valid, dev, short)


def test_cli_with_a_dev_set(tmp_path, capsys):
    dev, test, squad, _ = dev_and_test()
    write_artifact(tmp_path / "params.json", "params", params_report(3_407_872))
    paths = {}
    for split, reports in (("dev", dev), ("test", test), ("squad", squad)):
        for model, report in reports.items():
            path = tmp_path / f"{model}.{split}.json"
            write_artifact(path, "squad" if split == "squad" else "math", report)
            paths.setdefault(split, []).append(str(path))
    assert cli(["summary", "--params", str(tmp_path / "params.json"), "--math", *paths["test"],
                "--dev", *paths["dev"], "--squad", *paths["squad"], "--out", str(tmp_path / "s.json")]) == 0
    summary = read_artifact(tmp_path / "s.json", "summary")
    assert summary["chosen_on"] == "dev" and summary["best"] == "ckpt2"
    out = capsys.readouterr().out
    assert "chosen on dev: ckpt2" in out and "optimism +0.1500" in out


def test_a_judge_shows_the_submissions_own_numbers_beside_its_own(tmp_path, capsys):
    dev, test, squad, limits = dev_and_test()
    write_artifact(tmp_path / "own.json", "summary", summarise(0.0004, test, squad, limits, dev=dev))
    write_artifact(tmp_path / "params.json", "params", params_report(3_407_872))
    paths = {}
    hidden = dict(test, ckpt2=scored("ckpt2", set(range(1, 31))))  # the judge's set: ckpt2 scores 0.30
    for split, reports in (("test", hidden), ("squad", squad)):
        for model, report in reports.items():
            path = tmp_path / f"{model}.{split}.json"
            write_artifact(path, "squad" if split == "squad" else "math", report)
            paths.setdefault(split, []).append(str(path))
    assert cli(["summary", "--params", str(tmp_path / "params.json"), "--math", *paths["test"],
                "--squad", *paths["squad"], "--claimed", str(tmp_path / "own.json"),
                "--out", str(tmp_path / "judged.json")]) == 0
    judged = read_artifact(tmp_path / "judged.json", "summary")
    assert judged["chosen_on"] == "test"
    assert judged["claimed"]["best"] == "ckpt2" and judged["claimed"]["models"]["ckpt2"] == \
        {"dev": 0.70, "test": 0.55}
    assert "own choice ckpt2 (on dev): dev 0.7000, its test 0.5500; here 0.3000" in capsys.readouterr().out
