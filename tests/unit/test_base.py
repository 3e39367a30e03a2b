"""Tiny base pretraining: seeded packing of the world corpus's documents and a three-step run."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from _model_helpers import mathlora, settings

from mathlora.data import world
from mathlora.errors import InputError
from mathlora.model import base


def test_pack_concatenates_whole_documents_in_seeded_passes():
    docs = [[1, 2, 3], [4, 5], [6, 7, 8, 9], [10]]
    rows = base.pack(docs, rows=5, width=4, seed=3)
    assert rows.shape == (5, 4) and rows.dtype == np.int32
    stream = rows.ravel().tolist()
    # The first 10 ids are one pass: every document once, whole, in some order.
    first, rest = stream[:10], stream[10:]
    assert sorted(first) == list(range(1, 11))
    position = {d[0]: i for i, d in enumerate(docs)}
    cursor, order = 0, []
    while cursor < 10:
        doc = docs[position[first[cursor]]]
        assert first[cursor:cursor + len(doc)] == doc
        order.append(position[first[cursor]])
        cursor += len(doc)
    assert sorted(order) == [0, 1, 2, 3]
    assert sorted(rest) == list(range(1, 11))  # 20 ids: exactly a second whole pass
    assert np.array_equal(base.pack(docs, rows=5, width=4, seed=3), rows)
    orders = {tuple(base.pack(docs, rows=5, width=4, seed=s).ravel()[:10]) for s in range(8)}
    assert len(orders) > 1  # the seed changes the order
    with pytest.raises(InputError, match="no documents"):
        base.pack([], rows=1, width=4, seed=0)


def _byte_tokenizer(path: Path) -> Path:
    """A valid Llama3-format file: the 256 single bytes as ranks (vocab 512, bos/eos/pad 256..258)."""
    path.write_text("".join(f"{base64.b64encode(bytes([b])).decode()} {b}\n" for b in range(256)))
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("base")
    tok = _byte_tokenizer(root / "tok.model")
    yaml_path = root / "finetune.yaml"
    done = mathlora("render-yaml", "--settings", json.dumps(settings()), "--tokenizer", str(tok),
                    "--rows", "40", "--out", str(yaml_path), cwd=root)
    assert done.returncode == 0, done.stderr
    corpus = root / "world.jsonl"
    documents = world.corpus(arithmetic=30, paragraphs=1, largest=20, seed=3, excluded=set())
    corpus.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in documents),
                      encoding="utf-8")
    return root, {"yaml": yaml_path, "tokenizer": tok, "corpus": corpus,
                  "reading": sum(d["kind"] == "reading" for d in documents)}


def test_base_config_turns_the_finetune_yaml_into_pretraining(corpus, tmp_path):
    root, paths = corpus
    cfg = base.base_config(str(paths["yaml"]), steps=7, batch_size=3, learning_rate=0.01, seed=5,
                           dataset=tmp_path / "c.mindrecord", workdir=tmp_path / "w")
    assert "pet_config" not in cfg.model.model_config
    assert (cfg.runner_config.epochs, cfg.runner_config.batch_size, cfg.seed) == (1, 3, 5)
    assert cfg.lr_schedule.learning_rate == 0.01 and cfg.use_parallel is False
    monitor = [c for c in cfg.callbacks if str(c["type"]).startswith("CheckpointM")][0]
    assert monitor["save_checkpoint_steps"] == 7 and monitor["keep_checkpoint_max"] == 1
    assert cfg.train_dataset.data_loader.dataset_dir == str(tmp_path / "c.mindrecord")


def _run(root: Path, paths: dict, name: str) -> tuple[Path, Path, object]:
    out, report = root / name / "base.ckpt", root / name / "base.json"
    done = mathlora("base", "--yaml", str(paths["yaml"]), "--tokenizer", str(paths["tokenizer"]),
                    "--corpus", str(paths["corpus"]), "--steps", "3", "--batch-size", "2",
                    "--learning-rate", "0.01", "--seed", "11",
                    "--workdir", str(root / name / "work"), "--out", str(out), "--report", str(report),
                    "--plot", str(root / name / "loss.png"), cwd=root)
    return out, report, done


@pytest.mark.slow
def test_tiny_pretraining_run_is_deterministic_and_loadable(corpus):
    import mindspore as ms

    root, paths = corpus
    out, report_path, done = _run(root, paths, "a")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert report["documents"] == {"arithmetic": 30, "reading": paths["reading"]}
    assert report["corpus"]["path"] == str(paths["corpus"])
    assert report["trained_tokens"] == 3 * 2 * 33
    assert [r["step"] for r in report["losses"]] == [1, 2, 3]
    assert abs(report["losses"][0]["loss"] - np.log(512)) < 0.3
    weights = ms.load_checkpoint(str(out))
    assert not any(n.startswith(("adam_", "global_step", "epoch_num", "step_num", "global_batch_size"))
                   for n in weights)
    assert sum(int(v.size) for v in weights.values()) == report["parameters"]
    assert (root / "a" / "loss.png").read_bytes().startswith(b"\x89PNG")
    # Same inputs and seed: the same weights.
    again, _, done = _run(root, paths, "b")
    assert done.returncode == 0, done.stderr[-3000:]
    other = ms.load_checkpoint(str(again))
    for name, value in weights.items():
        np.testing.assert_array_equal(value.asnumpy(), other[name].asnumpy(), err_msg=name)
    # The result loads into the plain network of the yaml with every parameter checked.
    from mathlora.model import network

    net = network.load_causal_lm(paths["yaml"], out, batch_size=1)
    assert sum(int(p.size) for p in net.get_parameters()) == report["parameters"]


def test_tokenizer_too_large_for_the_model_fails_before_training(corpus, tmp_path):
    root, paths = corpus
    big = tmp_path / "big.model"
    big.write_text(paths["tokenizer"].read_text() + "YWI= 256\n")  # one rank more than the yaml's
    done = mathlora("base", "--yaml", str(paths["yaml"]), "--tokenizer", str(big),
                    "--corpus", str(paths["corpus"]), "--steps", "1", "--batch-size", "1",
                    "--learning-rate", "0.01", "--seed", "1", "--workdir", str(tmp_path / "w"),
                    "--out", str(tmp_path / "b.ckpt"), "--report", str(tmp_path / "b.json"), cwd=tmp_path)
    assert done.returncode == 1
    assert "big.model" in done.stderr and "expected at most 512 ids" in done.stderr
    assert not (tmp_path / "b.ckpt").exists() and not (tmp_path / "w").exists()
