"""The embedded default, run as a new user runs it: the effect it packages, measured.

Marked slow: in a fresh copy of the repository, ``snakemake evaluation`` on config/config.yaml
fine-tunes the shipped tiny base on the + and - lines of its sample, merges the five checkpoints
and evaluates them and the base.

Asserted: a base that reads (SQuAD F1 >= 30 on the synthetic SQuAD set) and does part of the
organisers' + and - problems; a fine-tuning whose loss falls; a best checkpoint, chosen on the
development set, that keeps SQuAD at >= 90 % of the base and on the test set (read by no choice)
answers clearly more problems than the base with the entry's prompt (an exact McNemar test on the
same items) with its 95 % interval apart from the base's, and more in the fine-tuning template too;
an optimism with its interval; and no held-out problem in any training corpus.

Broken on purpose, the pipeline fails here (measured): with the merge scale inverted (rank / alpha)
the best checkpoint answers exactly as many problems as the base; with the label mask inverted (the
instruction trained, the answer masked) no checkpoint keeps SQuAD and accuracy falls below 0.14.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from test_graph import fresh_copy

from mathlora.artifacts import read_artifact

BIN = sys.executable.rsplit("/", 1)[0]
RUN = "results/tiny-cpu"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = fresh_copy(tmp_path_factory.mktemp("default"))
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([f"{BIN}/snakemake", "evaluation", "--cores", "2", "--profile",
                           "workflow/profiles/default"], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=3000)
    assert done.returncode == 0, done.stderr[-6000:]
    return workdir / RUN


@pytest.fixture(scope="module")
def summary(run):
    return read_artifact(run / "summary.json", "summary")


def rows(summary) -> dict:
    return {row["model"]: row for row in summary.models}


def best_and_base(summary) -> tuple[dict, dict]:
    assert summary.best is not None, "no checkpoint kept SQuAD"
    models = rows(summary)
    return models[summary.best], models["base"]


def generations(run, model: str) -> list[str]:
    lines = (run / "eval" / model / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["generation"] for line in lines]


@pytest.mark.slow
def test_the_base_reads_and_does_some_arithmetic(summary):
    base = rows(summary)["base"]
    assert base["f1"] >= 30
    assert base["accuracy_ci95"][0] > 0.1, base


@pytest.mark.slow
def test_the_fine_tuning_learns_and_reaches_the_merged_checkpoints(run, summary):
    losses = [row["loss"] for row in read_artifact(run / "finetune" / "train.json", "train").losses]
    tenth = max(1, len(losses) // 10)
    assert sum(losses[-tenth:]) / tenth < 0.75 * sum(losses[:tenth]) / tenth
    base = generations(run, "base")
    last = f"ckpt{len(summary.models) - 1}"
    changed = sum(ours != theirs for ours, theirs in zip(generations(run, last), base))
    assert changed >= len(base) // 4, f"{last} answers like the base on {len(base) - changed} of {len(base)}"


@pytest.mark.slow
def test_a_best_checkpoint_keeps_reading_comprehension(summary):
    best, base = best_and_base(summary)
    assert best["squad_pass"]
    assert best["f1"] >= 0.9 * base["f1"] and best["em"] >= 0.9 * base["em"]


@pytest.mark.slow
def test_the_best_checkpoint_answers_more_than_the_base_with_the_entry_prompt(summary):
    best, base = best_and_base(summary)
    versus = next(p for p in best["paired"] if p["model"] == "base")
    assert best["accuracy"] > base["accuracy"] + 0.1, (base, best)
    assert versus["only_this"] > 4 * versus["only_other"] and versus["p"] < 1e-4, versus


@pytest.mark.slow
def test_the_lift_has_intervals_apart_with_the_entry_prompt_and_shows_in_the_template(summary):
    best, base = best_and_base(summary)
    assert best["accuracy_ci95"][0] > base["accuracy_ci95"][1], (base, best)
    # The template's lift is smaller on test (measured 0.275 -> 0.363) than it was on the 160
    # problems now the development set (0.225 -> 0.344): the shipped base read the test set's sums in
    # other phrasings, the fine-tuning conversation's wrapper among them (contamination counts them).
    tuned, untuned = best["finetune_prompt"], base["finetune_prompt"]
    assert tuned["accuracy"] > untuned["accuracy"] + 0.05, (untuned, tuned)


@pytest.mark.slow
def test_the_choice_reads_dev_and_the_report_states_its_optimism(summary):
    assert summary.chosen_on == "dev"
    best, _ = best_and_base(summary)
    optimism = summary.optimism
    assert optimism["model"] == summary.best
    assert optimism["difference"] == pytest.approx(best["dev"]["accuracy"] - best["accuracy"])
    low, high = optimism["ci95"]
    assert low <= optimism["difference"] <= high


@pytest.mark.slow
def test_nothing_of_either_held_out_set_was_trained_on(summary):
    """Neither set's problems are in training or in the base's corpus; the development set's
    operand pairs are not in the corpus either. The shipped base's world was built before the test
    set existed, so the test set's + and - pairs may be there in other phrasings: counted, not 0."""
    dev, test = summary.contamination
    assert (dev["test"].rsplit("/", 1)[-1], test["test"].rsplit("/", 1)[-1]) == ("dev.jsonl", "test.jsonl")
    assert dev == {**dev, "exact": 0, "normalised": 0, "base_corpus": {"operand_pairs": 0, "texts": 0}}
    assert (test["exact"], test["normalised"], test["base_corpus"]["texts"]) == (0, 0, 0)
