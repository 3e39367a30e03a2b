"""The model commands check the installed MindSpore + MindFormers pair before they start."""

from importlib import metadata

import pytest

from mathlora.errors import ConfigError
from mathlora.model import stack


def test_the_pinned_pair_is_installed_and_passes():
    assert stack.installed() == stack.SUPPORTED
    stack.check()


@pytest.mark.parametrize("versions", [{"mindspore": "2.3.0rc2", "mindformers": "1.1.0"},
                                      {"mindspore": "2.9.0", "mindformers": None}])
def test_another_pair_stops_with_what_to_install(monkeypatch, versions):
    def version(name):
        if versions.get(name) is None:
            raise metadata.PackageNotFoundError(name)
        return versions[name]

    monkeypatch.setattr(stack.metadata, "version", version)
    stack.check.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"run on MindSpore 2\.9\.0 with MindFormers 1\.9\.0 "
                                              r"\(on Ascend with CANN 9\.0\.0, driver 26\.0\.RC1\)"):
            stack.check()
    finally:
        stack.check.cache_clear()


def test_the_pins_are_the_supported_pair():
    from pathlib import Path

    lock = (Path(__file__).resolve().parents[2] / "requirements.lock").read_text()
    for name, version in stack.SUPPORTED.items():
        assert f"{name}=={version}" in lock
