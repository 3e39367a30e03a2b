import pytest

from mathlora.data.categories import CATEGORIES, categorize

# Phrasings of the organisers' train.json, one per category.
EXAMPLES = {
    "计算 -7840.79 + 4206.75 等于多少？": "add",
    "计算 12.50 - -3.25 等于多少？": "subtract",
    "计算 9640.96 * -6394.35 等于多少？": "multiply",
    "计算 1.00 / 3.00 等于多少？": "divide",
    "计算 5681 的平方根？": "sqrt",
    "计算 4.35 的 3 次方？": "power",
    "解方程 -7x + 6 = 0": "equation",
    "已知长方形的长为 84 厘米，宽为 57 厘米，请计算长方形的面积。": "rectangle_area",
    "当 x = 7.42 时，求函数 y = 71x^21 的值": "function_value",
    "商品原价为 95 元，打折后的价格为 63 元，请计算打折的折扣比例。": "discount",
    "已知某物体的密度为 5 克/立方厘米，体积为 6 立方厘米，求该物体的质量。": "mass",
    "求以下数据的平均值：[86, 5, 21, 71, 11]": "mean",
    "去年销售额为 47 万元，今年销售额增加了 18%，请计算今年的销售额。": "sales_growth",
    "将分数 4/8 进行简化。": "fraction",
    "Compute $\\dbinom{10}{3}$.": "english",
}


@pytest.mark.parametrize("problem, expected", EXAMPLES.items())
def test_each_phrasing_has_its_category(problem, expected):
    assert categorize(problem) == expected


def test_every_category_is_covered_and_unknown_is_none():
    assert set(EXAMPLES.values()) == set(CATEGORIES)
    assert categorize("今天天气怎么样？") is None
