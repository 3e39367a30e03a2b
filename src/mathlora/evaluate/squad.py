"""SQuAD original-ability check (F1/EM as MindFormers' EmF1Metric) and the generated SQuAD set.

``mathlora squad eval``: as the organisers' evaluation, one example per paragraph (its first
question and first answer), the organisers' prompt (``mathlora.prompts.SQUAD_PROMPT``), greedy
decoding with max_new_tokens 20 and min_new_tokens 1. The prediction is cut at its first newline
(after stripping), then F1 and EM are computed with EmF1Metric's exact semantics: lower-cased,
punctuation removed, mixed segmentation (each CJK character and punctuation mark one token, other
runs cut by jieba), F1 from the longest common *contiguous* run of tokens, EM on the
punctuation-free strings; both averaged and scaled to 0-100. Pass/fail against the base model or
the contest's fixed marks is decided in ``mathlora summary``.

``mathlora squad synth``: write a generated split, the dev set or make base-model's reading check
(``mathlora.data.squad_synth``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mathlora.errors import InputError
from mathlora.prompts import squad_prompt

# EmF1Metric's punctuation list, in its order.
SP_CHAR = ('-', ':', '_', '*', '^', '/', '\\', '~', '`', '+', '=', '，', '。', '：', '？', '！', '“',
           '”', '；', '’', '《', '》', '……', '·', '、', '「', '」', '（', '）', '－', '～', '『', '』')
_CJK = re.compile(r"[\u4e00-\u9fa5]")


def cut_prediction(text: str) -> str:
    """What EmF1Metric scores: the stripped prediction up to its first newline."""
    return text.strip().split("\n")[0]


def _jieba_cut(text: str) -> list[str]:
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    return list(jieba.cut(text))


def mixed_segmentation(text: str, remove_punctuation: bool = False) -> list[str]:
    text = str(text).lower().strip()
    segments: list[str] = []
    pending = ""
    for char in text:
        if remove_punctuation and char in SP_CHAR:
            continue
        if _CJK.search(char) or char in SP_CHAR:
            if pending:
                segments.extend(_jieba_cut(pending))
                pending = ""
            segments.append(char)
        else:
            pending += char
    if pending:
        segments.extend(_jieba_cut(pending))
    return segments


def remove_punctuation(text: str) -> str:
    return "".join(char for char in str(text).lower().strip() if char not in SP_CHAR)


def longest_common_run(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common contiguous run of tokens (what EmF1Metric calls LCS)."""
    best = 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0] * (len(b) + 1)
        for j, y in enumerate(b):
            if x == y:
                current[j + 1] = previous[j] + 1
                best = max(best, current[j + 1])
        previous = current
    return best


def f1_score(answer: str, prediction: str) -> float:
    answer_segments = mixed_segmentation(answer, remove_punctuation=True)
    prediction_segments = mixed_segmentation(prediction, remove_punctuation=True)
    common = longest_common_run(answer_segments, prediction_segments)
    if common == 0:
        return 0.0
    precision = common / len(prediction_segments)
    recall = common / len(answer_segments)
    return 2 * precision * recall / (precision + recall)


def em_score(answer: str, prediction: str) -> int:
    return int(remove_punctuation(answer) == remove_punctuation(prediction))


def corpus_scores(answers: Sequence[str], predictions: Sequence[str]) -> dict[str, float]:
    """F1 and EM (0-100) over pairs; predictions are cut at their first newline first."""
    if len(answers) != len(predictions):
        raise ValueError(f"{len(predictions)} predictions for {len(answers)} answers")
    examples = [Example(str(i), "", "", answer) for i, answer in enumerate(answers)]
    scores = score_examples(examples, predictions)
    return {"f1": scores["f1"], "em": scores["em"]}


@dataclass(frozen=True)
class Example:
    id: str
    context: str
    question: str
    answer: str

    @property
    def prompt(self) -> str:
        return squad_prompt(self.context, self.question)


def read_examples(path: str | Path, *, all_questions: bool = False) -> tuple[list[Example], int]:
    """Examples of a SQuAD v1.1 file, each with its question's first answer.

    By default the organisers' selection: the first question of each paragraph; with
    ``all_questions`` every question. Returns the examples and the number of paragraphs without any
    question (counted, not scored).
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "SQuAD file not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not a SQuAD v1.1 JSON file ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise InputError(path, "expected a JSON object with a 'data' list (SQuAD v1.1)", field="data")
    examples, without = [], 0
    for a, article in enumerate(document["data"]):
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            raise InputError(path, "expected a 'paragraphs' list", field=f"data/{a}/paragraphs")
        for p, para in enumerate(paragraphs):
            where = f"data/{a}/paragraphs/{p}"
            if not isinstance(para, dict) or not isinstance(para.get("context"), str):
                raise InputError(path, "expected a string 'context'", field=f"{where}/context")
            qas = para.get("qas")
            if not isinstance(qas, list):
                raise InputError(path, "expected a 'qas' list", field=f"{where}/qas")
            if not qas:
                without += 1
                continue
            for q, qa in enumerate(qas if all_questions else qas[:1]):
                answers = qa.get("answers") if isinstance(qa, dict) else None
                if (not isinstance(qa, dict) or not isinstance(qa.get("question"), str)
                        or not isinstance(answers, list) or not answers
                        or not isinstance(answers[0], dict)
                        or not isinstance(answers[0].get("text"), str)):
                    raise InputError(path, "question needs a string 'question' and an 'answers' list "
                                     "whose first entry has a string 'text'", field=f"{where}/qas/{q}")
                fallback = f"{a}-{p}-{q}" if all_questions else f"{a}-{p}"
                examples.append(Example(str(qa.get("id", fallback)), para["context"],
                                        qa["question"], answers[0]["text"]))
    if not examples:
        raise InputError(path, "no paragraph with a question: nothing to evaluate")
    return examples, without


def score_examples(examples: Sequence[Example], generations: Sequence[str]) -> dict:
    """Per-example and corpus F1/EM: the sum of the unscaled scores, then x 100 / n, as
    EmF1Metric averages them."""
    per_example, f1_total, em_total = [], 0.0, 0
    for example, generation in zip(examples, generations, strict=True):
        cut = cut_prediction(generation)
        f1, em = f1_score(example.answer, cut), em_score(example.answer, cut)
        f1_total += f1
        em_total += em
        per_example.append({"id": example.id, "question": example.question,
                            "answer": example.answer, "generation": generation, "prediction": cut,
                            "f1": 100.0 * f1, "em": 100 * em})
    n = len(per_example)
    totals = {"f1": 100.0 * f1_total / n, "em": 100.0 * em_total / n} if n else {"f1": 0.0, "em": 0.0}
    return {"n": n, **totals,
            "empty_predictions": sum(1 for e in per_example if not e["prediction"]),
            "examples": per_example}


def generation_run(gen, *, batch_size: int, max_length: int, max_new_tokens: int,
                   min_new_tokens: int) -> dict:
    """The ``predict`` block of a squad.json: the decoding settings and ``Generation.stats()``."""
    return {"batch_size": batch_size, "max_length": max_length, "max_new_tokens": max_new_tokens,
            "min_new_tokens": min_new_tokens, **gen.stats()}


def generate_answers(model, tokenizer, examples: Sequence[Example], settings) -> tuple[list[str], dict]:
    """The model's greedy answers to ``examples`` under ``settings`` (SquadSettings) and its run."""
    from mathlora.evaluate.predict import generate_texts

    gen = generate_texts(model, tokenizer, [e.prompt for e in examples],
                         max_new_tokens=settings.squad_max_new_tokens, max_length=settings.length,
                         batch_size=settings.batch_size, min_new_tokens=settings.squad_min_new_tokens)
    run = generation_run(gen, batch_size=settings.batch_size, max_length=settings.length,
                         max_new_tokens=settings.squad_max_new_tokens,
                         min_new_tokens=settings.squad_min_new_tokens)
    return gen.texts, run


def squad_report(model_name: str, dev: str | Path, without: int, examples: Sequence[Example],
                 generations: Sequence[str], run: dict | None) -> dict:
    """The squad.json body of one model's generations on the examples of ``dev``."""
    scores = score_examples(examples, generations)
    return {"model": model_name, "dev": str(dev), "paragraphs_without_question": without,
            "f1": scores["f1"], "em": scores["em"], "n": scores["n"],
            "empty_predictions": scores["empty_predictions"], "predict": run,
            "examples": scores["examples"]}


def report_line(report: dict) -> str:
    """One line on a squad.json: the scores, the speed, and passages that did not fit."""
    line = f"{report['model']}: SQuAD F1 {report['f1']:.3f}, EM {report['em']:.3f} over {report['n']}"
    run = report["predict"]
    if run:
        line += f" ({run['tokens_per_second']:.1f} tokens/s)"
        if run["prompt_too_long"]:
            line += (f"; {run['prompt_too_long']} passage(s) longer than max_length {run['max_length']}: "
                     "empty predictions (evaluate.squad_max_length fits them)")
    return line


def read_generations(path: str | Path, examples: Sequence[Example]) -> list[str]:
    """Saved SQuAD generations (JSON Lines {id, generation}) in example order."""
    from mathlora.jsonl import read_records

    records = read_records(path, ("id", "generation"))
    if len(records) != len(examples):
        raise InputError(path, f"{len(records)} generations for {len(examples)} SQuAD examples: "
                               "expected exactly one per example")
    for number, (record, example) in enumerate(zip(records, examples), start=1):
        if record["id"] != example.id:
            raise InputError(path, f"id {record['id']!r} where example {example.id!r} was expected",
                             line=number, field="id")
    return [r["generation"] for r in records]
