"""Answer extraction on every solution style of train.json and on realistic model outputs."""

from fractions import Fraction

import pytest

from mathlora.evaluate.extract import (
    continuation,
    extract,
    extract_reference,
    find_boxed,
    first_answer,
    last_number,
    parse_number,
)
from mathlora.prompts import math_prompt


def value(answer):
    assert answer is not None
    return answer.value


@pytest.mark.parametrize("solution, expected", [
    ("12.35 + 3.1 = 15.45", Fraction("15.45")),                 # + / - : 2 decimals
    ("-5.2 - 3.1 = -8.3", Fraction("-8.3")),
    ("1.5 * 2.25 = 3.375", Fraction("3.375")),                  # * : 4 decimals
    ("7 / 3 = 2.3333333333333335", Fraction("2.3333333333333335")),
    ("√16 = 4.0", Fraction(4)),
    ("5^3 = 125", Fraction(125)),
    ("方程的解为：-1.6666666666666667", Fraction("-1.6666666666666667")),
    ("平均值为 12.5", Fraction("12.5")),
    ("最简化的形式为：3/4", Fraction(3, 4)),
    ("30 克", Fraction(30)),
    ("面积为 4788 平方厘米", Fraction(4788)),
    ("函数的值为：2.769E+34", Fraction(27690) * 10 ** 30),
    ("0.85", Fraction("0.85")),
    ("-0.15", Fraction("-0.15")),                                # discounts can be negative
    ("1123.5", Fraction("1123.5")),                              # sales growth
    ("We add them: $2+3=5$, and so the total is $\\boxed{\\frac{5}{6}}$.", Fraction(5, 6)),
    ("Thus $x = \\boxed{-12}$.", Fraction(-12)),
    ("The count is $\\boxed{1{,}024}$.", Fraction(1024)),
])
def test_reference_styles(solution, expected):
    assert value(extract_reference(solution)) == expected


def test_scientific_notation_keeps_its_exponent():
    answer = parse_number("2.769E+34")
    assert answer.exponent == 31 and answer.value == Fraction(2769) * 10 ** 31


def test_percent_and_decimal_places():
    answer = parse_number("85%")
    assert answer.percent and answer.value == 85
    assert parse_number("15.60").exponent == -2


def test_boxed_nested_braces():
    assert find_boxed("so \\boxed{\\frac{\\sqrt{3}}{2}} done") == "\\frac{\\sqrt{3}}{2}"
    assert find_boxed("\\boxed{unclosed") is None
    symbolic = first_answer("\\boxed{\\frac{\\sqrt{3}}{2}}")
    assert symbolic.value is None and symbolic.text == "\\frac{\\sqrt{3}}{2}"


def test_echoed_question_then_answer_then_run_on():
    problem = "计算 -2873.52 - 2868.07 等于多少？"
    text = ("计算 -2873.52 - 2868.07 等于多少？\n-2873.52 - 2868.07 = -5741.59\n"
            "计算 1.5 + 2.5 等于多少？\n1.5 + 2.5 = 4.0")
    assert value(first_answer(text, problem)) == Fraction("-5741.59")
    assert value(last_number(text, problem)) == Fraction(4)  # why last number is a poor primary rule


def test_echoed_equation_is_not_the_answer():
    problem = "解方程 3x + 5 = 0"
    text = " 解方程 3x + 5 = 0\n方程的解为：-1.67"
    assert value(first_answer(text, problem)) == Fraction("-1.67")
    fn = "当 x = 5 时，求函数 y = 3x^2 的值"
    assert value(first_answer("当 x = 5 时，y = 3x^2 = 75", fn)) == 75


def test_chain_of_equations_takes_first_result():
    assert value(first_answer("2 + 3 = 5 = 5.0\n5 * 2 = 10")) == 5


def test_numbered_list_and_stopped_mid_number():
    assert first_answer("1. 计算 5 + 3 等于多少") is None  # no answer given yet
    assert value(first_answer("1. 计算\n8")) == 8
    assert value(first_answer(" 12.3")) == Fraction("12.3")  # cut by the token limit: still a number


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "我不知道", "计算 等于多少？"])
def test_no_number_is_no_answer(text):
    assert first_answer(text) is None
    assert last_number(text) is None


def test_binary_minus_is_not_a_sign():
    assert value(last_number("3-5")) == 5
    assert value(last_number("x=-5")) == -5
    assert value(first_answer("答案是 −7")) == -7  # unicode minus


def test_marker_needs_a_number_right_after_it():
    assert value(first_answer("计算 1 + 2 等于多少？\n答案是 3")) == 3
    assert value(first_answer("The answer is 42.")) == 42


def test_unknown_mode_rejected():
    with pytest.raises(ValueError, match="first_answer, last_number"):
        extract("1", "loose")


def test_continuation_strips_prompt():
    prompt = math_prompt("计算 1 + 2 等于多少？")
    assert continuation(prompt, prompt + " 1 + 2 = 3") == (" 1 + 2 = 3", True)
    # a tokenizer that changed whitespace in the prompt: the same prompt, whitespace aside
    assert continuation(prompt, prompt.replace(" ", "") + "3") == ("3", True)
    assert continuation(prompt, "3") == ("3", False)
    # another problem's prompt, answer marker and all, is not this one's
    other = math_prompt("计算 4 + 5 等于多少？")
    assert continuation(prompt, other + " 9") == (other + " 9", False)
