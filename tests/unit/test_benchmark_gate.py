"""``make bench`` fails on a regression: the Makefile's own compare flags against two saved runs.

A throwaway benchmark (a sleep whose length the test sets) is saved as the baseline the way
``make bench-baseline`` saves it, then compared with exactly the options of ``make bench``: a run
twice as slow must fail with pytest-benchmark's regression message, a faster one must pass.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STORAGE = "tests/benchmarks/baseline"

BENCH = '''
import os
import time


def test_sleep(benchmark):
    benchmark.pedantic(time.sleep, args=(float(os.environ["BENCH_SLEEP"]),), rounds=5, iterations=1)
'''


def make_target(name: str) -> list[str]:
    """The pytest options of a Makefile target (its recipe lines joined)."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    match = re.search(rf"^{re.escape(name)}:.*\n((?:\t.*\n)+)", text, flags=re.M)
    assert match, f"no {name} target in the Makefile"
    recipe = " ".join(line.strip() for line in match.group(1).splitlines())
    words = shlex.split(recipe)
    return [w for w in words if w.startswith("--benchmark")]


def run(tmp_path: Path, options: list[str], seconds: float) -> subprocess.CompletedProcess:
    options = [o.replace(STORAGE, str(tmp_path / "baseline")) for o in options]
    env = {"BENCH_SLEEP": str(seconds), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-c", "/dev/null",
                           "--rootdir", str(tmp_path), str(tmp_path / "test_sleep.py"), *options],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)


def test_makefile_targets_use_the_committed_storage():
    bench, baseline = make_target("bench"), make_target("bench-baseline")
    assert f"--benchmark-storage={STORAGE}" in bench and f"--benchmark-storage={STORAGE}" in baseline
    assert "--benchmark-compare" in bench and "--benchmark-compare-fail=mean:10%" in bench
    assert any(o.startswith("--benchmark-save=") for o in baseline)


def test_a_slower_run_fails_the_bench_gate_and_a_faster_one_passes(tmp_path):
    (tmp_path / "test_sleep.py").write_text(BENCH, encoding="utf-8")
    saved = run(tmp_path, make_target("bench-baseline"), 0.05)
    assert saved.returncode == 0, saved.stdout + saved.stderr
    assert list((tmp_path / "baseline").rglob("0001_*.json"))

    slower = run(tmp_path, make_target("bench"), 0.10)
    assert slower.returncode != 0
    assert "Performance has regressed" in slower.stdout + slower.stderr
    assert "mean" in slower.stdout + slower.stderr

    faster = run(tmp_path, make_target("bench"), 0.02)
    assert faster.returncode == 0, faster.stdout + faster.stderr
