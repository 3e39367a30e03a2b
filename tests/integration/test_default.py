"""The embedded default, run as a new user runs it: what its numbers show, and what they do not yet.

Marked slow: in a fresh copy of the repository, ``snakemake evaluation`` on config/config.yaml
fine-tunes the shipped tiny base, merges the five checkpoints and evaluates them and the base.

What the default shows (asserted): a base that reads (SQuAD F1 >= 25 on the synthetic dev set) and
does part of the organisers' + and - problems, a fine-tuning whose loss falls and whose merged
checkpoints answer differently from the base (a LoRA that is lost in the merge, or never trained,
leaves them identical), a best checkpoint that keeps SQuAD at >= 90 %, and no test problem in any
training corpus. What it does not yet show is a math lift with intervals apart: fine-tuning the
4-layer base on the organisers' mix costs it accuracy and reading at every learning rate measured
(docs/decisions.md), so that assertion is a strict xfail that turns into a failure the day it holds.
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


def generations(run, model: str) -> list[str]:
    lines = (run / "eval" / model / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["generation"] for line in lines]


@pytest.mark.slow
def test_the_base_reads_and_does_some_arithmetic(summary):
    base = rows(summary)["base"]
    assert base["f1"] >= 25
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
    models = rows(summary)
    assert summary.best is not None, "no checkpoint kept SQuAD"
    base, best = models["base"], models[summary.best]
    assert best["squad_pass"]
    assert best["f1"] >= 0.9 * base["f1"] and best["em"] >= 0.9 * base["em"]


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="the default's fine-tuning does not lift math accuracy yet "
                                       "(docs/decisions.md: the learning rates measured)")
def test_the_best_checkpoint_is_above_the_base_with_intervals_apart(summary):
    models = rows(summary)
    assert summary.best is not None
    best, base = models[summary.best], models["base"]
    assert best["accuracy_ci95"][0] > base["accuracy_ci95"][1], (base, best)
    against_base = next(p for p in best["paired"] if p["model"] == "base")
    assert against_base["only_this"] > against_base["only_other"] and against_base["p"] < 0.05


@pytest.mark.slow
def test_nothing_of_the_test_set_was_trained_on(summary):
    assert summary.contamination == {"exact": 0, "normalised": 0,
                                     "base_corpus": {"operand_pairs": 0, "texts": 0}}
