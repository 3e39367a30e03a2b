import subprocess
import sys

from mathlora import cli


def test_top_level_help_lists_every_command(capsys):
    try:
        cli.main(["--help"])
    except SystemExit as stop:
        assert stop.code == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out


def test_unknown_command_is_a_usage_error(capsys):
    try:
        cli.main(["frobnicate"])
    except SystemExit as stop:
        assert stop.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_every_command_module_has_help():
    """Each listed command imports cheaply and answers --help (no MindSpore import needed)."""
    for name in cli.COMMANDS:
        done = subprocess.run([sys.executable, "-m", "mathlora.cli", name, "--help"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{name}: {done.stderr[-2000:]}"
        assert f"mathlora {name}" in done.stdout
