"""Time of one LoRA training step of the embedded default's tiny model (compile excluded).

The network is the one ``config/config.yaml`` renders (hidden 256, 4 layers, seq_length 128, vocab
of its 3,000-rank tokenizer + 256 specials) with its LoRA (r8 on wq/wv), the entry's optimizer
(AdamW with fp32 moments, beta2 0.95) and MindFormers' training cell with gradient clipping, fed
one global batch (16 rows of 129 ids). The first step compiles the graph and is run before the
timing starts; each timed round is one optimizer step.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import yaml

os.environ.setdefault("LOG_MF_PATH", "/tmp/mathlora-bench-mf-logs")
ROOT = Path(__file__).resolve().parents[2]


def default_yaml(tmp: Path) -> tuple[Path, dict]:
    from mathlora.model import render
    from mathlora.model.workflow import MODEL_YAML_SECTIONS
    from mathlora.tokenizer.llama3 import special_ids

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
    ranks = config["tokenizer"]["ranks"]
    vocab = special_ids(ranks)
    sections = {key: config[key] for key in MODEL_YAML_SECTIONS}
    values = render.render_values(sections, mode="finetune", vocab=vocab, tokenizer="tokenizer.model",
                                  rows=20_000, dataset="train.mindrecord", load_checkpoint="",
                                  output_dir=str(tmp), config_name="config/config.yaml")
    path = tmp / "finetune.yaml"
    path.write_text(render.render(values), encoding="utf-8")
    return path, config


@pytest.mark.slow
def test_one_training_step(benchmark, tmp_path):
    import mindspore as ms
    from mindformers.core.optim import AdamW
    from mindformers.wrapper import MFTrainOneStepCell

    from mathlora.model import network

    yaml_path, config = default_yaml(tmp_path)
    batch = config["finetune"]["global_batch_size"]
    seq = config["model"]["seq_length"]
    network.set_context("cpu")
    ms.set_seed(0)
    llama = network.llama_config(yaml_path, batch_size=batch, lora=True)
    net = network.build_causal_lm(llama, lora=True)
    net.set_train(True)
    trainable = net.trainable_params()
    optimizer = AdamW(trainable, learning_rate=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0)
    step = MFTrainOneStepCell(net, optimizer, use_clip_grad=True, scale_sense=1.0)
    step.set_train(True)

    rng = np.random.default_rng(0)
    ids = rng.integers(0, llama.vocab_size - 256, size=(batch, seq + 1)).astype(np.int32)
    labels = ids.copy()
    labels[:, :8] = -100  # a prompt part, as the qa rows have
    inputs = (ms.Tensor(ids), ms.Tensor(labels))

    def one_step() -> float:
        out = step(*inputs)
        loss = out[0] if isinstance(out, tuple) else out
        return float(loss.asnumpy().reshape(-1)[0])

    first = one_step()  # compiles the graph: not timed
    losses = benchmark.pedantic(one_step, rounds=5, iterations=1, warmup_rounds=1)
    assert np.isfinite(first) and np.isfinite(losses)
    assert abs(first - np.log(llama.vocab_size)) < 0.5  # an untrained model starts near ln(vocab)
    benchmark.extra_info.update({"batch": batch, "seq_length": seq, "hidden": llama.hidden_size,
                                 "layers": llama.num_layers, "trainable": sum(int(p.size) for p in trainable)})
