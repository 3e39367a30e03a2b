"""Tokenize the training conversations into a MindRecord file, as the organisers' qa preprocessing.

Each conversation becomes one row of ``seq_length + 1`` ids and labels (see :mod:`mathlora.data.qa`
for the exact procedure and the instruction-length quirk; ``--mask corrected`` fixes it). Rows are
written with MindSpore's ``FileWriter`` under the schema description ``qa``, fields ``input_ids`` and
``labels`` (int32, shape [-1]). MindRecord keeps an index next to the data (``<file>.db``); both are
written in a temporary directory and moved into place only when complete. The report counts rows,
truncated rows (content longer than the row), fully masked rows and the token-length histogram.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from mathlora.artifacts import write_artifact
from mathlora.data.qa import IGNORE_ID, MASKS, Rows, build_rows, reference_row, render
from mathlora.errors import ConfigError, MathloraError
from mathlora.jsonl import read_conversations
from mathlora.tokenizer.llama3 import Llama3Tokenizer

SCHEMA = {"input_ids": {"type": "int32", "shape": [-1]}, "labels": {"type": "int32", "shape": [-1]}}
SCHEMA_DESC = "qa"
CHUNK = 8192  # rows per write_raw_data call
SELF_CHECK = 64  # rows re-built by the literal reference procedure before writing


def write_mindrecord(path: Path, input_ids: np.ndarray, labels: np.ndarray) -> None:
    """Rows of ids and labels as a ``qa`` MindRecord; ``path`` and ``path.db`` appear together,
    complete, or not at all."""
    from mindspore.mindrecord import FileWriter

    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        staged = staging / path.name  # MindRecord stores the file name: keep it
        writer = FileWriter(str(staged), shard_num=1, overwrite=True)
        writer.add_schema(SCHEMA, SCHEMA_DESC)
        for start in range(0, len(input_ids), CHUNK):
            writer.write_raw_data([{"input_ids": ids, "labels": row_labels} for ids, row_labels
                                   in zip(input_ids[start:start + CHUNK], labels[start:start + CHUNK])])
        writer.commit()
        for name in (path.name + ".db", path.name):  # data file last: its presence means complete
            os.chmod(staging / name, 0o644)
            os.replace(staging / name, path.parent / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def histogram(lengths: np.ndarray, length: int, bins: int = 16) -> list[dict[str, int]]:
    """Counts of content lengths in ``bins`` equal ranges up to the row length, plus one beyond."""
    # Integer edges, each once: a row shorter than ``bins`` tokens would otherwise repeat edges and
    # give empty ranges whose min exceeds their max.
    edges = np.unique(np.linspace(0, length, bins + 1).astype(int))
    out = []
    for low, high in zip(edges[:-1], edges[1:]):
        out.append({"min": int(low) + 1, "max": int(high),
                    "count": int(((lengths > low) & (lengths <= high)).sum())})
    out.append({"min": length + 1, "max": int(max(lengths.max(initial=0), length + 1)),
                "count": int((lengths > length).sum())})
    return out


def summarize(rows: Rows, length: int) -> dict[str, Any]:
    trained = rows.labels != IGNORE_ID
    lengths = rows.content
    return {
        "rows": int(len(lengths)),
        "row_length": length,
        "truncated_rows": int((lengths > length).sum()),
        "fully_masked_rows": int((~trained.any(axis=1)).sum()),
        "label_tokens": int(trained.sum()),
        "reference_rows": rows.fallback,
        "content_length": {"min": int(lengths.min()), "mean": round(float(lengths.mean()), 3),
                           "max": int(lengths.max())},
        "histogram": histogram(lengths, length),
    }


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--in", dest="input", required=True, type=Path,
                        help="training conversation JSON (data_converter format)")
    parser.add_argument("--tokenizer", required=True, type=Path, help="Llama3-format tokenizer.model")
    parser.add_argument("--seq-length", type=int, required=True,
                        help="model sequence length; rows hold seq_length + 1 ids (the entry: 256)")
    parser.add_argument("--mask", choices=MASKS, default="organisers",
                        help="organisers: the entry's off-by-one instruction mask (default); "
                             "corrected: mask the whole instruction")
    parser.add_argument("--out", required=True, type=Path, help="MindRecord file (writes <out>.db too)")
    parser.add_argument("--report", required=True, type=Path, help="mindrecord.json report")


def main(args: argparse.Namespace) -> int:
    if args.seq_length < 8:
        raise ConfigError(f"mindrecord.seq_length: expected an integer >= 8, got {args.seq_length}")
    length = args.seq_length + 1
    tokenizer = Llama3Tokenizer.from_file(args.tokenizer)
    conversations = read_conversations(args.input)
    rows = build_rows(conversations, tokenizer, length, args.mask)
    for index in range(min(SELF_CHECK, len(conversations))):
        ids, labels, _ = reference_row(render(*conversations[index]), tokenizer, length, args.mask)
        if ids != rows.input_ids[index].tolist() or labels != rows.labels[index].tolist():
            raise MathloraError(f"{args.input}: conversation {index + 1}: fast row differs from the "
                                f"reference procedure (a bug; please report it)")
    write_mindrecord(args.out, rows.input_ids, rows.labels)
    payload = {"input": str(args.input), "tokenizer": str(args.tokenizer),
               "tokenizer_sha256": tokenizer.sha256, "seq_length": args.seq_length, "mask": args.mask,
               "schema": SCHEMA_DESC, "special_ids": {"bos": tokenizer.bos_id, "eos": tokenizer.eos_id,
                                                      "pad": tokenizer.pad_id},
               **summarize(rows, length)}
    write_artifact(args.report, "mindrecord", payload)
    return 0
