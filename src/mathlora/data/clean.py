"""Reading the raw train.json the way every data stage sees it: strict lines, template text removed.

What counts as *instruction-template text*: CONTEXT.md says only that the entry removed "the
instruction template text" from the organisers' lines before sampling. The lines are later wrapped
in the entry's own templates (training: ``请解答如下数学问题： {problem}``; inference:
``Please answer the following math problems:\\n{problem}\\n###answer:``), so a problem that already
carries one of these instructions would be trained with it twice and predicted with a prompt the
model never saw. The template text removed here is therefore exactly those instruction strings, taken
from :mod:`mathlora.prompts` (never retyped): the training prefix and the inference prefix and
suffix, each without surrounding whitespace. Every occurrence is removed, in problem and solution;
a field that had template text is then stripped of the whitespace the template left at its ends.
Lines whose problem or solution is empty afterwards are dropped and counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mathlora.jsonl import BadLines, iter_records
from mathlora.prompts import MATH_PROMPT_PREFIX, MATH_PROMPT_SUFFIX, TRAIN_HUMAN_PREFIX

FIELDS = ("problem", "solution")
# Longest first so that no template is cut by removing a shorter one inside it.
TEMPLATE_TEXTS: tuple[str, ...] = tuple(sorted(
    {TRAIN_HUMAN_PREFIX.strip(), MATH_PROMPT_PREFIX.strip(), MATH_PROMPT_SUFFIX.strip()},
    key=lambda text: (-len(text), text)))


def strip_templates(text: str) -> tuple[str, int]:
    """``text`` without any template text, and how many occurrences were removed."""
    removed = 0
    for template in TEMPLATE_TEXTS:
        if template in text:
            removed += text.count(template)
            text = text.replace(template, "")
    return (text.strip(), removed) if removed else (text, 0)


@dataclass(frozen=True)
class Line:
    number: int          # 1-based physical line of the raw file
    problem: str
    solution: str
    english: bool        # past the first ``chinese_lines`` lines
    templates: int       # template occurrences removed from this line


def read_lines(path: str | Path, chinese_lines: int, *, on_error: str = "fail",
               bad: BadLines | None = None) -> Iterator[Line]:
    """Every valid line of a raw train.json, template text removed (bad lines per ``on_error``)."""
    for number, record in iter_records(path, FIELDS, on_error=on_error, bad=bad):
        problem, in_problem = strip_templates(record["problem"])
        solution, in_solution = strip_templates(record["solution"])
        yield Line(number, problem, solution, number > chinese_lines, in_problem + in_solution)


def normalize(problem: str) -> str:
    """The form under which two problems count as the same text (whitespace and case folded)."""
    return " ".join(problem.split()).casefold()
