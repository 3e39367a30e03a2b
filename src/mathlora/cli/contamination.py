"""Test problems that also occur in the training data, or in the tiny base model's corpus.

``mathlora contamination``: the arguments, read into calls of :mod:`mathlora.evaluate.contamination`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mathlora.errors import InputError
from mathlora.evaluate.contamination import base_corpus_overlap, overlap
from mathlora.jsonl import read_records


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train", required=True, help="training JSON Lines with a 'problem' field")
    parser.add_argument("--test", required=True, help="test JSON Lines with a 'problem' field")
    parser.add_argument("--base-corpus", help="the tiny base's pretraining corpus (mathlora world)")
    parser.add_argument("--base-report", help="the base's report: its corpus sha256 must match")
    parser.add_argument("--out", required=True, help="contamination.json report to write")


def main(args: argparse.Namespace) -> int:
    from mathlora.artifacts import write_artifact

    train = [r["problem"] for r in read_records(args.train, ("problem",))]
    test = [r["problem"] for r in read_records(args.test, ("problem",))]
    report = {"train": str(Path(args.train)), "test": str(Path(args.test)), **overlap(train, test)}
    report["base_corpus"] = None
    if args.base_corpus:
        from mathlora.artifacts import file_sha256, read_artifact

        sha256 = file_sha256(args.base_corpus)
        if args.base_report:
            trained_on = read_artifact(args.base_report, "base")["corpus"]["sha256"]
            if trained_on != sha256:
                raise InputError(args.base_corpus, f"sha256 {sha256[:12]}... is not that of the corpus "
                                 f"the base was trained on ({trained_on[:12]}... in {args.base_report}); "
                                 "expected the data and corpus settings the base was built with",
                                 field="base.corpus")
        report["base_corpus"] = {"path": str(args.base_corpus), "sha256": sha256,
                                 **base_corpus_overlap(args.base_corpus, test)}
    write_artifact(args.out, "contamination", report)
    print(f"{report['n_test']} test problems against {report['n_train']} training problems: "
          f"{report['exact']['count']} exact, {report['normalised']['count']} after normalisation")
    if report["base_corpus"]:
        found = report["base_corpus"]
        print(f"against the base's corpus of {found['documents']} documents: "
              f"{found['operand_pairs']['count']} operand pairs, {found['texts']['count']} texts")
    return 0
