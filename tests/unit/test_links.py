"""submission/links.yaml and its schema: the entry's five checkpoints, https only."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mathlora.errors import InputError
from mathlora.package.links import all_urls, is_placeholder, load_links, parse_links

LINKS = Path(__file__).resolve().parents[2] / "submission" / "links.yaml"


def test_shipped_links_hold_the_entrys_five_checkpoints_in_order():
    links = load_links(LINKS)
    assert [c["index"] for c in links["checkpoints"]] == [1, 2, 3, 4, 5]
    assert links["best"] == {"index": 2, "accuracy": 0.619, "measured_by": "entry"}
    assert len(set(all_urls(links))) == 6
    assert all(url.startswith("https://") for url in all_urls(links))


def test_shipped_links_are_the_entrys_published_ones():
    host = "https://btbdzzz.obs.cn-southwest-2.myhuaweicloud.com/"
    links = load_links(LINKS)
    assert links["code_package"] == host + "7_28_Success_Compressed"
    assert [c["url"] for c in links["checkpoints"]] == [host + name for name in (
        "ckpt_merged_res1", "ckpt_merged_res2", "ckpt_merged_res3", "lora_ckpt_0727.ckpt",
        "ckpt_7_28_merged")]
    assert "best" in links["checkpoints"][1]["note"]
    assert not any(is_placeholder(url) for url in all_urls(links))


def document() -> dict:
    return yaml.safe_load(LINKS.read_text(encoding="utf-8"))


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(code_package="http://example.org/code.zip"),
    lambda d: d["checkpoints"][0].update(url="ftp://example.org/ckpt1.ckpt"),
    lambda d: d["checkpoints"][4].update(url="https://example.org/has space.ckpt"),
    lambda d: d["checkpoints"][1].update(url="//example.org/ckpt2.ckpt"),
    lambda d: d.update(extra="field"),
    lambda d: d.pop("best"),
    lambda d: d["best"].update(accuracy=61.9),
    lambda d: d.update(schema_version="2.0"),
    lambda d: d["checkpoints"].reverse(),
    lambda d: d["best"].update(index=6),
])
def test_schema_and_order_rejections(mutate):
    doc = document()
    mutate(doc)
    with pytest.raises(InputError):
        parse_links(yaml.safe_dump(doc), "links.yaml")


def test_not_yaml_names_the_file():
    with pytest.raises(InputError, match="links.yaml"):
        parse_links("code_package: [unclosed", "links.yaml")


@pytest.mark.parametrize("url, placeholder", [
    ("https://obs.placeholder.invalid/x", True), ("https://invalid/x", True),
    ("https://obs.cn-south-1.myhuaweicloud.com/x.ckpt", False),
    ("https://example.invalidated.org/x", False),
])
def test_placeholder_detection(url, placeholder):
    assert is_placeholder(url) is placeholder
