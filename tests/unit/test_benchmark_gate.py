"""The benchmark gates work both ways: a slower decoder trips them, a slower machine does not.

Timings are simulated from one recorded run of the benchmarks (the committed baseline's shape): a
decoder 25 % slower scales only the project's timings; a machine 1.5 x slower scales every timing,
the references' included. Both gates are exercised: the baseline's ratio band (``make bench-band``)
and the A/B verdict of the speed gate (``make bench``).
"""

from __future__ import annotations

import copy
import importlib.util
import random
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gate, compare = load("gate"), load("compare")


def run_results(decoder: float = 1.0, machine: float = 1.0) -> dict:
    """A pytest-benchmark JSON run: the project's timings x decoder x machine, references x machine."""
    def bench(name, median, **info):
        return {"name": name, "stats": {"median": median, "mean": median}, "extra_info": info}

    ours = {("tiny", 4): 0.40, ("tiny", 1): 1.20, ("small", 4): 1.50, ("small", 1): 4.20}
    results = [bench(f"test_predict[{size}-{batch}]", t * decoder * machine, model=size,
                     batch_size=batch, per_prompt_latency_s=t * decoder * machine / 16,
                     tokens_per_s=384 / (t * decoder * machine),
                     calibration_s=t / 4 * machine)  # the kernel: the machine only
               for (size, batch), t in ours.items()]
    for size, hf in (("tiny", 0.55), ("small", 1.70)):
        results.append(bench(f"test_transformers_generate[{size}]", hf * machine, model=size,
                             project_median_s=ours[(size, 4)] * decoder * machine))
    results.append(bench("test_data_stage", 15.0 * machine))
    results.append(bench("test_pure_tokenization_raw", 8.0 * machine))
    return {"benchmarks": results}


def test_ratios_are_project_over_same_run_reference():
    found = gate.ratios(run_results())
    assert found["predict/tiny/b4"] == pytest.approx(4.0)
    assert found["transformers/small"] == pytest.approx(1.5 / 1.7)
    assert found["data_stage"] == pytest.approx(15 / 8)


def test_a_slower_decoder_trips_the_ratio_gate_and_a_slower_machine_does_not():
    baseline = gate.ratios(run_results())
    slower_decoder = gate.check(gate.ratios(run_results(decoder=1.25)), baseline)
    assert {p.split(":")[0] for p in slower_decoder} == {
        "predict/tiny/b4", "predict/tiny/b1", "predict/small/b4", "predict/small/b1",
        "transformers/tiny", "transformers/small"}
    assert gate.check(gate.ratios(run_results(machine=1.5)), baseline) == []
    assert gate.check(gate.ratios(run_results(decoder=1.05, machine=1.5)), baseline) == []


def noisy(median: float, n: int, seed: int, spread: float = 0.04) -> list[float]:
    rng = random.Random(seed)
    return [median * (1 + rng.uniform(-spread, spread)) for _ in range(n)]


def test_ab_verdict_sees_a_slower_decoder_and_not_a_slower_machine():
    ref = noisy(0.40, 8, 1)
    assert compare.verdict(noisy(0.40 * 1.25, 8, 2), ref)["verdict"] == "slower"
    # A/B runs both trees on the same machine: a slow machine slows both sides alike.
    machine = compare.verdict(noisy(0.40 * 1.5, 8, 3), noisy(0.40 * 1.5, 8, 4))
    assert machine["verdict"] == "no significant change"
    assert compare.verdict(noisy(0.40, 8, 5), ref)["verdict"] == "no significant change"
    assert compare.verdict(noisy(0.40 * 0.75, 8, 6), ref)["verdict"] == "faster"


def test_the_unit_is_a_process_so_identical_trees_on_a_drifting_machine_pass():
    """Each process's median carries the machine's state of its minute: drift that moves both
    sides of a block alike never makes a verdict, however tight the rounds inside a process are."""
    drift = [1.0, 1.3, 0.8, 1.1]  # per block, shared by its four processes
    head = [0.40 * d * (1 + e) for d in drift for e in (0.02, -0.01)]
    ref = [0.40 * d * (1 + e) for d in drift for e in (-0.02, 0.01)]
    result = compare.verdict(head, ref)
    assert result["verdict"] == "no significant change" and result["blocks"] == 4
    slower = compare.verdict([t * 1.25 for t in head], ref)
    assert slower["verdict"] == "slower" and slower["ci95"][0] > 1.0
    # real but small: below the threshold, no verdict
    assert compare.verdict([t * 1.05 for t in head], ref)["verdict"] == "no significant change"


def test_a_block_needs_two_processes_a_side():
    with pytest.raises(ValueError, match="two processes"):
        compare.verdict([0.4, 0.4, 0.4], [0.4, 0.4, 0.4])


def test_the_makefile_runs_the_gate_and_the_comparison():
    text = (ROOT / "Makefile").read_text()
    assert "tests/benchmarks/gate.py check" in text and "tests/benchmarks/compare.py" in text
    assert "tests/benchmarks/gate.py table --readme README.md" in text


def test_the_readme_table_is_the_committed_baselines():
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "benchmarks" / "gate.py"), "table"],
                          capture_output=True, text=True, check=True)
    readme = (ROOT / "README.md").read_text()
    start, end = readme.index(gate.MARKERS[0]), readme.index(gate.MARKERS[1])
    assert readme[start + len(gate.MARKERS[0]):end].strip() == done.stdout.strip()


def test_figures_come_from_the_run():
    rows = gate.figures(copy.deepcopy(run_results()))
    tiny4 = next(r for r in rows if r.get("model") == "tiny" and r.get("batch") == 4)
    assert tiny4["per_prompt_ms"] == pytest.approx(25.0) and tiny4["vs_transformers"] == pytest.approx(0.4 / 0.55)
