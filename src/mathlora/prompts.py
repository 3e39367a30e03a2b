"""Every prompt string of the entry and the organisers, in one place.

The math prompt exists in three variants, selected by name (config ``evaluate.prompt``):

``entry``
    What the entry's own ``run_llama3_test.py`` builds, byte for byte (its lines 145-158, shown in
    the entry's report as a screenshot): ``"Please answer the following math promblem:\\n " +
    problem + "\\n###answer:"``, with the typo ``promblem``, a space after the newline and a colon
    after ``###answer``. The entry tells judges to use exactly this prompt; it is the default.
``report``
    The prose of the entry's report: ``Please answer the following math problems:\\n{problem}
    \\n###answer``. Kept for anyone comparing the two.
``finetune``
    The fine-tuning conversation up to the answer (vicuna v1.1 with ``请解答如下数学问题：``), a
    diagnostic: the entry trained with this template and predicted with another one.

A variant also says whether its token ids start with bos: the entry's script tokenizes with
MindFormers r1.1's ``Llama3Tokenizer``, which adds none (``add_bos_token=False``), while every
training row starts with bos.

``submission/run_llama3_test.py`` ships a byte-identical copy of the ``entry`` strings (it must run
in the contest environment without this package); a test holds the two together.
"""

from __future__ import annotations

from dataclasses import dataclass

# The entry's training conversation: human = prefix + " " + problem, gpt = solution.
TRAIN_HUMAN_PREFIX = "请解答如下数学问题："

# FastChat vicuna v1.1, as the organisers' llama_preprocess.py renders each conversation.
VICUNA_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)
VICUNA_USER = "USER"
VICUNA_ASSISTANT = "ASSISTANT"
VICUNA_ROUND_END = "</s>"

# The organisers' SQuAD original-ability prompt.
SQUAD_PROMPT = (
    "Read the passage and answer the question below.\n\n"
    "### Instruction:\n{context}\n\n### Input:\n{question}\n\n### Response:"
)


@dataclass(frozen=True)
class MathPrompt:
    """A math prompt: ``prefix + problem + suffix``, tokenized with or without a leading bos."""

    name: str
    prefix: str
    suffix: str
    bos: bool
    source: str  # where the strings come from

    def __call__(self, problem: str) -> str:
        return self.prefix + problem + self.suffix


ENTRY = MathPrompt(
    "entry", "Please answer the following math promblem:\n ", "\n###answer:", False,
    "the entry's run_llama3_test.py (lines 145-158 of the screenshot in its report)")
REPORT = MathPrompt(
    "report", "Please answer the following math problems:\n", "\n###answer", False,
    "the prose of the entry's report")
FINETUNE = MathPrompt(
    "finetune", f"{VICUNA_SYSTEM} {VICUNA_USER}: {TRAIN_HUMAN_PREFIX} ", f" {VICUNA_ASSISTANT}:", True,
    "the fine-tuning conversation (vicuna v1.1) up to the answer")
MATH_PROMPTS: dict[str, MathPrompt] = {p.name: p for p in (ENTRY, REPORT, FINETUNE)}
DEFAULT_MATH_PROMPT = ENTRY.name


def math_prompt_named(name: str) -> MathPrompt:
    """The math prompt variant ``name`` (entry | report | finetune)."""
    try:
        return MATH_PROMPTS[name]
    except KeyError:
        raise ValueError(f"unknown math prompt {name!r}: expected one of "
                         f"{', '.join(MATH_PROMPTS)}") from None


def math_prompt(problem: str, variant: str = DEFAULT_MATH_PROMPT) -> str:
    """The prompt wrapped around a test problem (by default the entry's, byte for byte)."""
    return math_prompt_named(variant)(problem)


def train_human(problem: str) -> str:
    """The human turn of a training conversation."""
    return f"{TRAIN_HUMAN_PREFIX} {problem}"


def squad_prompt(context: str, question: str) -> str:
    return SQUAD_PROMPT.format(context=context, question=question)
