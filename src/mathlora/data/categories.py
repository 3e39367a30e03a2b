"""Problem categories of the organisers' train.json, recognised from the problem text alone.

The organisers' Chinese lines come from a handful of fixed phrasings (``计算 a + b 等于多少？``,
``解方程 ax + b = 0``, ``求以下数据的平均值：[...]`` and so on); each category is keyed on the
phrase that only it uses. Lines without any CJK character are the English competition problems.
Anything else is ``None``: reports count it under ``unknown`` rather than hide it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from mathlora.data.numbers import DECIMAL_PATTERN as _NUM

CATEGORIES: tuple[str, ...] = (
    "add", "subtract", "multiply", "divide", "sqrt", "power", "equation", "rectangle_area",
    "function_value", "discount", "mass", "mean", "sales_growth", "fraction", "english",
)
UNKNOWN = "unknown"  # the key reports count an unrecognised problem under

_ARITHMETIC = re.compile(rf"计算\s*({_NUM})\s*([-+*/])\s*({_NUM})\s*等于多少")
_OPERATOR = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide"}
_CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")

# Order matters only where phrases could co-occur; each phrase below is unique to its category.
_KEYED: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("sqrt", re.compile(r"的平方根")),
    ("power", re.compile(r"的\s*\d+\s*次方")),
    ("equation", re.compile(r"解方程")),
    ("rectangle_area", re.compile(r"长方形.*面积|面积.*长方形")),
    ("function_value", re.compile(r"求函数")),
    ("discount", re.compile(r"折扣")),
    ("mass", re.compile(r"密度.*质量")),
    ("mean", re.compile(r"平均值")),
    ("sales_growth", re.compile(r"销售额")),
    ("fraction", re.compile(r"将分数.*简化")),
)


def categorize(problem: str) -> str | None:
    """The category of one problem, or ``None`` when no known phrasing matches."""
    match = _ARITHMETIC.search(problem)
    if match:
        return _OPERATOR[match.group(2)]
    for name, pattern in _KEYED:
        if pattern.search(problem):
            return name
    if not _CJK.search(problem):
        return "english"
    return None


def category_of(problem: str) -> str:
    """The category of one problem as reports key it: :func:`categorize`, or ``unknown``."""
    return categorize(problem) or UNKNOWN


def in_order(counts: Mapping[str, int]) -> dict[str, int]:
    """The non-zero counts of a per-category tally, in :data:`CATEGORIES` order, ``unknown`` last."""
    return {name: counts[name] for name in (*CATEGORIES, UNKNOWN) if counts.get(name)}
