import json
import re
from collections import Counter
from decimal import Decimal, localcontext
from fractions import Fraction

import pytest

from mathlora.cli import main as cli
from mathlora.data import synth
from mathlora.data.categories import categorize
from mathlora.prompts import ENTRY, TRAIN_HUMAN_PREFIX

# The organisers' train.json: 800,000 Chinese lines, 538,949 of them unique.
REAL_UNIQUE_CHINESE = 538_949
REAL_CHINESE = 800_000


@pytest.fixture(scope="module")
def lines():
    return synth.generate(4000, 60, seed=7)


def close(text: str, exact: Decimal, digits: int = 15) -> bool:
    """``text`` equals ``exact`` to ``digits`` significant digits."""
    value = Decimal(text)
    if exact == 0:
        return value == 0
    return abs(value - exact) <= abs(exact) * Decimal(10) ** (1 - digits)


def check_answer(problem: str, solution: str) -> str:
    kind = categorize(problem)
    if kind in ("add", "subtract", "multiply", "divide"):
        a, op, b = re.fullmatch(r"计算 (\S+) ([-+*/]) (\S+) 等于多少？", problem).groups()
        left, c = solution.split(" = ")
        assert left == f"{a} {op} {b}"
        x, y = Decimal(a), Decimal(b)
        if op == "+":
            assert c == f"{x + y:.2f}"
        elif op == "-":
            assert c == f"{x - y:.2f}"
        elif op == "*":
            assert c == f"{x * y:.4f}"
        else:
            with localcontext() as ctx:
                ctx.prec = 40
                assert close(c, x / y)
    elif kind == "sqrt":
        x = re.fullmatch(r"计算 (\S+) 的平方根？", problem).group(1)
        left, c = solution.split(" = ")
        assert left == f"√{x}"
        with localcontext() as ctx:
            ctx.prec = 40
            assert close(c, Decimal(x).sqrt())
    elif kind == "power":
        x, n = re.fullmatch(r"计算 (\S+) 的 (\d) 次方？", problem).groups()
        assert 0 <= int(n) <= 5
        assert Decimal(solution.split(" = ")[1]) == Fraction(x) ** int(n)
    elif kind == "equation":
        a, sign, b = re.fullmatch(r"解方程 (-?\d+)x ([+-]) (\d+) = 0", problem).groups()
        root = Fraction(-int(sign + b), int(a))
        with localcontext() as ctx:
            ctx.prec = 40
            assert close(solution.removeprefix("方程的解为："), Decimal(root.numerator) / root.denominator)
    elif kind == "rectangle_area":
        a, b = map(int, re.findall(r"\d+", problem))
        assert solution == f"面积为 {a * b} 平方厘米"
    elif kind == "function_value":
        v, a, n = re.fullmatch(r"当 x = (\S+) 时，求函数 y = (\d+)x\^(\d+) 的值", problem).groups()
        exact = int(a) * Fraction(v) ** int(n)
        with localcontext() as ctx:
            ctx.prec = 60
            assert close(solution.removeprefix("函数的值为："), Decimal(exact.numerator) / exact.denominator)
    elif kind == "discount":
        p, q = map(int, re.findall(r"\d+", problem))
        with localcontext() as ctx:
            ctx.prec = 40
            assert close(solution, Decimal((p - q) * 100) / p)
    elif kind == "mass":
        d, v = map(int, re.findall(r"\d+", problem))
        assert solution == f"{d * v} 克"
    elif kind == "mean":
        values = json.loads(problem.split("：", 1)[1])
        with localcontext() as ctx:
            ctx.prec = 40
            assert close(solution.removeprefix("平均值为 "), Decimal(sum(values)) / len(values))
    elif kind == "sales_growth":
        s, r = map(int, re.findall(r"\d+", problem))
        assert Decimal(solution) == Decimal(s) * (100 + r) / 100
    elif kind == "fraction":
        a, b = map(int, re.findall(r"\d+", problem))
        f = Fraction(a, b)
        assert solution == f"最简化的形式为：{f.numerator}/{f.denominator}"
    elif kind == "english":
        assert "\\boxed{" in solution and "$" in problem
    else:
        raise AssertionError(f"unknown category: {problem}")
    return kind


def test_every_answer_is_exact(lines):
    kinds = Counter(check_answer(p, s) for p, s in lines)
    assert set(kinds) == set(synth.REAL_UNIQUE) | {"english"}


def test_chinese_first_then_english(lines):
    assert all(categorize(p) != "english" for p, _ in lines[:4000])
    assert all(categorize(p) == "english" for p, _ in lines[4000:])
    assert len(lines) == 4060


def test_real_size_shares_and_duplication():
    targets = synth.unique_targets(REAL_CHINESE)
    assert sum(targets.values()) == REAL_UNIQUE_CHINESE
    assert targets["sqrt"] == 39_227 and targets["fraction"] == 45 and targets["mass"] == 100
    # Same shares at a smaller size: duplicate rate and category mix stay close to the real file's.
    lines = synth.chinese_lines(40_000, seed=3)
    unique = len(set(lines))
    assert unique / len(lines) == pytest.approx(REAL_UNIQUE_CHINESE / REAL_CHINESE, abs=0.01)
    shares = Counter(categorize(p) for p, _ in set(lines))
    assert shares["equation"] / unique == pytest.approx(40_080 / REAL_UNIQUE_CHINESE, abs=0.003)


def test_english_lines_are_distinct():
    lines = synth.english_lines(500, seed=1)
    assert len({p for p, _ in lines}) == 500


def test_templates_are_embedded_at_the_rate():
    base = synth.chinese_lines(2000, seed=5)
    wrapped, count = synth.embed_templates(base, 0.1, seed=5)
    marked = sum(TRAIN_HUMAN_PREFIX in p or ENTRY.prefix in p for p, _ in wrapped)
    assert marked == count and 150 < count < 250


def test_cli_is_seeded_and_byte_identical(tmp_path):
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    for path, seed in ((a, 1), (b, 1), (c, 2)):
        assert cli(["synth", "--out", str(path), "--seed", str(seed), "--chinese-lines", "300",
                    "--english-lines", "5", "--template-rate", "0.05"]) == 0
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    rows = [json.loads(line) for line in a.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 305 and all(set(r) == {"problem", "solution"} for r in rows)


def test_bad_sizes_are_config_errors(tmp_path, capsys):
    out = tmp_path / "x.json"
    assert cli(["synth", "--out", str(out), "--seed", "1", "--chinese-lines", "5", "--english-lines", "3"]) == 1
    assert "data.chinese_lines" in capsys.readouterr().err and not out.exists()
    assert cli(["synth", "--out", str(out), "--seed", "1", "--chinese-lines", "800", "--english-lines", "0"]) == 1
    assert not out.exists()
    with pytest.raises(Exception, match="template rate"):
        synth.embed_templates([], 1.5, seed=1)
