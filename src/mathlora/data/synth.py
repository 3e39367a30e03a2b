"""Generate a train.json in the organisers' format: Chinese arithmetic lines first, then English.

JSON Lines of ``{"problem", "solution"}`` with the phrasings and solution styles of the organisers'
809,993-line file: the four operators, square root, power 0..5, equation, rectangle area, function
value, discount, mass, mean, sales growth and fraction simplification, then English competition
problems ending in ``\\boxed{}``. Category shares and the duplication rate follow the real file
(538,949 unique of 800,000 Chinese lines, 9,993 unique English lines); every answer is computed with
exact decimal arithmetic. Same size + seed -> byte-identical file.

``--template-rate`` wraps that share of the problems in instruction-template text (see
:mod:`mathlora.data.prepare` for what counts as template text), so prepare's removal has something to
remove and count. ``--small-operands N`` (the embedded default's demonstration) draws the operands of
the addition and subtraction problems as integers 0..N instead of two-decimal numbers up to
+-9999.99; phrasing and solution format stay the organisers' (``计算 a + b 等于多少？`` /
``a + b = c``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

from mathlora.data import numbers as num
from mathlora.errors import ConfigError
from mathlora.prompts import ENTRY, TRAIN_HUMAN_PREFIX

REAL_CHINESE_LINES = 800_000
REAL_ENGLISH_LINES = 9_993
# Unique problems per category in the organisers' train.json (arithmetic 437,781 of which square
# root 39,227 and power 39,207; the four operators share the other 359,347, about 90k each).
REAL_UNIQUE: dict[str, int] = {
    "add": 89_837, "subtract": 89_837, "multiply": 89_837, "divide": 89_836,
    "sqrt": 39_227, "power": 39_207, "equation": 40_080, "rectangle_area": 8_665,
    "function_value": 20_028, "discount": 6_275, "mass": 100, "mean": 19_709,
    "sales_growth": 6_266, "fraction": 45,
}
# Categories whose whole value space is small: the real file holds all of it.
VALUE_SPACE = {"mass": 100, "fraction": 45}

Line = tuple[str, str]
Generator = Callable[[random.Random], Line]


def _two_decimals(rng: random.Random) -> Decimal:
    return num.cents(rng.randint(-999_999, 999_999))


def _arithmetic(op: str) -> Generator:
    def make(rng: random.Random) -> Line:
        a, b = _two_decimals(rng), _two_decimals(rng)
        if op == "+":
            c = f"{a + b:.2f}"
        elif op == "-":
            c = f"{a - b:.2f}"
        elif op == "*":
            c = f"{a * b:.4f}"
        else:
            while b == 0:
                b = _two_decimals(rng)
            c = num.divide(a, b)
        return f"计算 {a} {op} {b} 等于多少？", f"{a} {op} {b} = {c}"
    return make


def _sqrt(rng: random.Random) -> Line:
    x = Decimal(rng.randint(1, 999_999)) if rng.random() < 0.5 else num.cents(rng.randint(1, 999_999))
    return f"计算 {x} 的平方根？", f"√{x} = {num.sqrt(x)}"


def _power(rng: random.Random) -> Line:
    x, n = num.cents(rng.randint(-9_999, 9_999) or 1), rng.randint(0, 5)  # no 0^0
    return f"计算 {x} 的 {n} 次方？", f"{x}^{n} = {num.plain(num.exact_power(x, n))}"


def _equation(rng: random.Random) -> Line:
    a = rng.randint(-100, 99) or 100  # never 0
    b = rng.randint(-1000, 999) or 1000
    sign = "+" if b > 0 else "-"
    return (f"解方程 {a}x {sign} {abs(b)} = 0",
            f"方程的解为：{num.divide(Decimal(-b), Decimal(a))}")


def _rectangle(rng: random.Random) -> Line:
    length, width = rng.randint(1, 100), rng.randint(1, 100)
    return (f"已知长方形的长为 {length} 厘米，宽为 {width} 厘米，请计算长方形的面积。",
            f"面积为 {length * width} 平方厘米")


def _function_value(rng: random.Random) -> Line:
    a, n = rng.randint(1, 100), rng.randint(1, 30)
    v = Decimal(rng.randint(-20, 20) or 1) if rng.random() < 0.5 else num.cents(rng.randint(1, 999))
    value = a * num.exact_power(v, n)
    return f"当 x = {v} 时，求函数 y = {a}x^{n} 的值", f"函数的值为：{num.scientific(value)}"


def _discount(rng: random.Random) -> Line:
    p, q = rng.randint(10, 1000), rng.randint(1, 1000)
    # Percent taken off the price: negative when the "discounted" price is higher.
    return (f"商品原价为 {p} 元，打折后的价格为 {q} 元，请计算打折的折扣比例。",
            num.divide(Decimal(p - q) * 100, Decimal(p)))


def _mass(rng: random.Random) -> Line:
    density, volume = rng.randint(1, 10), rng.randint(1, 10)
    return (f"已知某物体的密度为 {density} 克/立方厘米，体积为 {volume} 立方厘米，求该物体的质量。",
            f"{density * volume} 克")


def _mean(rng: random.Random) -> Line:
    values = [rng.randint(1, 100) for _ in range(rng.randint(3, 10))]
    mean = num.divide(Decimal(sum(values)), Decimal(len(values)))
    return f"求以下数据的平均值：[{', '.join(map(str, values))}]", f"平均值为 {mean}"


def _sales_growth(rng: random.Random) -> Line:
    sales, rate = rng.randint(10, 1000), rng.randint(1, 100)
    this_year = Decimal(sales) * (100 + rate) / 100
    return (f"去年销售额为 {sales} 万元，今年销售额增加了 {rate}%，请计算今年的销售额。",
            num.plain(this_year))


def _fraction(rng: random.Random) -> Line:
    b = rng.randint(2, 10)
    a = rng.randint(1, b - 1)
    simple = Fraction(a, b)
    return f"将分数 {a}/{b} 进行简化。", f"最简化的形式为：{simple.numerator}/{simple.denominator}"


CHINESE: dict[str, Generator] = {
    "add": _arithmetic("+"), "subtract": _arithmetic("-"), "multiply": _arithmetic("*"),
    "divide": _arithmetic("/"), "sqrt": _sqrt, "power": _power, "equation": _equation,
    "rectangle_area": _rectangle, "function_value": _function_value, "discount": _discount,
    "mass": _mass, "mean": _mean, "sales_growth": _sales_growth, "fraction": _fraction,
}


def _divisor_sum(rng: random.Random) -> Line:
    n = rng.randint(12, 200_000)
    total = sum(d + (n // d if d * d != n else 0) for d in range(1, math.isqrt(n) + 1) if n % d == 0)
    return (f"What is the sum of all of the positive divisors of ${n}$?",
            f"Pairing each divisor $d$ of ${n}$ with $\\frac{{{n}}}{{d}}$ and adding them all up, "
            f"the sum of the divisors is $\\boxed{{{total}}}$.")


def _binomial(rng: random.Random) -> Line:
    n = rng.randint(5, 80)
    k = rng.randint(1, n - 1)
    return (f"Compute $\\dbinom{{{n}}}{{{k}}}$.",
            f"$\\dbinom{{{n}}}{{{k}}} = \\frac{{{n}!}}{{{k}!\\,{n - k}!}} = \\boxed{{{math.comb(n, k)}}}$.")


def _modpow(rng: random.Random) -> Line:
    a, b, m = rng.randint(2, 99), rng.randint(10, 2024), rng.randint(3, 97)
    return (f"What is the remainder when ${a}^{{{b}}}$ is divided by ${m}$?",
            f"Working modulo ${m}$ and reducing the powers of ${a}$ step by step, "
            f"${a}^{{{b}}} \\equiv \\boxed{{{pow(a, b, m)}}} \\pmod{{{m}}}$.")


def _quadratic_value(rng: random.Random) -> Line:
    p, q, r, t = (rng.randint(-20, 20) or 1), rng.randint(-50, 50), rng.randint(-99, 99), rng.randint(-15, 15)
    value = p * t * t + q * t + r
    return (f"If $f(x) = {p}x^2 + {q}x + {r}$, what is the value of $f({t})$?",
            f"Substituting, $f({t}) = {p}\\cdot({t})^2 + {q}\\cdot({t}) + {r} = \\boxed{{{value}}}$.")


def _linear(rng: random.Random) -> Line:
    a, b, c = (rng.randint(-30, 30) or 2), rng.randint(-200, 200), rng.randint(-200, 200)
    x = Fraction(c - b, a)
    answer = str(x.numerator) if x.denominator == 1 else (
        f"{'-' if x < 0 else ''}\\frac{{{abs(x.numerator)}}}{{{x.denominator}}}")
    return (f"Solve for $x$: ${a}x + {b} = {c}$. Express your answer as a common fraction if needed.",
            f"Subtracting ${b}$ and dividing by ${a}$ gives $x = \\frac{{{c - b}}}{{{a}}} = \\boxed{{{answer}}}$.")


def _multiples(rng: random.Random) -> Line:
    n, k = rng.randint(50, 100_000), rng.randint(2, 99)
    return (f"How many positive integers less than ${n}$ are multiples of ${k}$?",
            f"The multiples are ${k}, {2 * k}, \\ldots, {k}\\cdot{(n - 1) // k}$, "
            f"so there are $\\boxed{{{(n - 1) // k}}}$ of them.")


ENGLISH: tuple[Generator, ...] = (_divisor_sum, _binomial, _modpow, _quadratic_value, _linear, _multiples)


def unique_targets(chinese_lines: int) -> dict[str, int]:
    """Unique problems per Chinese category for a file of ``chinese_lines`` (the real shares)."""
    scale = chinese_lines / REAL_CHINESE_LINES
    targets = {name: max(1, round(count * scale)) for name, count in REAL_UNIQUE.items()}
    for name, space in VALUE_SPACE.items():
        targets[name] = min(targets[name], space)
    if sum(targets.values()) > chinese_lines:
        raise ConfigError(f"data.chinese_lines: {chinese_lines} lines cannot hold one problem of "
                          f"each of the {len(targets)} Chinese categories; use at least "
                          f"{2 * len(targets)}")
    return targets


def _unique(make: Generator, count: int, rng: random.Random, seen: set[str]) -> list[Line]:
    lines: list[Line] = []
    attempts = 0
    while len(lines) < count:
        attempts += 1
        if attempts > 50 * count + 1000:
            raise ConfigError(f"cannot draw {count} distinct problems from {make.__name__}")
        line = make(rng)
        if line[0] not in seen:
            seen.add(line[0])
            lines.append(line)
    return lines


def _small_arithmetic(op: str, largest: int) -> Generator:
    """``a + b`` / ``a - b`` with integer operands 0..``largest``, in the organisers' phrasing."""
    def make(rng: random.Random) -> Line:
        a, b = rng.randint(0, largest), rng.randint(0, largest)
        return f"计算 {a} {op} {b} 等于多少？", f"{a} {op} {b} = {a + b if op == '+' else a - b}"
    return make


def generators(small_operands: int | None = None) -> dict[str, Generator]:
    """The Chinese category generators; ``small_operands`` makes + and - integer problems 0..N."""
    if small_operands is None:
        return CHINESE
    if small_operands < 1:
        raise ConfigError(f"data.small_operands: {small_operands}; expected at least 1")
    return {**CHINESE, "add": _small_arithmetic("+", small_operands),
            "subtract": _small_arithmetic("-", small_operands)}


def chinese_lines(total: int, seed: int, small_operands: int | None = None) -> list[Line]:
    """``total`` Chinese lines: the real per-category unique counts, padded with duplicates, shuffled."""
    pool: list[Line] = []
    makers = generators(small_operands)
    targets = unique_targets(total)
    if small_operands is not None:  # the value space of a small-operand category is (N + 1)^2
        for name in ("add", "subtract"):
            targets[name] = min(targets[name], (small_operands + 1) ** 2 // 2)
    for name, count in targets.items():
        pool.extend(_unique(makers[name], count, random.Random(f"{seed}:{name}"), set()))
    rng = random.Random(f"{seed}:chinese")
    lines = pool + [rng.choice(pool) for _ in range(total - len(pool))]
    rng.shuffle(lines)
    return lines


def english_lines(total: int, seed: int) -> list[Line]:
    """``total`` distinct English competition problems (the real file has no English duplicates)."""
    rng = random.Random(f"{seed}:english")
    seen: set[str] = set()
    lines: list[Line] = []
    while len(lines) < total:
        lines.extend(_unique(rng.choice(ENGLISH), 1, rng, seen))
    return lines


def embed_templates(lines: list[Line], rate: float, seed: int) -> tuple[list[Line], int]:
    """Wrap a seeded ``rate`` share of the problems in instruction-template text; returns the count."""
    if not 0 <= rate <= 1:
        raise ConfigError(f"template rate must be within [0, 1], got {rate}")
    rng = random.Random(f"{seed}:templates")
    out: list[Line] = []
    wrapped = 0
    for problem, solution in lines:
        if rate and rng.random() < rate:
            wrapped += 1
            if rng.random() < 0.5:
                problem = f"{TRAIN_HUMAN_PREFIX} {problem}"
            else:
                problem = ENTRY(problem)
        out.append((problem, solution))
    return out, wrapped


def generate(chinese: int, english: int, seed: int, template_rate: float = 0.0,
             small_operands: int | None = None) -> list[Line]:
    lines = chinese_lines(chinese, seed, small_operands) + english_lines(english, seed)
    return embed_templates(lines, template_rate, seed)[0]
