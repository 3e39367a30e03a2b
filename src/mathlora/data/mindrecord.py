"""Tokenize the training conversations into a MindRecord file, as the organisers' qa preprocessing.

Each conversation becomes one row of ``seq_length + 1`` ids and labels (see :mod:`mathlora.data.qa`
for the exact procedure and the instruction-length quirk; ``--mask corrected`` fixes it). Rows are
written with MindSpore's ``FileWriter`` under the schema description ``qa``, fields ``input_ids`` and
``labels`` (int32, shape [-1]). MindRecord keeps an index next to the data (``<file>.db``); both are
written in a temporary directory and moved into place only when complete. The report counts rows,
truncated rows (content longer than the row), fully masked rows and the token-length histogram.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from mathlora.data.qa import IGNORE_ID, Rows

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
