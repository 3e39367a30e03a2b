"""The embedded default, run as a new user runs it: the effect it packages, measured.

Marked slow: in a fresh copy of the repository, ``snakemake evaluation`` on config/config.yaml
fine-tunes the shipped tiny base on the + and - lines of its sample, merges the five checkpoints
and evaluates them and the base.

Asserted: a base that reads (SQuAD F1 >= 15, EM >= 10 on the synthetic SQuAD set; bases that did
not learn to read scored EM 0 to 2.5) and does part of the organisers' + and - problems; a
fine-tuning whose loss falls; a best checkpoint, chosen on the development set, that keeps SQuAD at
>= 90 % of the base and on the test set (read by no choice) answers more problems than the base
with the entry's prompt, gaining at least twice what it loses on the same items, and in the
fine-tuning template has its 95 % interval apart from the base's; an optimism with its interval;
and no held-out problem, nor any held-out operand pair, in any training corpus.

Broken on purpose (measured on the shipped base): with the label mask inverted (the instruction
trained, the answer masked) only ckpt1 keeps SQuAD and it answers 0.094 against the base's 0.250, so
the lift fails here. With the merge scale inverted (rank / alpha, a quarter of the real update) this
file passes, since a quarter of the update lifts this base as much (test 0.356, +19 / -2); the
scale is caught by tests/unit/test_merge.py, which compares the merged network's logits with the
LoRA network's.
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
    assert base["f1"] >= 15 and base["em"] >= 10, base
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
    # Measured on the shipped base: 0.250 -> 0.319 on test (+17 / -6, exact McNemar p = 0.035);
    # the intervals overlap, as docs/decisions.md explains, so the test asserts the paired gain.
    best, base = best_and_base(summary)
    versus = next(p for p in best["paired"] if p["model"] == "base")
    assert best["dev"]["accuracy"] > base["dev"]["accuracy"], (base["dev"], best["dev"])
    assert best["accuracy"] > base["accuracy"] + 0.04, (base, best)
    assert versus["only_this"] >= 2 * versus["only_other"], versus


@pytest.mark.slow
def test_in_the_fine_tuning_template_the_lift_has_intervals_apart(summary):
    best, base = best_and_base(summary)
    tuned, untuned = best["finetune_prompt"], base["finetune_prompt"]
    assert tuned["ci95"][0] > untuned["ci95"][1], (untuned, tuned)


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
    """Neither set's problems are in training or in the base's corpus, nor their + and - operand
    pairs in any other phrasing (the shipped base's world leaves out both sets')."""
    dev, test = summary.contamination
    assert (dev["test"].rsplit("/", 1)[-1], test["test"].rsplit("/", 1)[-1]) == ("dev.jsonl", "test.jsonl")
    clean = {"exact": 0, "normalised": 0, "base_corpus": {"operand_pairs": 0, "texts": 0}}
    assert dev == {**dev, **clean} and test == {**test, **clean}, (dev, test)
