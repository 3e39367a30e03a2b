"""The tiny base model's pretraining corpus: a small world of its own, not the training set.

``mathlora world``: the arguments, read into calls of :mod:`mathlora.data.world`.
"""

from __future__ import annotations

import argparse
import hashlib
import json

from mathlora.artifacts import atomic_output, write_artifact
from mathlora.cli.arguments import add_settings_arguments, settings_from_arguments
from mathlora.data.world import corpus, excluded_keys
from mathlora.settings import WorldSettings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exclude", nargs="*", default=[],
                        help="problem files (JSON Lines) whose operand pairs the corpus leaves out")
    parser.add_argument("--out", required=True, help="corpus JSON Lines to write")
    parser.add_argument("--report", required=True, help="world.json report to write")
    add_settings_arguments(parser, WorldSettings)


def main(args: argparse.Namespace) -> int:
    settings = settings_from_arguments(args, WorldSettings)
    excluded = excluded_keys(args.exclude)
    documents = corpus(arithmetic=settings.arithmetic, paragraphs=settings.paragraphs,
                       largest=settings.largest, seed=settings.seed, excluded=excluded)
    text = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in documents)
    with atomic_output(args.out, suffix=".jsonl") as tmp:
        tmp.write_text(text, encoding="utf-8")
    kinds = {kind: sum(d["kind"] == kind for d in documents) for kind in ("arithmetic", "reading")}
    write_artifact(args.report, "world", {
        "seed": settings.seed, "largest": settings.largest, "documents": kinds,
        "excluded_pairs": len(excluded), "exclude": list(args.exclude), "output": args.out,
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()})
    print(f"world corpus: {kinds['arithmetic']} arithmetic, {kinds['reading']} reading documents "
          f"({len(excluded)} operand pairs of the training and test sets left out) -> {args.out}")
    return 0
