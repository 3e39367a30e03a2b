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
import importlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from mathlora.artifacts import write_artifact
from mathlora.jsonl import read_conversations
from mathlora.data.qa import IGNORE_ID, MASKS, Rows, build_rows, reference_row, render
from mathlora.errors import ConfigError, MathloraError
from mathlora.tokenizer.llama3 import Llama3Tokenizer

SCHEMA = {"input_ids": {"type": "int32", "shape": [-1]}, "labels": {"type": "int32", "shape": [-1]}}
SCHEMA_DESC = "qa"
CHUNK = 8192  # rows per write_raw_data call
SELF_CHECK = 64  # rows re-built by the literal reference procedure before writing


def write_mindrecord(path: Path, rows: Rows) -> None:
    """Write ``path`` and ``path.db`` so that neither exists unless both are complete."""
    from mindspore.mindrecord import FileWriter

    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        staged = staging / path.name  # MindRecord stores the file name: keep it
        writer = FileWriter(str(staged), shard_num=1, overwrite=True)
        writer.add_schema(SCHEMA, SCHEMA_DESC)
        _write_rows(writer, rows)
        writer.commit()
        for name in (path.name + ".db", path.name):  # data file last: its presence means complete
            os.chmod(staging / name, 0o644)
            os.replace(staging / name, path.parent / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_rows(writer: Any, rows: Rows) -> None:
    """All rows through ``writer``: the first by the public API, the rest as ready-made blobs.

    ``FileWriter.write_raw_data`` spends most of its time in Python, per row (the schema looked up
    from C five times, dtype checks, byte concatenation): about 4 s for the entry's 90,000 rows,
    beside under 2 s in the native writer itself.
    Every field here is an int32 array, so each row is stored as one blob, which is built for all
    rows at once with numpy and handed to the same native writer call. The first row goes through
    the public API (which opens the file and sets its header), and the blob layout is checked
    against MindSpore's own for it; if that check or an internal name fails, every row takes the
    public path. Both paths write byte-identical files (the tests compare them).
    """
    count = len(rows.input_ids)
    if not count:
        return
    fields = {"input_ids": rows.input_ids, "labels": rows.labels}
    writer.write_raw_data([{name: column[0] for name, column in fields.items()}])
    native = _native_writer(writer, fields)
    for start in range(1, count, CHUNK):
        stop = min(start + CHUNK, count)
        if native is not None:
            native(fields, start, stop)
        else:
            writer.write_raw_data([{name: column[i] for name, column in fields.items()}
                                   for i in range(start, stop)])


def _native_writer(writer: Any, fields: dict[str, np.ndarray]) -> Any:
    """A function writing rows ``start:stop`` as blobs, or ``None`` when the layout is not as known."""
    try:
        order = list(writer._header.blob_fields)
        shard = writer._writer  # mindspore.mindrecord's ShardWriter (Python)
        native = shard._writer  # its native writer
        success = importlib.import_module("mindspore._c_mindrecord").MSRStatus.SUCCESS
        expected = shard._merge_blob({name: fields[name][0] for name in order})
    except (AttributeError, ImportError):
        return None
    if sorted(order) != sorted(fields) or _blobs(fields, order, 0, 1) != [expected]:
        return None

    def write(columns: dict[str, np.ndarray], start: int, stop: int) -> None:
        # What ShardWriter.write_raw_data passes on when every field is a blob: no raw fields.
        if native.write_raw_data({}, _blobs(columns, order, start, stop), True, False) != success:
            raise MathloraError(f"MindRecord: writing rows {start}..{stop - 1} failed")

    return write


def _blobs(fields: dict[str, np.ndarray], order: list[str], start: int, stop: int) -> list[bytes]:
    """Rows ``start:stop`` as MindRecord blobs: per field, its byte length (8 bytes, big-endian)
    and its int32 values, fields in the schema's blob order."""
    parts = []
    for name in order:
        block = np.ascontiguousarray(fields[name][start:stop], dtype=np.int32)
        width = block.shape[1] * 4
        size = np.frombuffer(width.to_bytes(8, "big"), dtype=np.uint8)
        parts += [np.broadcast_to(size, (stop - start, 8)), block.view(np.uint8).reshape(-1, width)]
    merged = np.concatenate(parts, axis=1)
    return [row.tobytes() for row in merged]


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
    write_mindrecord(args.out, rows)
    payload = {"input": str(args.input), "tokenizer": str(args.tokenizer),
               "tokenizer_sha256": tokenizer.sha256, "seq_length": args.seq_length, "mask": args.mask,
               "schema": SCHEMA_DESC, "special_ids": {"bos": tokenizer.bos_id, "eos": tokenizer.eos_id,
                                                      "pad": tokenizer.pad_id},
               **summarize(rows, length)}
    write_artifact(args.report, "mindrecord", payload)
    return 0
