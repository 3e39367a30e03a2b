"""The embedded default, run as a new user runs it: the lift the pipeline exists to show.

Marked slow: in a fresh copy of the repository, ``snakemake evaluation`` on config/config.yaml
fine-tunes the shipped tiny base, merges the five checkpoints and evaluates them and the base.
The assertions are what the default must show, so a broken pipeline fails them: a wrong merge
scale, label mask or prompt leaves the checkpoints at the base's accuracy (or below it).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from test_graph import fresh_copy

from mathlora.artifacts import read_artifact

BIN = sys.executable.rsplit("/", 1)[0]
RUN = "results/tiny-cpu"


@pytest.fixture(scope="module")
def summary(tmp_path_factory):
    workdir = fresh_copy(tmp_path_factory.mktemp("default"))
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([f"{BIN}/snakemake", "evaluation", "--cores", "2", "--profile",
                           "workflow/profiles/default"], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=3000)
    assert done.returncode == 0, done.stderr[-6000:]
    return read_artifact(workdir / RUN / "summary.json", "summary")


def rows(summary) -> dict:
    return {row["model"]: row for row in summary.models}


@pytest.mark.slow
def test_the_best_checkpoint_is_above_the_base_with_intervals_apart(summary):
    models = rows(summary)
    assert summary.best is not None, "no checkpoint kept SQuAD"
    best, base = models[summary.best], models["base"]
    assert best["accuracy_ci95"][0] > base["accuracy_ci95"][1], (base, best)
    assert best["above_base"]
    against_base = next(p for p in best["paired"] if p["model"] == "base")
    assert against_base["only_this"] > against_base["only_other"] and against_base["p"] < 0.05


@pytest.mark.slow
def test_reading_comprehension_is_kept_from_a_base_that_has_it(summary):
    models = rows(summary)
    base, best = models["base"], models[summary.best]
    assert base["f1"] >= 30
    assert best["squad_pass"]
    assert best["f1"] >= 0.9 * base["f1"] and best["em"] >= 0.9 * base["em"]


@pytest.mark.slow
def test_nothing_of_the_test_set_was_trained_on(summary):
    assert summary.contamination == {"exact": 0, "normalised": 0,
                                     "base_corpus": {"operand_pairs": 0, "texts": 0}}
