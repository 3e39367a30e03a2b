"""The submission zip: members, manifest, code at the commit, redacted logs, checkpoints or links."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from package_kit import bundle_argv, parse

from mathlora.cli import bundle as bundle_cli
from mathlora.errors import ConfigError, InputError
from mathlora.package import bundle


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def manifest_of(path: Path) -> dict:
    return json.loads(members(path)["tiny-cpu/manifest.json"])


def test_manifest_lists_every_member_with_size_and_sha256(built):
    content = members(built)
    manifest = manifest_of(built)
    listed = {f"tiny-cpu/{e['path']}": e for e in manifest["members"]}
    assert set(listed) == set(content) - {"tiny-cpu/manifest.json"}
    for name, entry in listed.items():
        assert entry["size"] == len(content[name])
        assert entry["sha256"] == hashlib.sha256(content[name]).hexdigest()


def test_required_contents_and_roles(built):
    manifest = manifest_of(built)
    roles = {e["path"]: e["role"] for e in manifest["members"]}
    assert roles["REPORT.md"] == "document"
    assert roles["submission/run_llama3_test.py"] == roles["submission/links.yaml"] == "submission"
    assert roles["results/model/finetune.yaml"] == "yaml"
    assert roles["results/merged/ckpt1.ckpt"] == roles["results/merged/ckpt2.ckpt"] == "checkpoint"
    assert roles["results/finetune/loss.png"] == "figure"
    assert roles["benchmarks/finetune/finetune.tsv"] == "benchmark"
    kinds = {e["path"]: e.get("kind") for e in manifest["members"] if e["role"] == "report"}
    assert kinds["results/params.json"] == "params"       # detected from the schemas
    assert kinds["results/eval/ckpt1/math.json"] == "math"  # given explicitly
    assert kinds["results/eval/ckpt1/squad.json"] == "squad"
    assert manifest["checkpoints"] == "local"
    assert (Path("results/merged/ckpt2.ckpt").read_bytes()
            == members(built)["tiny-cpu/results/merged/ckpt2.ckpt"])


def test_code_package_is_the_commit_without_results_or_untracked_files(built):
    manifest = manifest_of(built)
    code = sorted(e["path"] for e in manifest["members"] if e["role"] == "code")
    assert "code/src/mathlora/__init__.py" in code and "code/pyproject.toml" in code
    assert "code/untracked.txt" not in code
    assert not [p for p in code if p.startswith(("code/results/", "code/logs/"))]
    # the shipped tiny base is source; an input copied into resources/ is not
    assert "code/resources/base/tokenizer.model" in code and "code/resources/data/train.json" not in code
    assert manifest["code"]["files"] == len(code)
    assert len(manifest["code"]["commit"]) == 40 and manifest["code"]["dirty"] is False


def test_logs_are_redacted_and_the_bundles_own_log_left_out(built, run):
    content = members(built)
    log = content["tiny-cpu/logs/finetune/finetune.log"].decode()
    assert str(run["root"]) not in log and "<project>/results/finetune" in log
    entry = next(e for e in manifest_of(built)["members"] if e["path"] == "logs/finetune/finetune.log")
    assert entry["redacted"] == 1
    assert "tiny-cpu/logs/bundle/bundle.log" not in content
    assert "tiny-cpu/logs/stale/old.log" not in content  # only declared logs are bundled


def test_members_are_reproducible(built, tmp_path):
    again = tmp_path / "again.zip"
    bundle_cli.main(parse(bundle_cli, bundle_argv(str(again))))
    first, second = members(built), members(again)
    first.pop("tiny-cpu/manifest.json"), second.pop("tiny-cpu/manifest.json")
    assert first == second
    with zipfile.ZipFile(again) as z:
        assert {i.date_time for i in z.infolist()} == {bundle.ZIP_DATE}
        assert [i.filename for i in z.infolist()][:-1] == sorted(first)


def test_dirty_tree_is_recorded(run, tmp_path):
    Path("pyproject.toml").write_text('[project]\nname = "changed"\n')
    out = tmp_path / "dirty.zip"
    bundle_cli.main(parse(bundle_cli, bundle_argv(str(out))))
    manifest = manifest_of(out)
    assert manifest["code"]["dirty"] is True
    assert members(out)["tiny-cpu/code/pyproject.toml"] == b'[project]\nname = "x"\n'  # the commit's


def test_links_mode_needs_real_links_and_bundles_no_checkpoints(run, tmp_path):
    argv = bundle_argv(str(tmp_path / "links.zip"), checkpoints="links")
    links = Path("submission/links.yaml")
    real = links.read_text()
    links.write_text(real.replace("btbdzzz.obs.cn-southwest-2.myhuaweicloud.com", "obs.placeholder.invalid"))
    with pytest.raises(ConfigError, match="placeholders"):
        bundle_cli.main(parse(bundle_cli, argv))
    links.write_text(real)
    assert bundle_cli.main(parse(bundle_cli, argv)) == 0
    manifest = manifest_of(tmp_path / "links.zip")
    assert manifest["checkpoints"] == "links"
    assert not [e for e in manifest["members"] if e["role"] == "checkpoint"]
    with pytest.raises(ConfigError, match="drop --checkpoint"):
        bundle_cli.main(parse(bundle_cli, argv + ["--checkpoint", "results/merged/ckpt1.ckpt"]))


def test_local_mode_needs_checkpoints(run, tmp_path):
    argv = [a for a in bundle_argv(str(tmp_path / "x.zip")) if not a.endswith(".ckpt")]
    argv = [a for a in argv if a != "--checkpoint"]
    with pytest.raises(ConfigError, match="--checkpoint"):
        bundle_cli.main(parse(bundle_cli, argv))
    assert not (tmp_path / "x.zip").exists()


def test_bad_inputs_leave_no_zip(run, tmp_path):
    out = tmp_path / "bad.zip"
    with pytest.raises(InputError, match="file not found"):
        bundle_cli.main(parse(bundle_cli, bundle_argv(str(out)) + ["--figure", "results/missing.png"]))
    Path("results/stray.json").write_text(json.dumps({"schema_version": "1.0", "what": 1}))
    with pytest.raises(InputError, match="not a mathlora report: kind None"):
        bundle_cli.main(parse(bundle_cli, bundle_argv(str(out)) + ["--artifact", "results/stray.json"]))
    outside = tmp_path / "outside.png"  # the build folder is tmp_path / "build"
    outside.write_bytes(b"x")
    with pytest.raises(InputError, match="outside the build folder"):
        bundle_cli.main(parse(bundle_cli, bundle_argv(str(out)) + ["--figure", str(outside)]))
    assert not out.exists() and not list(tmp_path.glob(".bad.zip*"))


def test_git_time_out_is_a_clear_error(tmp_path, monkeypatch):
    import subprocess

    from mathlora.errors import InputError
    from mathlora.package import bundle

    def slow(*args, **kwargs):
        raise subprocess.TimeoutExpired(cmd=args[0], timeout=kwargs.get("timeout", 300))

    monkeypatch.setattr(bundle.subprocess, "run", slow)
    with pytest.raises(InputError, match=r"git rev-parse HEAD did not finish within 300 s"):
        bundle.git(tmp_path, "rev-parse", "HEAD")
