import subprocess
import sys

import pytest

from mathlora import cli


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["frobnicate"])
    assert stop.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_every_command_module_has_help():
    """Each listed command imports cheaply and answers --help (no MindSpore import needed)."""
    for name in cli.COMMANDS:
        done = subprocess.run([sys.executable, "-m", "mathlora.cli", name, "--help"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{name}: {done.stderr[-2000:]}"
        assert f"mathlora {name}" in done.stdout


def test_output_path_that_is_a_directory_is_one_error_line(tmp_path, capsys):
    out = tmp_path / "taken"
    out.mkdir()
    code = cli.main(["synth", "--seed", "1", "--chinese-lines", "20", "--english-lines", "2",
                     "--out", str(out)])
    assert code == 1
    assert capsys.readouterr().err == f"mathlora synth: error: {out}: Is a directory\n"
    assert [path.name for path in tmp_path.iterdir()] == ["taken"]  # no temporary file left


def test_unreadable_input_names_the_file(tmp_path, capsys):
    raw = tmp_path / "train.json"
    raw.mkdir()  # unreadable as a file, whoever runs the test
    code = cli.main(["prepare", "--in", str(raw), "--chinese-lines", "1", "--seed", "1",
                     "--sample", '{"chinese": 1, "english": 0}', "--out", str(tmp_path / "t.jsonl"),
                     "--report", str(tmp_path / "p.json")])
    assert code == 1
    assert capsys.readouterr().err == f"mathlora prepare: error: {raw}: Is a directory\n"
    assert not (tmp_path / "t.jsonl").exists()
