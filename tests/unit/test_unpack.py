"""mathlora unpack: a hostile zip is refused before a byte is written; honest members come out."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest

from mathlora.artifacts import read_artifact
from mathlora.cli import main as cli
from mathlora.errors import InputError
from mathlora.package import unpack, verify


def written(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def test_zip_bomb_is_refused_without_writing(tmp_path, capsys):
    bomb = tmp_path / "bomb.zip"
    zeros = bytes(2**20)
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("run/results/merged/ckpt1.ckpt", "w", force_zip64=True) as member:
            for _ in range(1024):  # 1 GiB of zeros
                member.write(zeros)
    assert bomb.stat().st_size < 2 * 2**20
    out = tmp_path / "out"
    code = cli(["unpack", str(bomb), "--out-dir", str(out), "--out", str(tmp_path / "u.json")])
    assert code == 1
    assert "unsafe archive, nothing extracted: compression ratio above 200:1" in capsys.readouterr().err
    assert written(out) == 0 and not (tmp_path / "u.json").exists()


@pytest.mark.parametrize("name, why", [
    ("../escape.ckpt", "'..'"), ("/abs/ckpt1.ckpt", "absolute path"), ("run\\..\\x.ckpt", "backslash"),
])
def test_escaping_names_are_refused(tmp_path, name, why):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("run/ckpt1.ckpt", b"x")
        z.writestr(name, b"y")
    with pytest.raises(InputError, match=f"unsafe archive.*{why}"):
        unpack.unpack(bad, tmp_path / "out")
    assert written(tmp_path / "out") == 0 and not (tmp_path / "escape.ckpt").exists()


def test_symlink_members_are_refused(tmp_path):
    bad = tmp_path / "link.zip"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("run/ckpt1.ckpt", b"x")
        info = zipfile.ZipInfo("run/ckpt2.ckpt")
        info.create_system = 3
        info.external_attr = 0o120777 << 16  # a symbolic link to /etc/passwd
        z.writestr(info, "/etc/passwd")
    with pytest.raises(InputError, match="symlink 'run/ckpt2.ckpt'"):
        unpack.unpack(bad, tmp_path / "out")
    assert written(tmp_path / "out") == 0


def test_a_member_larger_than_declared_is_cut_at_its_declared_size(tmp_path):
    """A forged central directory: 4 MB of data declared as 1 MB; at most 1 MB is written."""
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(forged, "w", zipfile.ZIP_STORED) as z:
        z.writestr("run/ckpt1.ckpt", bytes(range(256)) * (4 * 2**12))
    data = bytearray(forged.read_bytes())
    central = data.rindex(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 2**20)  # uncompressed size in the central directory
    forged.write_bytes(bytes(data))
    with pytest.raises(InputError):
        unpack.unpack(forged, tmp_path / "out")
    assert written(tmp_path / "out") == 0  # the partial file was never renamed into place
    assert not list((tmp_path / "out").glob("*.tmp")) if (tmp_path / "out").exists() else True


def test_checkpoints_of_a_zip_without_manifest_come_out_in_natural_order(tmp_path):
    bundle = tmp_path / "sub.zip"
    with zipfile.ZipFile(bundle, "w") as z:
        checkpoints = ("results/merged/ckpt10.ckpt", "results/merged/ckpt2.ckpt", "deep/er/ckpt1.ckpt")
        for name in (*checkpoints, "strategy/ckpt_strategy_rank_0.ckpt"):
            z.writestr(f"run/{name}", f"weights of run/{name}")
        z.writestr("run/REPORT.md", "not taken")
    out = tmp_path / "out"
    assert cli(["unpack", str(bundle), "--out-dir", str(out), "--out", str(tmp_path / "u.json")]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["ckpt1.ckpt", "ckpt2.ckpt", "ckpt3.ckpt"]
    assert (out / "ckpt1.ckpt").read_text() == "weights of run/deep/er/ckpt1.ckpt"
    assert (out / "ckpt3.ckpt").read_text() == "weights of run/results/merged/ckpt10.ckpt"
    report = read_artifact(tmp_path / "u.json", "unpack")
    assert report["mathlora_bundle"] is False and report["verified"] is None
    assert len(report["members"]) == 3
    # a parallel strategy file is not numbered as a checkpoint, and is reported
    assert report["skipped"] == [{"member": "run/strategy/ckpt_strategy_rank_0.ckpt",
                                  "reason": "a parallel strategy file, not a checkpoint"}]


def test_a_bundle_of_links_only_says_to_download_them(tmp_path):
    bundle = tmp_path / "links.zip"
    with zipfile.ZipFile(bundle, "w") as z:
        z.writestr("run/submission/links.yaml", "checkpoints: []\n")
    with pytest.raises(InputError, match="holds no \\*.ckpt file.*links.yaml"):
        unpack.unpack(bundle, tmp_path / "out")


def test_the_limits_are_verifys():
    assert unpack.Limits is verify.Limits


def test_a_folder_of_downloads_follows_the_links_order(tmp_path):
    """The entry's five files, named as its links name them (most without .ckpt)."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    names = ["ckpt_merged_res1", "ckpt_merged_res2", "ckpt_merged_res3", "lora_ckpt_0727.ckpt",
             "ckpt_7_28_merged"]
    for name in names:
        (folder / name).write_text(f"weights of {name}")
    links = Path(__file__).resolve().parents[2] / "submission" / "links.yaml"
    report = unpack.unpack(folder, tmp_path / "out", links=links)
    assert [m["member"] for m in report["members"]] == names
    assert (tmp_path / "out" / "ckpt5.ckpt").read_text() == "weights of ckpt_7_28_merged"
    (folder / "ckpt_merged_res3").unlink()
    with pytest.raises(InputError, match="checkpoint 3 of .*links.yaml.*was not downloaded"):
        unpack.unpack(folder, tmp_path / "again", links=links)
