"""A/B predict latency of this checkout against a git ref, alternating in one invocation.

As asv's ``continuous`` does: the ref is checked out in a temporary worktree, and the two trees'
greedy decoding (each tree's own ``mathlora`` on the same random-weight model, prompts and settings)
is timed in fresh processes, alternating A B B A ... so that drift of the machine falls on both
alike. The change is the ratio of medians (this checkout over the ref) with a bootstrap 95 %
interval and a Mann-Whitney rank test; the verdict is "slower" only when the interval lies above
``1 + --threshold`` and the test agrees (p < 0.01). Exit status 1 only for "slower".

Run as ``python tests/benchmarks/compare.py --ref REF`` (``make bench-compare REF=...``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("ab_worker.py")
ALPHA = 0.01


def mann_whitney_p(a: list[float], b: list[float]) -> float:
    """Two-sided Mann-Whitney U p-value (normal approximation with tie correction)."""
    values = sorted((v, side) for side, sample in ((0, a), (1, b)) for v in sample)
    ranks, i = [0.0] * len(values), 0
    ties = 0.0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1][0] == values[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        ties += (j - i + 1) ** 3 - (j - i + 1)
        i = j + 1
    n1, n2 = len(a), len(b)
    u = sum(r for r, (_, side) in zip(ranks, values) if side == 0) - n1 * (n1 + 1) / 2
    n = n1 + n2
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    if sigma == 0:
        return 1.0
    z = (abs(u - n1 * n2 / 2) - 0.5) / sigma
    return max(0.0, min(1.0, math.erfc(max(z, 0.0) / math.sqrt(2))))


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def bootstrap_ratio(head: list[float], ref: list[float], *, resamples: int = 2000,
                    seed: int = 0) -> tuple[float, float, float]:
    """(ratio of medians, 95 % interval low, high), head over ref."""
    rng = random.Random(seed)
    ratios = sorted(median(rng.choices(head, k=len(head))) / median(rng.choices(ref, k=len(ref)))
                    for _ in range(resamples))
    return median(head) / median(ref), ratios[int(0.025 * resamples)], ratios[int(0.975 * resamples) - 1]


def verdict(head: list[float], ref: list[float], threshold: float = 0.05) -> dict:
    """The comparison of two samples of timings of the same work (head's over ref's)."""
    ratio, low, high = bootstrap_ratio(head, ref)
    p = mann_whitney_p(head, ref)
    if low > 1 + threshold and p < ALPHA:
        outcome = "slower"
    elif high < 1 - threshold and p < ALPHA:
        outcome = "faster"
    else:
        outcome = "no significant change"
    return {"ratio": ratio, "ci95": [low, high], "p": p, "verdict": outcome,
            "head_median_s": median(head), "ref_median_s": median(ref)}


def run_worker(tree: Path, size: str, rounds: int, work: Path) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(tree / "src"),
           "LOG_MF_PATH": str(work / "mflog"), "GLOG_v": "3"}
    done = subprocess.run([sys.executable, str(WORKER), "--size", size, "--rounds", str(rounds),
                           "--work", str(work / f"{tree.name}-{size}")],
                          capture_output=True, text=True, env=env, cwd=work, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"benchmark worker failed in {tree}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])["seconds"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", required=True, help="git ref to compare with (e.g. HEAD~1, main)")
    parser.add_argument("--pairs", type=int, default=3, help="A/B alternations (A B B A each)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per process")
    parser.add_argument("--sizes", nargs="+", default=["tiny"], choices=["tiny", "small"])
    parser.add_argument("--threshold", type=float, default=0.05,
                        help="smallest change worth a verdict (default 5 %%)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mathlora-ab-") as folder:
        work = Path(folder)
        ref_tree = work / "ref"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(ref_tree), args.ref],
                       check=True, capture_output=True)
        try:
            outcomes = {}
            for size in args.sizes:
                samples: dict[str, list[float]] = {"head": [], "ref": []}
                for _ in range(args.pairs):
                    for side in ("head", "ref", "ref", "head"):
                        tree = ROOT if side == "head" else ref_tree
                        samples[side] += run_worker(tree, size, args.rounds, work)
                outcomes[size] = verdict(samples["head"], samples["ref"], args.threshold)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(ref_tree)],
                           capture_output=True)
    print(f"predict latency, this checkout against {args.ref} ({args.pairs} x ABBA, "
          f"{args.rounds} rounds per process):")
    for size, result in outcomes.items():
        low, high = result["ci95"]
        print(f"  {size:<6} {result['head_median_s'] * 1000:8.1f} ms vs {result['ref_median_s'] * 1000:8.1f} ms"
              f"  ratio {result['ratio']:.3f} [{low:.3f}, {high:.3f}]  p = {result['p']:.3g}"
              f"  {result['verdict']}")
    return 1 if any(r["verdict"] == "slower" for r in outcomes.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
