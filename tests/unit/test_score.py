"""The composite score reproduces the contest's published table."""

import json

import pytest

from mathlora.cli import main as cli
from mathlora.contest import OFFICIAL_DENOMINATOR
from mathlora.evaluate.score import composite


def test_published_example():
    assert round(composite(0.5138, 0.000424393), 9) == 0.659532682


def test_entry_ratio():
    # The entry's 3,407,872 trainable parameters over the organisers' denominator, as published.
    assert OFFICIAL_DENOMINATOR == 8_030_000_000
    assert round(3_407_872 / OFFICIAL_DENOMINATOR, 9) == 0.000424393


def test_cli(capsys):
    assert cli(["score", "--accuracy", "0.5138", "--ratio", "0.000424393"]) == 0
    assert capsys.readouterr().out.strip() == "0.659532682"
    assert cli(["score", "--accuracy", "0.5138", "--ratio", "0.000424393", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["score"] == 0.659532682


@pytest.mark.parametrize("acc, ratio", [(1.2, 0.0), (0.5, -0.1)])
def test_out_of_range(capsys, acc, ratio):
    assert cli(["score", "--accuracy", str(acc), "--ratio", str(ratio)]) == 1
    assert "must lie in [0, 1]" in capsys.readouterr().err
