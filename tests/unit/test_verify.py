"""``mathlora verify``: passes an honest bundle, rejects tampered and unsafe ones without extracting."""

from __future__ import annotations

import argparse
import hashlib
import json
import stat
import zipfile
from pathlib import Path

import pytest
from package_kit import fake_recount, rewrite_zip, set_member

from mathlora.artifacts import read_artifact
from mathlora.cli import verify as verify_cli
from mathlora.package import verify


def statuses(outcome: verify.Outcome) -> dict[str, str]:
    return {c.name: c.status for c in outcome.checks}


def failed(outcome: verify.Outcome) -> set[str]:
    return {c.name for c in outcome.checks if c.status == "fail"}


def check(path: Path, **kwargs) -> verify.Outcome:
    kwargs.setdefault("recount", fake_recount())
    return verify.verify_zip(path, **kwargs)


@pytest.fixture(autouse=True)
def no_extraction(monkeypatch):
    """Any attempt to extract a member fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("the verifier must not extract archives")
    monkeypatch.setattr(zipfile.ZipFile, "extract", refuse)
    monkeypatch.setattr(zipfile.ZipFile, "extractall", refuse)


def test_honest_bundle_passes_every_check(built):
    outcome = check(built)
    assert outcome.ok, [c for c in outcome.checks if c.status != "pass"]
    names = statuses(outcome)
    for name in ("archive.member_names", "archive.no_symlinks", "archive.sizes",
                 "archive.compression_ratio", "manifest.valid", "manifest.members", "manifest.sha256",
                 "contents.required", "json.schemas", "links.https", "ratio.recomputed",
                 "paths.no_absolute", "secrets.none"):
        assert names[name] == "pass", name


def test_cli_writes_a_verify_artifact_and_exits_zero(built, tmp_path, capsys):
    out = tmp_path / "verify.json"
    args = argparse.Namespace(zip=built, json=True, out=out, no_recount=True, fail_fast=False,
                              max_member_bytes=verify.Limits.max_member_bytes,
                              max_ratio=verify.Limits.max_ratio)
    assert verify_cli.main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    written = read_artifact(out, "verify")
    assert printed["ok"] is written["ok"] is True
    assert written["bundle"] == built.name
    assert {"name": "ratio.recomputed", "status": "skip",
            "detail": "recount disabled (--no-recount)"} in written["checks"]


def test_changed_member_fails_its_hash(built, tmp_path):
    bad = tmp_path / "changed.zip"
    # same size, one byte different, manifest untouched
    with zipfile.ZipFile(built) as z:
        report = z.read("tiny-cpu/REPORT.md")
    set_member(built, bad, "REPORT.md", report[:-2] + b"X\n", update_manifest=False)
    outcome = check(bad)
    assert "manifest.sha256" in failed(outcome)
    assert not outcome.ok


def test_missing_file_fails_the_member_list(built, tmp_path):
    bad = tmp_path / "missing.zip"
    rewrite_zip(built, bad, lambda info, data: [] if info.filename.endswith("ckpt2.ckpt")
                else [(info, data)])
    outcome = check(bad)
    assert "manifest.members" in failed(outcome)
    assert "results/merged/ckpt2.ckpt" in next(c.detail for c in outcome.checks
                                               if c.name == "manifest.members")


def test_unlisted_extra_member_fails(built, tmp_path):
    bad = tmp_path / "extra.zip"
    set_member(built, bad, "notes.txt", b"smuggled\n", update_manifest=False)
    assert "manifest.members" in failed(check(bad))


def test_http_link_fails_even_with_a_consistent_manifest(built, tmp_path):
    bad = tmp_path / "http.zip"
    with zipfile.ZipFile(built) as z:
        links = z.read("tiny-cpu/submission/links.yaml").decode()
    links = links.replace("https://btbdzzz.obs.cn-southwest-2.myhuaweicloud.com/ckpt_merged_res3",
                          "http://obs.example.org/ckpt3", 1)
    assert "http://obs.example.org" in links
    set_member(built, bad, "submission/links.yaml", links.encode(), update_manifest=True)
    outcome = check(bad)
    assert failed(outcome) == {"links.https"}


def test_path_escaping_member_is_refused_unread(built, tmp_path):
    bad = tmp_path / "escape.zip"
    rewrite_zip(built, bad, lambda info, data: [(info, data)] + (
        [("tiny-cpu/../../escaped.txt", b"owned\n")] if info.filename.endswith("REPORT.md") else []))
    with zipfile.ZipFile(bad) as z:
        assert "tiny-cpu/../../escaped.txt" in z.namelist()
    outcome = check(bad)
    assert "archive.member_names" in failed(outcome)
    assert statuses(outcome)["contents"] == "skip"  # nothing was read past the central directory
    assert not (tmp_path.parent / "escaped.txt").exists()


@pytest.mark.parametrize("name", ["/tiny-cpu/abs.txt", "tiny-cpu\\..\\win.txt", "C:/x/tiny-cpu.txt",
                                  "other-root/file.txt", "loose.txt"])
def test_other_unsafe_names_are_refused(built, tmp_path, name):
    bad = tmp_path / "names.zip"
    rewrite_zip(built, bad, lambda info, data: [(info, data)] + (
        [(zipfile.ZipInfo(name), b"x")] if info.filename.endswith("REPORT.md") else []))
    assert "archive.member_names" in failed(check(bad))


def test_symlink_member_is_refused(built, tmp_path):
    bad = tmp_path / "symlink.zip"
    link = zipfile.ZipInfo("tiny-cpu/logs/link.log")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    rewrite_zip(built, bad, lambda info, data: [(info, data)] + (
        [(link, b"/etc/passwd")] if info.filename.endswith("REPORT.md") else []))
    outcome = check(bad)
    assert "archive.no_symlinks" in failed(outcome)
    assert statuses(outcome)["contents"] == "skip"


SECRETS = {
    "private key": "-----" + "BEGIN RSA PRIVATE KEY-----\nMIIEow\n",
    "access key id": "AKIA" + "QWERTYUIOPASDFGH" + " in the environment\n",
    "obs secret": "secret_key: " + "Xk9" * 8 + "\n",
    "ak assignment": "export OBS_AK=" + "AB1CD2EF3GH4IJ5KL6MN" + "\n",
}


@pytest.mark.parametrize("secret", SECRETS.values(), ids=SECRETS.keys())
def test_planted_secret_fails(built, tmp_path, secret):
    bad = tmp_path / "secret.zip"
    with zipfile.ZipFile(built) as z:
        log = z.read("tiny-cpu/logs/finetune/finetune.log").decode()
    set_member(built, bad, "logs/finetune/finetune.log", (log + secret).encode(), update_manifest=True)
    outcome = check(bad)
    assert failed(outcome) == {"secrets.none"}
    detail = next(c.detail for c in outcome.checks if c.name == "secrets.none")
    assert "finetune.log" in detail and secret.strip()[-12:] not in detail  # never echoes the value


def test_absolute_build_path_fails(built, tmp_path):
    bad = tmp_path / "abs.zip"
    with zipfile.ZipFile(built) as z:
        log = z.read("tiny-cpu/logs/finetune/finetune.log").decode()
    planted = log + "loaded " + "/" + "home/alice/llama3/tokenizer.model\n"
    set_member(built, bad, "logs/finetune/finetune.log", planted.encode(), update_manifest=True)
    assert failed(check(bad)) == {"paths.no_absolute"}


def test_this_machines_folders_are_caught_in_code_too(built, tmp_path):
    bad = tmp_path / "root.zip"
    with zipfile.ZipFile(built) as z:
        code = z.read("tiny-cpu/code/src/mathlora/__init__.py").decode()
    set_member(built, bad, "code/src/mathlora/__init__.py", (code + "# /srv/build/x\n").encode(),
               update_manifest=True)
    assert check(bad).ok  # code may mention example paths ...
    assert failed(check(bad, build_roots=["/srv/build"])) == {"paths.no_absolute"}  # ... not ours


def test_schema_breaking_report_fails(built, tmp_path):
    bad = tmp_path / "schema.zip"
    with zipfile.ZipFile(built) as z:
        summary = json.loads(z.read("tiny-cpu/results/summary.json"))
    summary["unexpected"] = 1
    set_member(built, bad, "results/summary.json", json.dumps(summary).encode(), update_manifest=True)
    assert failed(check(bad)) == {"json.schemas"}


def test_ratio_that_disagrees_with_the_recount_fails(built):
    outcome = check(built, recount=fake_recount(4_194_304))
    assert failed(outcome) == {"ratio.recomputed"}
    assert "4194304" in next(c.detail for c in outcome.checks if c.name == "ratio.recomputed")


def test_compression_bomb_is_refused(built, tmp_path):
    bad = tmp_path / "bomb.zip"
    rewrite_zip(built, bad, lambda info, data: [(info, data)] + (
        [("tiny-cpu/logs/zeros.log", bytes(16 * 2**20))] if info.filename.endswith("REPORT.md") else []))
    outcome = check(bad)
    assert "archive.compression_ratio" in failed(outcome)
    assert statuses(outcome)["contents"] == "skip"


def test_oversize_member_is_refused(built):
    outcome = check(built, limits=verify.Limits(max_member_bytes=1000))
    assert "archive.sizes" in failed(outcome)


def links_mode_bundle(built, out, links: bytes | None = None):
    """The bundle as a links-mode one (no checkpoint members), optionally with other links."""
    with zipfile.ZipFile(built) as z:
        manifest = json.loads(z.read("tiny-cpu/manifest.json"))
    manifest["checkpoints"] = "links"
    manifest["members"] = [m for m in manifest["members"] if m["role"] != "checkpoint"]
    if links is not None:
        entry = next(m for m in manifest["members"] if m["path"] == "submission/links.yaml")
        entry.update(size=len(links), sha256=hashlib.sha256(links).hexdigest())

    def edit(info, data):
        if info.filename.endswith(".ckpt"):
            return []
        if info.filename == "tiny-cpu/manifest.json":
            return [(info.filename, json.dumps(manifest).encode())]
        if links is not None and info.filename == "tiny-cpu/submission/links.yaml":
            return [(info, links)]
        return [(info, data)]

    rewrite_zip(built, out, edit)
    return out


def test_links_mode_bundle_with_the_entrys_links_passes(built, tmp_path):
    outcome = check(links_mode_bundle(built, tmp_path / "links-mode.zip"))
    assert not failed(outcome)


def test_placeholder_links_fail_a_links_mode_bundle(built, tmp_path):
    with zipfile.ZipFile(built) as z:
        links = z.read("tiny-cpu/submission/links.yaml").decode()
    links = links.replace("btbdzzz.obs.cn-southwest-2.myhuaweicloud.com", "obs.placeholder.invalid")
    outcome = check(links_mode_bundle(built, tmp_path / "links-mode.zip", links.encode()))
    assert failed(outcome) == {"links.https"}
    assert "placeholder" in next(c.detail for c in outcome.checks if c.name == "links.https")


def test_not_a_zip(tmp_path):
    path = tmp_path / "x.zip"
    path.write_bytes(b"PK but not really")
    outcome = check(path)
    assert failed(outcome) == {"archive.readable"}


def test_missing_manifest(built, tmp_path):
    bad = tmp_path / "nomanifest.zip"
    rewrite_zip(built, bad, lambda info, data: [] if info.filename.endswith("manifest.json")
                else [(info, data)])
    outcome = check(bad)
    assert failed(outcome) == {"manifest.valid"}
    assert not outcome.ok


@pytest.mark.slow
def test_real_recount_builds_the_network_from_the_bundled_yaml(built, tmp_path):
    from package_kit import FINETUNE_YAML

    path = tmp_path / "finetune.yaml"
    path.write_text(FINETUNE_YAML)
    # 4 layers x rank 8 x (wq: 256 in + 256 out, wv: 256 in + 2 heads x 32 out)
    expected = 4 * 8 * ((256 + 256) + (256 + 64))
    counted = verify.recount_with_cli(path)
    assert counted["trainable"] == expected
    assert counted["ratio"] == expected / 8_030_000_000
    # the kit's params.json claims the 8B entry's count, so the real recount must refuse it
    outcome = verify.verify_zip(built)
    assert failed(outcome) == {"ratio.recomputed"}


def test_last_json_object_skips_library_chatter():
    assert verify.last_json_object('[INFO] {not json}\n{\n  "a": 1\n}\n') == {"a": 1}
    assert verify.last_json_object("no json here\n") is None
