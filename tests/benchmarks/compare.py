"""The speed gate: predict latency of this checkout against a reference tree, in one run.

As asv's ``continuous`` does: the reference (a git ref: the merge-base with main by default, so a
branch is compared with where it started) is checked out in a temporary worktree, and the two
trees' greedy decoding (each tree's own ``mathlora`` on the same random-weight model, prompts and
settings) is timed in fresh processes, in blocks A B B A so that drift of the machine falls on both
alike. The unit of the statistics is a process, not a timed round: rounds inside one process share
its warm caches, its memory layout and the machine's state of that minute, so they are not
independent samples (treated as such, identical trees came out "significantly" 11 % apart). Each
process gives the fastest of its rounds (the same fixed work: interference only adds time); each
block gives the ratio of its two head processes over its two reference processes (geometric
means); the change is the geometric mean of the blocks' ratios with a t interval over blocks.
The verdict is "slower" only when the interval lies above 1 (the change is real) and the ratio
above ``1 + --threshold`` (default 10 %: it is worth a verdict), "faster" likewise below. Exit
status 1 only for "slower". Ratios of one machine's timings in one run transfer between machines;
absolute times do not.

Run as ``python tests/benchmarks/compare.py [--ref REF]`` (``make bench``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("ab_worker.py")
# two-sided 97.5 % quantiles of Student's t for 1..10 degrees of freedom
ROUNDS = {"tiny": 4, "small": 2}
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def block_ratios(head: list[float], ref: list[float]) -> list[float]:
    """Per ABBA block, head's two process medians over ref's two (geometric means); the lists hold
    one median per process, two per block, in run order."""
    if len(head) != len(ref) or len(head) % 2 or not head:
        raise ValueError(f"expected two processes per side and block, got {len(head)} and {len(ref)}")
    return [math.sqrt(head[i] * head[i + 1] / (ref[i] * ref[i + 1])) for i in range(0, len(head), 2)]


def verdict(head: list[float], ref: list[float], threshold: float = 0.10) -> dict:
    """The comparison of per-process medians of the same work (head's over ref's)."""
    logs = [math.log(r) for r in block_ratios(head, ref)]
    n = len(logs)
    mean = sum(logs) / n
    if n > 1:
        sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / (n - 1))
        half = (T975[n - 2] if n - 1 <= len(T975) else 1.96) * sd / math.sqrt(n)
    else:
        half = math.inf  # one block cannot tell noise from change
    low, high = math.exp(mean - half), math.exp(mean + half)
    ratio = math.exp(mean)
    if low > 1 and ratio > 1 + threshold:
        outcome = "slower"
    elif high < 1 and ratio < 1 - threshold:
        outcome = "faster"
    else:
        outcome = "no significant change"
    return {"ratio": ratio, "ci95": [low, high], "blocks": n, "verdict": outcome,
            "head_median_s": median(head), "ref_median_s": median(ref)}


def run_worker(tree: Path, size: str, rounds: int, work: Path) -> float:
    """The fastest of one fresh process's timed rounds."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src"),
           "LOG_MF_PATH": str(work / "mflog"), "GLOG_v": "3"}
    done = subprocess.run([sys.executable, str(WORKER), "--size", size, "--rounds", str(rounds),
                           "--work", str(work / f"{tree.name}-{size}")],
                          capture_output=True, text=True, env=env, cwd=work, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"benchmark worker failed in {tree}:\n{done.stderr[-3000:]}")
    return min(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


def merge_base() -> str:
    done = subprocess.run(["git", "-C", str(ROOT), "merge-base", "HEAD", "main"],
                          capture_output=True, text=True)
    return done.stdout.strip() or "HEAD"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", default=None,
                        help="git ref to compare with (default: the merge-base of HEAD and main; "
                             "on main itself that is HEAD, so uncommitted changes are compared)")
    parser.add_argument("--blocks", type=int, default=4, help="A B B A blocks (default %(default)s)")
    parser.add_argument("--rounds", type=int,
                        help="timed rounds per process (default: 4 tiny, 2 small, within 10 minutes)")
    parser.add_argument("--sizes", nargs="+", default=["tiny", "small"], choices=["tiny", "small"])
    parser.add_argument("--threshold", type=float, default=0.10,
                        help="smallest change worth a verdict (default 10 %%)")
    args = parser.parse_args(argv)
    ref = args.ref or merge_base()
    sys.path.insert(0, str(WORKER.parent))
    from test_predict_latency import calibration_seconds

    # for scaling figures measured elsewhere: the benchmark's numpy kernel, not the gate
    print(f"machine calibration (tiny, batch 4 kernel): {calibration_seconds('tiny', 4) * 1000:.1f} ms",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="mathlora-ab-") as folder:
        work = Path(folder)
        ref_tree = work / "ref"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(ref_tree), ref],
                       check=True, capture_output=True)
        try:
            outcomes = {}
            for size in args.sizes:
                samples: dict[str, list[float]] = {"head": [], "ref": []}
                for _ in range(args.blocks):
                    for side in ("head", "ref", "ref", "head"):
                        tree = ROOT if side == "head" else ref_tree
                        samples[side].append(run_worker(tree, size, args.rounds or ROUNDS[size], work))
                outcomes[size] = verdict(samples["head"], samples["ref"], args.threshold)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(ref_tree)],
                           capture_output=True)
    print(f"predict latency, this checkout against {ref[:12]} ({args.blocks} x ABBA blocks of fresh "
          f"processes, the fastest of their rounds; threshold {args.threshold:.0%}):")
    for size, result in outcomes.items():
        low, high = result["ci95"]
        print(f"  {size:<6} {result['head_median_s'] * 1000:8.1f} ms vs {result['ref_median_s'] * 1000:8.1f} ms"
              f"  ratio {result['ratio']:.3f} [{low:.3f}, {high:.3f}]  {result['verdict']}")
    return 1 if any(r["verdict"] == "slower" for r in outcomes.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
