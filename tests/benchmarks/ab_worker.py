"""One side of ``compare.py``: time greedy decoding with the ``mathlora`` found on ``PYTHONPATH``.

Builds the benchmark's random-weight model (fixed seed, the sizes of ``test_predict_latency.py``) with that
tree's own renderer and loader (the first process of a tree and size builds it into ``--work``; the
next ones load it), decodes the benchmark's 16 prompts x 24 tokens in batches of 4 (two warm-up
rounds: the first compiles, the second still runs slower), and prints ``{"seconds": [...]}`` as its
last line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from test_predict_latency import LENGTHS, NEW_TOKENS, RANKS, SEED, SIZES  # noqa: E402

CONFIG = HERE.parents[1] / "config" / "config.yaml"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", choices=list(SIZES), required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    import mindspore as ms
    import yaml

    from mathlora.model import network
    from mathlora.model.generate import greedy_generate
    from mathlora.tokenizer.llama3 import format_ranks

    tokenizer = args.work / "tokenizer.model"
    ranks = {bytes([i]): i for i in range(256)}
    ranks.update({f"<t{i}>".encode(): i for i in range(256, RANKS)})
    tokenizer.write_text(format_ranks(ranks), encoding="utf-8")
    yaml_path, checkpoint = args.work / "model.yaml", args.work / "model.ckpt"
    network.set_context("cpu")
    if not checkpoint.is_file():
        config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
        settings = {key: config[key] for key in ("seed", "device", "model", "finetune", "evaluate")}
        settings["model"].update(SIZES[args.size])
        subprocess.run([sys.executable, "-m", "mathlora.cli", "render-yaml", "--settings",
                        json.dumps(settings), "--mode", "finetune", "--tokenizer", str(tokenizer),
                        "--rows", "320", "--out", str(yaml_path)], check=True, capture_output=True)
        ms.set_seed(SEED)
        ms.save_checkpoint(network.build_causal_lm(network.llama_config(yaml_path)), str(checkpoint))
    net = network.load_causal_lm(yaml_path, checkpoint, batch_size=4)
    rng = np.random.default_rng(SEED)
    prompts = [[RANKS, *rng.integers(0, RANKS, n - 1).tolist()] for n in LENGTHS]

    def decode():
        return greedy_generate(net, prompts, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,
                               eos_id=RANKS + 1, pad_id=RANKS + 2, batch_size=4, progress=False)

    decode()  # compiles
    decode()  # still warming up (measured: about 25 % slower than the rounds after it)
    seconds = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        decode()
        seconds.append(time.perf_counter() - started)
    print(json.dumps({"seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
