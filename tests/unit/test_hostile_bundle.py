"""A bundle that lies: judge and unpack run the whole of verify first and trust no manifest entry.

Each case starts from a real bundle of the finished run in ``package_kit`` and changes one thing.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from package_kit import REPO, bundle_argv, checkpoint_bytes, fake_recount, parse, set_member

from mathlora.artifacts import read_artifact
from mathlora.cli import bundle as bundle_cli
from mathlora.cli import main as cli
from mathlora.errors import ConfigError, InputError
from mathlora.evaluate import judge
from mathlora.model import checkpoint_file
from mathlora.package import unpack, verify

CKPT2 = "results/merged/ckpt2.ckpt"


def member(path: Path, rel: str) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(f"tiny-cpu/{rel}")


def manifest_of(path: Path) -> dict:
    return json.loads(member(path, "manifest.json"))


def swapped(built: Path, tmp_path: Path) -> Path:
    """ckpt2's bytes replaced by ckpt1's, the manifest unchanged (the probe's ckpt5-for-ckpt2)."""
    target = tmp_path / "swapped.zip"
    set_member(built, target, CKPT2, member(built, "results/merged/ckpt1.ckpt"), update_manifest=False)
    return target


def only_verify(monkeypatch, verify_returncode=None):
    """judge's child processes: verify runs (or answers ``verify_returncode``); snakemake is recorded."""
    real, started = judge.subprocess.run, []

    def run(command, env):
        if command[1:4] == ["-m", "mathlora.cli", "verify"]:
            if verify_returncode is None:
                return real(command, env=env, capture_output=True, text=True)
            return subprocess.CompletedProcess(command, verify_returncode)
        started.append(command)
        return subprocess.CompletedProcess(command, 0)
    monkeypatch.setattr(judge.subprocess, "run", run)
    return started


def test_judge_refuses_the_swapped_bytes_bundle_in_seconds_naming_the_member(built, tmp_path):
    bad = swapped(built, tmp_path)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "mathlora.cli", "judge", "--submission", str(bad),
                           "--configfile", str(REPO / "config/config.yaml")],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert time.monotonic() - started < 10
    assert done.returncode == 1
    assert f"FAIL  manifest.sha256: sha256 differs: ['{CKPT2}']" in done.stdout
    assert "refused by verify" in done.stderr and "snakemake" not in done.stdout


def test_judge_never_starts_snakemake_on_a_refused_bundle(built, tmp_path, monkeypatch, capsys):
    started = only_verify(monkeypatch)
    assert cli(["judge", "--submission", str(swapped(built, tmp_path)),
                "--configfile", str(REPO / "config/config.yaml")]) == 1
    assert started == [] and "nothing was judged" in capsys.readouterr().err


def test_judge_starts_snakemake_once_verify_passes(built, monkeypatch):
    started = only_verify(monkeypatch, verify_returncode=0)
    assert cli(["judge", "--submission", str(built), "--configfile", str(REPO / "config/config.yaml")]) == 0
    assert len(started) == 1 and started[0][1] == "judge"


def test_unpack_refuses_the_swapped_bytes_bundle_and_writes_nothing(built, tmp_path, capsys):
    bad = swapped(built, tmp_path)
    out = tmp_path / "out"
    code = cli(["unpack", str(bad), "--out-dir", str(out), "--out", str(tmp_path / "u.json"),
                "--no-recount"])
    assert code == 1
    assert CKPT2 in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "u.json").exists()
    assert not list(tmp_path.glob(".out.*"))


def test_unpack_of_an_honest_bundle_takes_its_checkpoints_yaml_params_and_own_summary(built, tmp_path):
    report = unpack.unpack(built, tmp_path / "out", recount=fake_recount())
    manifest = {e["path"]: e for e in manifest_of(built)["members"]}
    taken = {m["path"]: m for m in report["members"]}
    assert sorted(taken) == ["ckpt1.ckpt", "ckpt2.ckpt", "finetune.yaml", "params.json", "summary.json"]
    assert taken["ckpt2.ckpt"]["sha256"] == manifest[CKPT2]["sha256"]
    assert report["verified"] and {c["status"] for c in report["verified"]} == {"pass"}


def forged_to_pass_verify(monkeypatch, built: Path) -> None:
    """verify's outcome replaced by a pass (as if the zip changed after it was checked)."""
    manifest = manifest_of(built)

    def passed(*args, **kwargs):
        return verify.Outcome(checks=[verify.Check("all", "pass", "")], manifest=manifest)
    monkeypatch.setattr(unpack, "verify_zip", passed)


def test_unpack_checks_each_members_sha256_as_it_streams(built, tmp_path, monkeypatch):
    bad = swapped(built, tmp_path)
    forged_to_pass_verify(monkeypatch, built)
    with pytest.raises(InputError, match=f"{CKPT2}: sha256 .* differs from the manifest's"):
        unpack.unpack(bad, tmp_path / "out")
    assert not list((tmp_path / "out").glob("ckpt2*")) if (tmp_path / "out").exists() else True


def test_unpack_refuses_a_member_longer_than_the_manifest_says(built, tmp_path, monkeypatch):
    longer = tmp_path / "longer.zip"
    set_member(built, longer, CKPT2, member(built, CKPT2) + b"\x0a\x00", update_manifest=False)
    forged_to_pass_verify(monkeypatch, built)
    with pytest.raises(InputError, match="more than its declared"):
        unpack.unpack(longer, tmp_path / "out")


def with_extra_member(source: Path, target: Path, rel: str, data: bytes, role: str) -> None:
    """Add a member with a consistent manifest entry of the given role."""
    manifest = manifest_of(source)
    manifest["members"].append({"path": rel, "size": len(data), "role": role,
                                "sha256": hashlib.sha256(data).hexdigest()})
    manifest["members"].sort(key=lambda e: e["path"])
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            data_of = json.dumps(manifest).encode() if info.filename.endswith("/manifest.json") \
                else src.read(info)
            dst.writestr(info, data_of)
        dst.writestr(f"tiny-cpu/{rel}", data)


def test_the_code_packages_base_given_the_role_checkpoint_is_refused(built, tmp_path, capsys):
    bad = tmp_path / "base-as-checkpoint.zip"
    with_extra_member(built, bad, "code/resources/base/tiny-base.ckpt", checkpoint_bytes(9), "checkpoint")
    outcome = verify.verify_zip(bad, recount=fake_recount())
    roles = next(c for c in outcome.checks if c.name == "manifest.roles")
    assert roles.status == "fail" and "code/resources/base/tiny-base.ckpt as checkpoint" in roles.detail
    with pytest.raises(InputError, match="manifest.roles"):
        unpack.unpack(bad, tmp_path / "out", recount=fake_recount())
    assert not (tmp_path / "out").exists()


def test_the_code_packages_base_as_code_is_left_out(built, tmp_path):
    honest = tmp_path / "base-as-code.zip"
    with_extra_member(built, honest, "code/resources/base/tiny-base.ckpt", checkpoint_bytes(9), "code")
    report = unpack.unpack(honest, tmp_path / "out", recount=fake_recount())
    assert sum(m["role"] == "checkpoint" for m in report["members"]) == 2
    assert report["skipped"] == [{"member": "tiny-cpu/code/resources/base/tiny-base.ckpt",
                                  "reason": "a bundle member of role 'code', not a submitted checkpoint"}]


def test_a_bundle_without_its_manifest_is_refused_not_taken_as_a_plain_zip(built, tmp_path):
    stripped = tmp_path / "stripped.zip"
    with zipfile.ZipFile(built) as src, zipfile.ZipFile(stripped, "w") as dst:
        for info in src.infolist():
            if not info.filename.endswith("/manifest.json"):
                dst.writestr(info, src.read(info))
    with pytest.raises(InputError, match="without its manifest.json"):
        unpack.unpack(stripped, tmp_path / "out")


def test_bundle_ships_checkpoints_only_from_the_merged_folder(run, tmp_path):
    Path("results/other.ckpt").write_bytes(checkpoint_bytes(3))
    argv = bundle_argv(str(tmp_path / "b.zip")) + ["--checkpoint", "results/other.ckpt"]
    with pytest.raises(ConfigError, match="results/other.ckpt: a bundle ships the graph's merged"):
        bundle_cli.main(parse(bundle_cli, argv))


@pytest.mark.parametrize("cut", [1, 700])
def test_verify_no_recount_fails_a_truncated_checkpoint_whose_manifest_matches(built, tmp_path, cut,
                                                                               capsys):
    data = member(built, CKPT2)
    short = tmp_path / "short.zip"
    set_member(built, short, CKPT2, data[:-cut], update_manifest=True)
    assert cli(["verify", str(short), "--no-recount"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  checkpoints.readable" in out and CKPT2 in out and "truncated checkpoint" in out


def test_verify_fails_a_checkpoint_cut_between_its_tensors(built, tmp_path, capsys):
    """Framing whole, the last tensor gone: the checkpoints no longer hold the same tensors."""
    data = member(built, CKPT2)
    (tmp_path / "c.ckpt").write_bytes(data)
    first = checkpoint_file.index(tmp_path / "c.ckpt")["model.tok_embeddings.embedding_weight"][0]
    short = tmp_path / "short.zip"
    set_member(built, short, CKPT2, data[:first.offset + first.length], update_manifest=True)
    assert cli(["verify", str(short), "--no-recount"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  checkpoints.readable" in out and "missing ['model.norm_out.weight']" in out


def test_an_honest_bundle_passes_the_checkpoint_check(built):
    outcome = verify.verify_zip(built, recount=fake_recount())
    assert outcome.ok, [c for c in outcome.checks if c.status == "fail"]
    readable = next(c for c in outcome.checks if c.name == "checkpoints.readable")
    assert readable.detail.startswith("2 checkpoints whole")


def test_the_checkpoint_walk_reads_stored_members_in_place(built):
    with zipfile.ZipFile(built) as archive, open(built, "rb") as raw:
        info = archive.getinfo(f"tiny-cpu/{CKPT2}")
        stream = verify.member_stream(archive, info, raw)
        assert isinstance(stream, verify.MemberWindow)
        assert stream.read() == archive.read(info)


def test_unpack_report_schema_records_the_verify_checks(built, tmp_path):
    assert cli(["unpack", str(built), "--out-dir", str(tmp_path / "o"), "--out", str(tmp_path / "u.json"),
                "--no-recount"]) == 0
    report = read_artifact(tmp_path / "u.json", "unpack")
    assert {c["name"]: c["status"] for c in report["verified"]}["ratio.recomputed"] == "skip"
