"""Reading the raw train.json the way every data stage sees it: strict lines, template text removed.

What counts as *instruction-template text*: the entry's report says only that it removed "the
instruction template text" from the organisers' lines before sampling. The lines are later wrapped
in the entry's own templates (training: ``请解答如下数学问题： {problem}``; inference:
``Please answer the following math promblem:\\n {problem}\\n###answer:``), so a problem that already
carries one of these instructions would be trained with it twice and predicted with a prompt the
model never saw. The template text removed here is therefore exactly those instruction strings, taken
from :mod:`mathlora.prompts` (never retyped): the training prefix and the inference prefix and
suffix of the entry's script and of its report's prose, each without surrounding whitespace. Every
occurrence is removed, in problem and solution; a field that had template text is then stripped of
the whitespace the template left at its ends.
Lines whose problem or solution is empty afterwards are dropped and counted.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from mathlora.errors import InputError
from mathlora.jsonl import BadLines, read_distinct
from mathlora.prompts import ENTRY, REPORT, TRAIN_HUMAN_PREFIX

FIELDS = ("problem", "solution")
# Longest first so that no template is cut by removing a shorter one inside it.
TEMPLATE_TEXTS: tuple[str, ...] = tuple(sorted(
    {TRAIN_HUMAN_PREFIX.strip(), *(text.strip() for prompt in (ENTRY, REPORT)
                                   for text in (prompt.prefix, prompt.suffix))},
    key=lambda text: (-len(text), text)))


def strip_templates(text: str) -> tuple[str, int]:
    """``text`` without any template text, and how many occurrences were removed."""
    removed = 0
    for template in TEMPLATE_TEXTS:
        if template in text:
            removed += text.count(template)
            text = text.replace(template, "")
    return (text.strip(), removed) if removed else (text, 0)


class Line(NamedTuple):
    number: int          # 1-based physical line of the raw file
    problem: str
    solution: str
    english: bool        # past the first ``chinese_lines`` lines
    templates: int       # template occurrences removed from this line


@dataclass
class Table:
    """A raw train.json as its distinct lines, each cleaned once, and which one every valid line is.

    The organisers' file repeats a third of its lines; the stages judge each distinct line once and
    weigh the verdict by how often it occurs, instead of judging 809,993 lines one by one.
    """

    problems: list[str | None]   # per distinct line, template text removed (None: invalid line)
    solutions: list[str | None]
    templates: list[int]         # template occurrences removed from the distinct line
    numbers: Any                 # numpy int64: 1-based physical numbers of the valid lines
    ids: Any                     # numpy int64: the distinct line each valid line is
    english: Any                 # numpy bool: each valid line lies past the first ``chinese_lines``
    lines: int = 0               # lines of the file, valid or not

    @property
    def size(self) -> int:
        """Valid lines."""
        return len(self.ids)

    def multiplicity(self) -> Any:
        import numpy as np

        return np.bincount(self.ids, minlength=len(self.problems))

    def line(self, at: int) -> Line:
        """The ``at``-th valid line (0-based, file order)."""
        d = int(self.ids[at])
        return Line(int(self.numbers[at]), self.problems[d], self.solutions[d],  # type: ignore[arg-type]
                    bool(self.english[at]), self.templates[d])


def read_table(path: str | Path, chinese_lines: int, *, on_error: str = "fail",
               bad: BadLines | None = None) -> Table:
    """Every valid line of a raw train.json, template text removed (bad lines per ``on_error``);
    the file must hold at least ``chinese_lines`` lines (its Chinese part comes first)."""
    distinct = read_distinct(path, FIELDS, on_error=on_error, bad=bad)
    if chinese_lines > distinct.lines:  # every English line would be taken for a Chinese one
        raise InputError(path, f"{distinct.lines} lines, fewer than --chinese-lines {chinese_lines} "
                         "(data.chinese_lines): the Chinese lines come first and the English after "
                         "them, so the count must fit the file")
    problems: list[str | None] = []
    solutions: list[str | None] = []
    templates: list[int] = []
    for record in distinct.records:
        if record is None:
            problems.append(None)
            solutions.append(None)
            templates.append(0)
            continue
        problem, in_problem = strip_templates(record["problem"])
        solution, in_solution = strip_templates(record["solution"])
        problems.append(problem)
        solutions.append(solution)
        templates.append(in_problem + in_solution)
    return Table(problems, solutions, templates, distinct.numbers, distinct.ids,
                 distinct.numbers > chinese_lines, distinct.lines)


def normalize(problem: str) -> str:
    """The form under which two problems count as the same text (whitespace and case folded)."""
    return " ".join(problem.split()).casefold()


@contextmanager
def bulk_objects() -> Iterator[None]:
    """Pause cyclic garbage collection while a stage builds millions of lines and records.

    None of them can form a cycle, but their allocation keeps triggering collections that rescan
    every object already built: measured 1.6 s of a 4.6 s read of the real-size file.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
