"""mathlora full-weights: each kind of published checkpoint becomes the same full weights."""

from __future__ import annotations

import json

import pytest
from _model_helpers import lora_training_checkpoint, mathlora, render_tiny, save_tensors

from mathlora.errors import InputError
from mathlora.model import checkpoint_file, full_weights, merge


@pytest.fixture(scope="module")
def lora(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kinds")
    paths = render_tiny(tmp)
    checkpoint, report = lora_training_checkpoint(tmp, paths["yaml"])
    twin = tmp / "merged.ckpt"
    done = mathlora("merge", "--yaml", str(paths["yaml"]), "--lora", str(checkpoint), "--workdir", str(tmp),
                    "--train-json", str(report), "--k", "1", "--out", str(twin), "--report", str(tmp / "m.json"),
                    cwd=tmp)
    assert done.returncode == 0, done.stderr[-2000:]
    tensors = dict(checkpoint_file.iter_tensors(checkpoint))
    only = save_tensors(tmp / "lora-only.ckpt", {k: v for k, v in tensors.items()
                                                   if k.endswith((merge.LORA_A, merge.LORA_B))})
    base = save_tensors(tmp / "base-weights.ckpt", {k: v for k, v in tensors.items()
                                                      if not k.endswith((merge.LORA_A, merge.LORA_B))})
    return {"tmp": tmp, "yaml": paths["yaml"], "unified": checkpoint, "merged": twin, "lora_only": only,
            "base": base}


def run(lora, name: str, checkpoint, *extra: str):
    out = lora["tmp"] / f"{name}.full.ckpt"
    done = mathlora("full-weights", "--checkpoint", str(checkpoint), "--yaml", str(lora["yaml"]),
                    "--out", str(out), "--report", str(lora["tmp"] / f"{name}.json"), *extra,
                    cwd=lora["tmp"])
    return done, out


def test_kinds_are_told_apart_by_their_contents(lora):
    assert full_weights.classify(lora["merged"]) == "merged"
    assert full_weights.classify(lora["unified"]) == "unified-unmerged"
    assert full_weights.classify(lora["lora_only"]) == "lora-only"


@pytest.mark.parametrize("kind", ["merged", "unified", "lora_only"])
def test_every_kind_gives_the_merged_twins_bytes(lora, kind):
    extra = ("--base-checkpoint", str(lora["base"])) if kind == "lora_only" else ()
    done, out = run(lora, kind, lora[kind], *extra)
    assert done.returncode == 0, done.stderr[-2000:]
    assert out.read_bytes() == lora["merged"].read_bytes()
    report = json.loads((lora["tmp"] / f"{kind}.json").read_text())
    assert report["checkpoint_kind"] == {"merged": "merged", "unified": "unified-unmerged",
                              "lora_only": "lora-only"}[kind]
    assert report["merged_weights"] == (0 if kind == "merged" else 4)


def test_lora_only_without_a_base_says_what_is_missing(lora):
    done, out = run(lora, "nobase", lora["lora_only"])
    assert done.returncode == 1 and "give --base-checkpoint" in done.stderr and not out.exists()


def test_a_rank_that_disagrees_with_the_yaml_is_refused(lora, tmp_path):
    yaml_path = tmp_path / "rank8.yaml"
    yaml_path.write_text(lora["yaml"].read_text().replace("lora_rank: 4", "lora_rank: 8"))
    with pytest.raises(InputError, match="LoRA rank 4 but the yaml's pet_config says lora_rank 8"):
        merge.merge_file(lora["unified"], tmp_path / "x.ckpt", scale=2.0,
                         rank=merge.lora_settings(yaml_path)[0])
    assert not (tmp_path / "x.ckpt").exists()
