"""Answer extraction: the final number of a model output or a reference solution.

Two named modes are scored side by side (as evaluation harnesses do). Neither is "strict" in the
harnesses' sense (only a required format counts): the base model and the entry's prompt ask for no
format, so the primary mode finds the first answer the text gives, in any of the forms below.

``first_answer`` (primary)
    1. the content of the first ``\\boxed{...}`` (nested braces, ``\\frac``), if there is one;
    2. otherwise the *earliest* of these in the text:
       - a number right after an answer marker (``方程的解为：``, ``平均值为``, ``面积为``, ``函数的值为：``,
         ``最简化的形式为：``, ``答案是``, ``the answer is``, ``###answer:`` ...),
       - the first result of an equation: the number right after ``=`` (or ``≈``), unless the whole
         statement ``lhs = number`` is an echo of the problem (``当 x = 5 时``, ``3x + 5 = 0``),
       - a line that is only a number, optionally with a unit (``30 克``, ``-0.15``, ``85%``).
    Earliest wins because models run on into new invented questions after their answer; the
    first result of the continuation is the one that answers the prompt.
``last_number``
    the last number of the text (after ``\\frac{a}{b}`` -> ``a/b``).

Numbers: integers, decimals, negatives, scientific notation (``2.769E+34``), fractions without
spaces (``5/6``), percentages (``85%``). A text with no number gives ``None``: an explicit
"no answer", counted wrong. Values are exact (:class:`fractions.Fraction`); the decimal exponent of
the written number is kept because the comparison rounds to the reference's decimal places.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from mathlora.prompts import ENTRY, REPORT

MODES = ("first_answer", "last_number")

# A minus is a sign only when it does not follow an operand (``3-5`` is a subtraction).
_NUMBER = (
    r"(?P<neg>(?<![0-9A-Za-z_)\]}])-)?"
    r"(?<![0-9A-Za-z_.])"
    r"(?:(?P<num>\d+)/(?P<den>\d+)(?![0-9.])"
    r"|(?P<dec>(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?))"
    r"(?P<pct>\s*%)?"
)
NUMBER_RE = re.compile(_NUMBER)

# Phrases after which the answer follows (solution styles of train.json plus common phrasings).
MARKERS = (
    "方程的解为", "最简化的形式为", "函数的值为", "平均值为", "面积为", "质量为", "折扣比例为",
    "销售额为", "答案是", "答案为", "答案", "结果是", "结果为", "解为", "值为", "答",
    "the answer is", "answer is", "answer:", ENTRY.suffix.strip(), REPORT.suffix.strip(),
)
_MARKER_RE = re.compile(
    "(?:" + "|".join(re.escape(m) for m in sorted(MARKERS, key=len, reverse=True)) + ")"
    r"\s*(?:[:：=是]\s*)?\$?\s*(?=" + _NUMBER + ")", re.IGNORECASE)
# The result of an equation: ``=`` then a number that is not the start of a term like ``3x`` or ``2^3``.
_EQUALS_RE = re.compile(r"[=≈]\s*\$?\s*(?=" + _NUMBER + r"(?![0-9A-Za-z(^{\\]))")
# A line that is nothing but a number and perhaps a short unit or full stop.
_BARE_LINE_RE = re.compile(r"^[ \t$]*(?=" + _NUMBER + r"[ \t]*(?:[\u4e00-\u9fff]{1,4}|元|%)?[ \t。.$]*$)",
                           re.MULTILINE)
# Where the left-hand side of an equation starts.
_LHS_START = re.compile(r"[\n=，,。;；:：?？!！$]")
_FRAC_RE = re.compile(r"\\[dt]?frac\s*\{\s*(-?\d+)\s*\}\s*\{\s*(\d+)\s*\}")
_FRAC_SHORT_RE = re.compile(r"\\[dt]?frac(\d)(\d)")


@dataclass(frozen=True)
class Answer:
    """An extracted answer.

    ``value`` is exact; ``exponent`` is the decimal exponent of the written number (``-2`` for
    ``15.60``, ``31`` for ``2.769E+34``, ``None`` for fractions); ``value`` is ``None`` for a boxed
    answer that is not a number, which is then compared as normalised text.
    """

    text: str
    value: Fraction | None
    exponent: int | None
    percent: bool
    how: str  # boxed | marker | equals | bare | last

    def to_json(self) -> dict:
        return {"text": self.text, "value": None if self.value is None else _show(self.value),
                "how": self.how}


def _show(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{value.numerator}/{value.denominator}"


def unify_notation(text: str) -> str:
    """Unify minus signs, full-width digits and ``\\frac`` so one number pattern fits all."""
    text = text.replace("\u2212", "-").replace("－", "-").replace("．", ".").replace("％", "%")
    text = text.translate({0xFF10 + i: ord("0") + i for i in range(10)})
    text = _FRAC_RE.sub(r"\1/\2", text)
    return _FRAC_SHORT_RE.sub(r"\1/\2", text)


def _from_match(match: re.Match, how: str) -> Answer | None:
    sign = -1 if match.group("neg") else 1
    percent = bool(match.group("pct"))
    if match.group("num") is not None:
        den = int(match.group("den"))
        if den == 0:
            return None
        return Answer(match.group(0).strip(), sign * Fraction(int(match.group("num")), den), None,
                      percent, how)
    try:
        number = Decimal(match.group("dec"))
    except InvalidOperation:  # pragma: no cover - the pattern only admits valid literals
        return None
    if not number.is_finite():
        return None
    return Answer(match.group(0).strip(), sign * Fraction(number), number.as_tuple().exponent,
                  percent, how)


def parse_number(text: str, how: str = "number") -> Answer | None:
    """``text`` as one number if it is exactly one (surrounding spaces allowed), else ``None``."""
    text = unify_notation(text).strip()
    match = NUMBER_RE.fullmatch(text)
    return _from_match(match, how) if match else None


def find_boxed(text: str) -> str | None:
    """Content of the first ``\\boxed{...}`` with balanced braces (``None`` if absent or unclosed)."""
    start = text.find("\\boxed")
    while start != -1:
        i = start + len("\\boxed")
        while i < len(text) and text[i] == " ":
            i += 1
        if i < len(text) and text[i] == "{":
            depth = 0
            for j in range(i, len(text)):
                if text[j] == "{":
                    depth += 1
                elif text[j] == "}":
                    depth -= 1
                    if depth == 0:
                        return text[i + 1:j]
            return None
        start = text.find("\\boxed", i)
    return None


def normalise_boxed(content: str) -> str:
    """Minerva-style normalisation of a boxed answer so equal answers compare equal as text."""
    out = content
    for old, new in (("\\left", ""), ("\\right", ""), ("\\!", ""), ("\\,", ""), ("\\;", ""),
                     ("{,}", ""), ("\\$", ""), ("$", ""), ("\\%", "%"), ("^\\circ", ""),
                     ("^{\\circ}", ""), ("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"),
                     ("\\displaystyle", "")):
        out = out.replace(old, new)
    out = re.sub(r"\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}", r"\1", out)
    out = re.sub(r"\s+", "", out)
    return out.rstrip(".")


def _boxed_answer(content: str) -> Answer:
    text = normalise_boxed(content)
    # 1,000 inside a box is a thousands separator, never a list.
    numeric = parse_number(re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text), "boxed")
    if numeric is not None:
        return numeric
    return Answer(text, None, None, False, "boxed")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _equals_candidates(text: str, problem: str):
    squashed_problem = _squash(unify_notation(problem))
    for match in _EQUALS_RE.finditer(text):
        number = NUMBER_RE.match(text, match.end())
        if number is None:  # pragma: no cover - guaranteed by the lookahead
            continue
        starts = [m.end() for m in _LHS_START.finditer(text, 0, match.start())]
        lhs = text[starts[-1] if starts else 0:match.start()]
        statement = _squash(lhs + "=" + number.group(0))
        if squashed_problem and _squash(lhs) and statement in squashed_problem:
            continue  # the model repeating the question, not answering it
        yield match.start(), number


def first_answer(text: str, problem: str = "") -> Answer | None:
    """The first answer the text gives (see the module docstring); ``None`` = no answer."""
    text = unify_notation(text)
    boxed = find_boxed(text)
    if boxed is not None:
        return _boxed_answer(boxed)
    found: list[tuple[int, re.Match, str]] = []
    marker = _MARKER_RE.search(text)
    if marker:
        found.append((marker.start(), NUMBER_RE.match(text, marker.end()), "marker"))
    equals = next(_equals_candidates(text, problem), None)
    if equals:
        found.append((equals[0], equals[1], "equals"))
    bare = _BARE_LINE_RE.search(text)
    if bare:
        found.append((bare.start(), NUMBER_RE.match(text, bare.end()), "bare"))
    for _, match, how in sorted(found, key=lambda item: item[0]):
        answer = _from_match(match, how)
        if answer is not None:
            return answer
    return None


def last_number(text: str, problem: str = "") -> Answer | None:
    """The last number of the text; ``None`` = no answer."""
    del problem  # the signature of first_answer
    for match in reversed(list(NUMBER_RE.finditer(unify_notation(text)))):
        answer = _from_match(match, "last")
        if answer is not None:
            return answer
    return None


EXTRACTORS = {"first_answer": first_answer, "last_number": last_number}


def extract(text: str, mode: str, problem: str = "") -> Answer | None:
    if mode not in EXTRACTORS:
        raise ValueError(f"unknown extraction mode {mode!r}: expected one of {', '.join(MODES)}")
    return EXTRACTORS[mode](text, problem)


def extract_reference(solution: str) -> Answer | None:
    """The reference answer of a solution: its first answer, falling back to its last number."""
    return first_answer(solution) or last_number(solution)


def prompt_end(prompt: str, text: str) -> int | None:
    """Where the model's own text begins if ``text`` starts with ``prompt``, else None.

    Whitespace may differ (a tokenizer that does not round-trip it); nothing else may: a text that
    starts with another problem's prompt does not belong to this one.
    """
    if text.startswith(prompt):
        return len(prompt)
    wanted = [c for c in prompt if not c.isspace()]
    matched = 0
    for position, char in enumerate(text):
        if matched == len(wanted):
            return position
        if char.isspace():
            continue
        if char != wanted[matched]:
            return None
        matched += 1
    return len(text) if matched == len(wanted) else None


def continuation(prompt: str, text: str) -> tuple[str, bool]:
    """The model's own text of a MindFormers generation (prompt + continuation).

    Returns ``(continuation, prompt_found)``: the text after ``prompt`` when the text starts with
    it (whitespace aside, see :func:`prompt_end`); else the whole text, and ``prompt_found`` is
    False so the report counts such items. The prompt's answer marker alone is no sign of the
    prompt: another problem's prompt ends with it too, and a model that invents questions writes it.
    """
    end = prompt_end(prompt, text)
    if end is None:
        return text, False
    return text[end:], True
