"""A small generated reading-comprehension set in SQuAD v1.1 format.

The embedded default has no ``dev-v1.1.json``, so it generates one: short English passages about
invented towns, people and rivers (three to four facts each), several questions per paragraph, and
answers that are verbatim spans of the passage (``answer_start`` is the character offset), so a
small model can learn to copy the span. The dev split is the original-ability check; the tiny base
model reads passages of a split of its own (``world``, :mod:`mathlora.data.world`). Seeded: same
seed -> byte-identical files.
Passages stay short so that prompt + 20 new tokens fit the tiny model's sequence length.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from pathlib import Path

from mathlora.artifacts import atomic_output

_ONSETS = ("b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "tr",
           "st", "kl", "gr")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ou")
_CODAS = ("", "n", "r", "l", "s", "th", "m")
_GOODS = ("copper", "salt", "wool", "timber", "glass", "silk", "honey", "iron", "tea", "cotton",
          "marble", "paper")
_COLOURS = ("red", "blue", "green", "white", "black", "yellow", "grey", "purple")
_JOBS = ("merchant", "farmer", "sailor", "priest", "soldier", "weaver", "miner", "baker")
_ANIMALS = ("horse", "eagle", "wolf", "bear", "fox", "swan", "lion", "owl")


def _name(rng: random.Random, syllables: int | None = None) -> str:
    count = syllables or rng.choice((2, 2, 3))
    word = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(count))
    return (word + rng.choice(_CODAS)).capitalize()


# Each fact: (sentence template, question template, answer key); {town} is the paragraph's subject.
Fact = tuple[str, str, str]
_FACTS: tuple[Fact, ...] = (
    ("{town} lies on the river {river}.", "On which river does {town} lie?", "river"),
    ("It was founded in {year} by a {job} named {founder}.", "Who founded {town}?", "founder"),
    ("It was founded in {year} by a {job} named {founder}.", "When was {town} founded?", "year"),
    ("Its main export is {good}.", "What is the main export of {town}?", "good"),
    ("The town flag is {colour} with a {animal}.", "What colour is the flag of {town}?", "colour"),
    ("About {people} people live there today.", "How many people live in {town}?", "people"),
    ("The mayor of {town} is {mayor}.", "Who is the mayor of {town}?", "mayor"),
)


def paragraph(rng: random.Random, index: int, split: str) -> dict:
    """One paragraph with 3-4 facts and a question (with its answer span) for each fact."""
    values = {
        "town": _name(rng), "river": _name(rng, 2), "founder": f"{_name(rng, 1)} {_name(rng, 2)}",
        "mayor": f"{_name(rng, 1)} {_name(rng, 2)}", "year": str(rng.randint(1100, 1899)),
        "job": rng.choice(_JOBS), "good": rng.choice(_GOODS), "colour": rng.choice(_COLOURS),
        "animal": rng.choice(_ANIMALS), "people": str(rng.randint(2, 95) * 100),
    }
    facts = rng.sample(_FACTS, rng.choice((3, 4)))
    # Sentences that name the town come first so that "It" and "there" have something to refer to.
    ordered = sorted(facts, key=lambda fact: "{town}" not in fact[0])
    sentences: list[str] = [] if "{town}" in ordered[0][0] else [f"{values['town']} is a town."]
    for sentence, _, _ in ordered:
        text = sentence.format(**values)
        if text not in sentences:  # founder and year share one sentence
            sentences.append(text)
    context = " ".join(sentences)
    qas = []
    for number, (_, question, key) in enumerate(facts):
        answer = values[key]
        start = _span_start(context, answer, key)
        qas.append({"id": f"{split}-{index:05d}-{number}", "question": question.format(**values),
                    "answers": [{"text": answer, "answer_start": start}]})
    return {"context": context, "qas": qas}


def _span_start(context: str, answer: str, key: str) -> int:
    # A colour word or a short name could also sit inside another name: search whole words, and
    # colours where their fact puts them.
    if key == "colour":
        return context.index(f"is {answer} with") + 3
    match = re.search(r"(?<![A-Za-z0-9])" + re.escape(answer) + r"(?![A-Za-z0-9])", context)
    if match is None:  # pragma: no cover - every answer is written into its passage
        raise ValueError(f"answer {answer!r} not in passage {context!r}")
    return match.start()


def dataset(seed: int, split: str, paragraphs: int) -> dict:
    """A SQuAD v1.1 document with ``paragraphs`` paragraphs, ten per article."""
    rng = random.Random(f"{seed}-squad-{split}")
    articles = []
    for start in range(0, paragraphs, 10):
        items = [paragraph(rng, i, split) for i in range(start, min(start + 10, paragraphs))]
        articles.append({"title": f"Towns_{start // 10 + 1}", "paragraphs": items})
    return {"version": "1.1", "data": articles}


def check_spans(document: dict) -> int:
    """Number of answers whose span does not match the context (0 for generated sets)."""
    bad = 0
    for article in document["data"]:
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                for answer in qa["answers"]:
                    start = answer["answer_start"]
                    bad += para["context"][start:start + len(answer["text"])] != answer["text"]
    return bad


def write_json(path: str | Path, document: dict) -> None:
    with atomic_output(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


# The generated splits: ``dev`` is the original-ability check every report reads; ``base-check``
# is the reading check a freshly pretrained tiny base is judged by (``make base-model``), so that
# choosing among bases never reads the reported set.
SPLITS = ("dev", "base-check")


def synthesise(seed: int, paragraphs: int, path: str | Path, split: str = "dev",
               log: Callable[[str], None] = print) -> None:
    """One generated split (the base model's own reading passages are a split of the world corpus)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    document = dataset(seed, split, paragraphs)
    write_json(path, document)
    questions = sum(len(p["qas"]) for a in document["data"] for p in a["paragraphs"])
    log(f"{split}: {paragraphs} paragraphs, {questions} questions -> {path}")
