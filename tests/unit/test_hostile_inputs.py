"""Hostile inputs and hostile machines: each one a clear refusal naming its file, or a clean-up.

Deep nesting, lone surrogates, huge integers, NaN and NUL in the readers; a full disk under the
writers; a writer killed mid-write; a --chinese-lines the file cannot hold; many members.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from package_kit import bundle_argv

from mathlora.artifacts import atomic_output, stale_temporaries
from mathlora.cli import main as cli
from mathlora.errors import InputError
from mathlora.jsonl import BadLines, iter_records, read_test_file
from mathlora.package import bundle, unpack, verify

FIELDS = ("problem", "solution")
GOOD = '{"problem": "计算 1 + 2 等于多少？", "solution": "1 + 2 = 3"}'
DEEP = '{"problem": "a", "solution": "b", "x": ' + "[" * 200_000 + "]" * 200_000 + "}"
HOSTILE_LINES = {
    "deep nesting": (DEEP, "nesting too deep to parse"),
    "lone surrogate": ('{"problem": "\\ud800", "solution": "1"}', "lone surrogate in a field: \\ud800"),
    "huge integer": ('{"problem": "a", "solution": "b", "n": ' + "9" * 5001 + "}",
                     "an integer with more digits than Python reads"),
    "NaN token": ('{"problem": "a", "solution": "b", "x": NaN}', "NaN is not a JSON number"),
    "NUL in a field": ('{"problem": "a\\u0000b", "solution": "1"}', "NUL character in a field"),
}


def write_lines(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.mark.parametrize("case", HOSTILE_LINES)
def test_the_jsonl_reader_names_file_and_line(tmp_path, case):
    line, message = HOSTILE_LINES[case]
    path = write_lines(tmp_path / "train.json", GOOD, line)
    with pytest.raises(InputError) as caught:
        list(iter_records(path, FIELDS))
    assert str(caught.value).startswith(f"{path}:2") and message in str(caught.value)


@pytest.mark.parametrize("case", HOSTILE_LINES)
def test_skip_counts_the_hostile_line_and_goes_on(tmp_path, case):
    line, message = HOSTILE_LINES[case]
    path = write_lines(tmp_path / "train.json", GOOD, line, GOOD)
    bad = BadLines()
    assert len(list(iter_records(path, FIELDS, on_error="skip", bad=bad))) == 2
    assert bad.total == 1 and message.split(":")[0] in next(iter(bad.counts))


@pytest.mark.parametrize("case", HOSTILE_LINES)
def test_the_array_reader_names_file_line_and_item(tmp_path, case):
    line, message = HOSTILE_LINES[case]
    path = tmp_path / "test.json"
    path.write_text(f"[\n{GOOD},\n{line}\n]\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_test_file(path)
    assert str(caught.value).startswith(f"{path}:3") and "array item 2" in str(caught.value)
    assert message in str(caught.value)


def test_prepare_refuses_a_surrogate_before_writing_anything(tmp_path, capsys):
    source = write_lines(tmp_path / "train.json", GOOD, HOSTILE_LINES["lone surrogate"][0])
    out = tmp_path / "train.jsonl"
    assert cli(["prepare", "--in", str(source), "--chinese-lines", "2", "--seed", "1",
                "--sample", '{"chinese": 1, "english": 0}', "--out", str(out),
                "--report", str(tmp_path / "p.json")]) == 1
    assert f"{source}:2: field 'problem': lone surrogate" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("command", ["prepare", "split"])
def test_chinese_lines_larger_than_the_file_are_refused(tmp_path, capsys, command):
    source = write_lines(tmp_path / "train.json", GOOD, GOOD,
                         '{"problem": "What is 1 + 1?", "solution": "2"}')
    outputs = {"prepare": ["--sample", '{"chinese": 1, "english": 1}', "--out", str(tmp_path / "o.jsonl"),
                           "--report", str(tmp_path / "p.json")],
               "split": ["--train", str(write_lines(tmp_path / "t.jsonl", GOOD)),
                         "--out-dev", str(tmp_path / "d.jsonl"), "--out-test", str(tmp_path / "e.jsonl"),
                         "--report", str(tmp_path / "s.json"), "--dev-size", "1", "--test-size", "1"]}
    code = cli([command, "--in", str(source), "--chinese-lines", "20", "--seed", "1", *outputs[command]])
    assert code == 1
    assert "3 lines, fewer than --chinese-lines 20" in capsys.readouterr().err
    inputs = {"train.json", "t.jsonl"}
    assert {p.name for p in tmp_path.iterdir()} == inputs  # nothing written


# --- a full disk ----------------------------------------------------------------------------------

def disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_under_atomic_output_names_the_output(tmp_path):
    target = tmp_path / "merged" / "ckpt1.ckpt"
    with pytest.raises(OSError) as caught:
        with atomic_output(target, suffix=".ckpt") as tmp, open(tmp, "wb") as handle:
            handle.write(b"x")
            disk_full()
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(target)
    assert not list(target.parent.iterdir())  # the temporary is gone


def test_bundle_on_a_full_disk_names_the_zip(run, monkeypatch, capsys):
    def chunks(member):
        yield b"some bytes"
        disk_full()
    monkeypatch.setattr(bundle, "chunks", chunks)
    assert cli(["bundle", *bundle_argv()]) == 1
    err = capsys.readouterr().err
    assert "results/submission/tiny-cpu.zip: No space left on device" in err
    assert not list(Path("results/submission").glob(".tiny-cpu.zip.*"))


def test_unpack_on_a_full_disk_names_the_checkpoint(tmp_path, monkeypatch, capsys):
    archive = tmp_path / "sub.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("run/ckpt1.ckpt", b"weights")

    def copy(source, target, *args, **kwargs):
        target.write_bytes(b"half")
        disk_full()
    monkeypatch.setattr(unpack, "copy_capped", copy)
    out = tmp_path / "out"
    assert cli(["unpack", str(archive), "--out-dir", str(out), "--out", str(tmp_path / "u.json")]) == 1
    assert f"{out}/ckpt1.ckpt: No space left on device" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".out.*"))


def test_full_weights_copy_on_a_full_disk_names_the_output(tmp_path, monkeypatch):
    from mathlora.model import full_weights

    def copyfile(source, target):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(source), None, str(target))
    monkeypatch.setattr(full_weights.os, "link", lambda *a: disk_full())
    monkeypatch.setattr(full_weights.shutil, "copyfile", copyfile)
    (tmp_path / "in.ckpt").write_bytes(b"x")
    with pytest.raises(OSError) as caught:
        full_weights.link_or_copy(tmp_path / "in.ckpt", tmp_path / "out.ckpt")
    assert caught.value.filename2 == str(tmp_path / "out.ckpt")


# --- writers killed mid-write ----------------------------------------------------------------------

WRITER = """
import sys, time
from mathlora.artifacts import atomic_output
with atomic_output(sys.argv[1], suffix=".ckpt") as tmp, open(tmp, "wb") as handle:
    handle.write(b"x" * 4096)
    handle.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


def test_a_temporary_left_by_kill_9_is_removed_when_the_output_is_written_again(tmp_path):
    target = tmp_path / "merged" / "ckpt1.ckpt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE,
                              text=True, env=env)
    try:
        assert writer.stdout.readline().strip() == "writing"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    left = stale_temporaries(target, ".ckpt")
    assert len(left) == 1 and left[0].stat().st_size == 4096  # what kill -9 leaves behind
    neighbour = target.parent / ".ckpt1.ckpt.json.abcdefgh.tmp"  # another output's: not touched
    neighbour.write_text("x")
    with atomic_output(target, suffix=".ckpt") as tmp:
        assert not left[0].exists()
        tmp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole"
    assert sorted(p.name for p in target.parent.iterdir()) == [neighbour.name, "ckpt1.ckpt"]


def test_an_interrupted_writer_removes_its_temporary(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(target) as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert not list(tmp_path.iterdir())


# --- many members ----------------------------------------------------------------------------------

def test_the_duplicate_member_check_is_linear():
    infos = [zipfile.ZipInfo(f"run/logs/{i}.log") for i in range(20_000)] + [zipfile.ZipInfo("run/logs/7.log")]
    started = time.monotonic()
    problems = verify.name_problems(infos)
    assert time.monotonic() - started < 1.0
    assert problems == ["duplicate 'run/logs/7.log'"]


def test_a_conversation_file_nested_too_deep_is_an_input_error(tmp_path):
    from mathlora.jsonl import read_conversations

    path = tmp_path / "c.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(InputError, match="nesting too deep"):
        read_conversations(path)


def test_the_honest_line_still_reads(tmp_path):
    path = write_lines(tmp_path / "train.json", GOOD, json.dumps({"problem": "😀", "solution": "1"}))
    assert [r["problem"] for _, r in iter_records(path, FIELDS)] == ["计算 1 + 2 等于多少？", "😀"]
