"""Peak memory of ``mathlora merge`` against checkpoint size, on synthetic bf16 checkpoints.

Run as ``python tests/benchmarks/merge_memory.py [GB ...]`` (default 1 2 4). Each size gets a
Llama-shaped bf16 checkpoint (layers of hidden 4096: wq, wk, wv, wo, w1, w2, w3 and norms, with
rank-8 LoRA pairs on wq and wv) written once under ``$TMPDIR``; then, each in a fresh process, the
streamed merge and, for reference, ``mindspore.load_checkpoint`` of the same file report their peak
resident memory. Prints a table and a JSON line per size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HIDDEN, KV, FFN, RANK = 4096, 1024, 14336, 8
LAYER_BYTES = 2 * (HIDDEN * HIDDEN * 2 + KV * HIDDEN * 2 + 3 * FFN * HIDDEN)  # bf16


def write_synthetic(path: Path, gigabytes: float) -> int:
    """A bf16 checkpoint of about ``gigabytes`` GB; returns its number of layers."""
    import numpy as np
    from mindspore.common import np_dtype

    from mathlora.model import checkpoint_file

    layers = max(1, round(gigabytes * 2**30 / LAYER_BYTES))
    rng = np.random.default_rng(0)
    block = rng.standard_normal(HIDDEN * FFN, dtype=np.float32).astype(np_dtype.bfloat16)

    def matrix(rows, cols):
        return block[: rows * cols].reshape(rows, cols)

    with path.open("wb") as handle:
        writer = checkpoint_file.Writer(handle)
        for i in range(layers):
            stem = f"model.layers.{i}"
            for name in ("wq", "wv"):
                rows = HIDDEN if name == "wq" else KV
                writer.tensor(f"{stem}.attention.{name}.mindpet_delta_lora_a", matrix(RANK, HIDDEN))
                writer.tensor(f"{stem}.attention.{name}.mindpet_delta_lora_b", matrix(rows, RANK) * 0.01)
            writer.tensor(f"{stem}.attention_norm.weight", matrix(1, HIDDEN)[0])
            for name, shape in (("attention.wq", (HIDDEN, HIDDEN)), ("attention.wk", (KV, HIDDEN)),
                                ("attention.wv", (KV, HIDDEN)), ("attention.wo", (HIDDEN, HIDDEN)),
                                ("feed_forward.w1", (FFN, HIDDEN)), ("feed_forward.w2", (HIDDEN, FFN)),
                                ("feed_forward.w3", (FFN, HIDDEN))):
                writer.tensor(f"{stem}.{name}.weight", matrix(*shape))
    return layers


# Each child reports its own peak (ru_maxrss, KiB on Linux) as its last line.
PEAK = "import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
MERGE = """
import sys
from mathlora.model import merge, network
network.set_context("cpu")
merge.merge_file(sys.argv[1], sys.argv[2], scale=2.0, rank=8)
""" + PEAK
LOAD = """
import sys, mindspore as ms
ms.load_checkpoint(sys.argv[1])
""" + PEAK
BASELINE = "import mindspore, mathlora.model.merge\n" + PEAK


def peak_rss(code: str, *args: str) -> tuple[float, float]:
    """(peak resident GB, seconds) of ``python -c code args`` in a fresh process."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    return int(done.stdout.strip().splitlines()[-1]) / 2**20, time.monotonic() - started


def main(sizes: list[float]) -> int:
    os.environ.setdefault("LOG_MF_PATH", os.path.join(tempfile.gettempdir(), "mathlora-bench-mf"))
    folder = Path(tempfile.mkdtemp(prefix="mathlora-merge-memory-"))
    rows = []
    imports_gb, _ = peak_rss(BASELINE)
    try:
        for gigabytes in sorted(sizes):
            source = folder / f"synthetic-{gigabytes:g}GB.ckpt"
            layers = write_synthetic(source, gigabytes)
            size = source.stat().st_size / 2**30
            merge_gb, merge_s = peak_rss(MERGE, str(source), str(folder / "merged.ckpt"))
            (folder / "merged.ckpt").unlink()
            load_gb, _ = peak_rss(LOAD, str(source))
            rows.append({"checkpoint_gb": round(size, 2), "layers": layers,
                         "merge_peak_rss_gb": round(merge_gb, 2), "merge_seconds": round(merge_s, 1),
                         "load_checkpoint_peak_rss_gb": round(load_gb, 2)})
            source.unlink()
    finally:
        for path in folder.glob("*"):
            path.unlink()
        folder.rmdir()
    print(f"MindSpore and mathlora imported, nothing loaded: {imports_gb:.2f} GB")
    print(f"{'checkpoint':>11} {'layers':>6} {'merge peak':>11} {'merge s':>8} {'load_checkpoint peak':>21}")
    for row in rows:
        print(f"{row['checkpoint_gb']:>9.2f}GB {row['layers']:>6} {row['merge_peak_rss_gb']:>9.2f}GB "
              f"{row['merge_seconds']:>8.1f} {row['load_checkpoint_peak_rss_gb']:>19.2f}GB")
    for row in rows:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main([float(a) for a in sys.argv[1:]] or [1.0, 2.0, 4.0]))
