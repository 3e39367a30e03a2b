"""MindSpore ``.ckpt`` files read and written one tensor at a time.

``mindspore.load_checkpoint`` reads the whole file, parses it and builds every tensor: about twice
the file's size at its peak (measured: 8.6 GB for a 4 GB bf16 file; ~32 GB for Llama3-8B's 16 GB).
The file format makes a stream possible: a ``.ckpt`` is a sequence of serialized ``Checkpoint`` messages
(``mindspore.train.checkpoint_pb2``), each holding one ``Value`` (a tag and a ``TensorProto``:
dims, type name, raw bytes); a tensor above 512 MB is written as several consecutive values with
the same tag, split along its first axis. Each value is framed as protobuf field 1 of the
``Checkpoint`` message (byte ``0x0A``, then its length as a varint), and the value itself starts
with its tag (field 1: ``0x0A``, length, UTF-8 name). An optional ``crc_num`` trailer of 17
bytes may end the file.

:func:`index` reads only those framing bytes and tags (seeking over the contents), :func:`read`
decodes the values of one tensor with MindSpore's own protobuf classes, and :class:`Writer`
copies values unchanged or encodes new ones the way ``mindspore.save_checkpoint`` does. Memory
stays at a few tensors, whatever the file's size.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from mathlora.errors import InputError

CRC_TRAILER = 17          # b"crc_num" + 10 bytes, when a file was saved with crc_check
SLICE_BYTES = 512 * 2**20  # MindSpore splits tensors above this into several values
COPY_CHUNK = 1 << 24


@dataclass(frozen=True)
class Value:
    """One serialized value: its tag and where its message bytes lie in the file."""

    tag: str
    offset: int  # first byte of the Value message (after the framing)
    length: int


def _varint(handle: BinaryIO, source: Path) -> int:
    result, shift = 0, 0
    while True:
        byte = handle.read(1)
        if not byte:
            raise InputError(source, "truncated checkpoint: a length ends the file")
        result |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return result
        shift += 7
        if shift > 63:
            raise InputError(source, "not a MindSpore checkpoint: malformed length")


def index(path: str | Path) -> dict[str, list[Value]]:
    """Tag -> its values (slices) in file order, reading only the framing and the tags."""
    path = Path(path)
    with path.open("rb") as handle:
        return index_stream(handle, path.stat().st_size, path)


def index_stream(handle: BinaryIO, size: int, source: str | Path) -> dict[str, list[Value]]:
    """:func:`index` of ``size`` bytes read through a seekable ``handle`` (a file, a zip member)."""
    source = Path(source)
    found: dict[str, list[Value]] = {}
    end = size
    if size >= CRC_TRAILER:
        handle.seek(size - CRC_TRAILER)
        if handle.read(7) == b"crc_num":
            end = size - CRC_TRAILER
    handle.seek(0)
    position = 0
    while position < end:
        if handle.read(1) != b"\x0a":
            raise InputError(source, f"not a MindSpore checkpoint: byte {position} does not start "
                                     "a value (expected 0x0A)")
        length = _varint(handle, source)
        offset = handle.tell()
        if offset + length > end:
            raise InputError(source, f"truncated checkpoint: a value of {length} bytes at byte "
                                     f"{offset} runs past the end ({end} bytes)")
        if handle.read(1) != b"\x0a":
            raise InputError(source, f"not a MindSpore checkpoint: the value at byte {offset} has "
                                     "no tag")
        tag_length = _varint(handle, source)
        if handle.tell() + tag_length > offset + length:  # never read past the value
            raise InputError(source, f"not a MindSpore checkpoint: the tag at byte {offset} is "
                                     "longer than its value")
        tag = handle.read(tag_length).decode("utf-8", errors="replace")
        found.setdefault(tag, []).append(Value(tag, offset, length))
        position = offset + length
        handle.seek(position)
    return found


def _parse(handle: BinaryIO, value: Value, source: Path):
    from mindspore.train.checkpoint_pb2 import Checkpoint

    handle.seek(value.offset)
    data = handle.read(value.length)
    try:
        return Checkpoint.Value.FromString(data)
    except Exception as exc:  # google.protobuf.message.DecodeError
        raise InputError(source, f"damaged checkpoint value {value.tag!r}: {exc}",
                         field=value.tag) from None


def numpy_dtype(type_name: str, source: Path, tag: str) -> np.dtype:
    """The numpy dtype of a ``TensorProto.tensor_type`` name (``Float32``, ``BFloat16``, ...)."""
    from mindspore.train.serialization import tensor_to_np_type

    dtype = tensor_to_np_type(type_name)
    if dtype is None:
        raise InputError(source, f"tensor type {type_name!r} is not a numeric tensor", field=tag)
    return np.dtype(dtype)


# numpy dtype name -> the type name MindSpore writes (``str`` of its MindSpore type).
TYPE_NAMES = {"float32": "Float32", "float16": "Float16", "bfloat16": "BFloat16", "float64": "Float64",
              "int8": "Int8", "int16": "Int16", "int32": "Int32", "int64": "Int64", "uint8": "UInt8",
              "uint16": "UInt16", "uint32": "UInt32", "uint64": "UInt64", "bool": "Bool"}


def type_name(dtype: np.dtype) -> str:
    """The ``TensorProto.tensor_type`` name MindSpore writes for a numpy dtype."""
    try:
        return TYPE_NAMES[np.dtype(dtype).name]
    except KeyError:
        raise ValueError(f"no MindSpore checkpoint type for numpy dtype {dtype}") from None


def read(handle: BinaryIO, values: list[Value], source: Path) -> np.ndarray:
    """The whole tensor of one tag (its slices joined), with its stored dtype and shape."""
    parts, dims, kind = [], None, None
    for value in values:
        proto = _parse(handle, value, source)
        parts.append(proto.tensor.tensor_content)
        dims, kind = list(proto.tensor.dims), proto.tensor.tensor_type
    dtype = numpy_dtype(kind, source, values[0].tag)
    data = b"".join(parts)
    shape = () if dims in ([], [0]) else tuple(dims)
    expected = math.prod(shape) * dtype.itemsize
    if len(data) != expected:
        raise InputError(source, f"tensor {values[0].tag!r}: {len(data)} bytes for shape {shape} of "
                                 f"{kind} ({expected} expected)", field=values[0].tag)
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def read_header(handle: BinaryIO, value: Value, source: Path) -> tuple[tuple[int, ...], str]:
    """Shape and type name of a value, without keeping its bytes."""
    proto = _parse(handle, value, source)
    dims = list(proto.tensor.dims)
    return (() if dims in ([], [0]) else tuple(dims)), proto.tensor.tensor_type


class Writer:
    """Appends values to a ``.ckpt`` file: copied unchanged, or encoded from arrays."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle

    def copy(self, source: BinaryIO, values: list[Value]) -> None:
        """The values of one tag exactly as they were (framing rebuilt, bytes streamed)."""
        for value in values:
            self.handle.write(b"\x0a" + _encode_varint(value.length))
            source.seek(value.offset)
            left = value.length
            while left:
                chunk = source.read(min(COPY_CHUNK, left))
                if not chunk:
                    raise InputError(getattr(source, "name", "checkpoint"),
                                     f"truncated while copying {value.tag!r}")
                self.handle.write(chunk)
                left -= len(chunk)

    def tensor(self, tag: str, array: np.ndarray) -> None:
        """A tensor as ``mindspore.save_checkpoint`` writes it (split along axis 0 above 512 MB)."""
        from mindspore.train.checkpoint_pb2 import Checkpoint

        array = array if array.flags.c_contiguous else array.copy(order="C")
        dims = list(array.shape)
        pieces = np.array_split(array, math.ceil(array.nbytes / SLICE_BYTES)) \
            if array.nbytes > SLICE_BYTES and array.ndim else [array]
        kind = type_name(array.dtype)
        for piece in pieces:
            message = Checkpoint()
            value = message.value.add()
            value.tag = tag
            value.tensor.dims.extend(dims)
            value.tensor.tensor_type = kind
            value.tensor.tensor_content = piece.tobytes()
            self.handle.write(message.SerializeToString())


def _encode_varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte = number & 0x7F
        number >>= 7
        if number:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def iter_tensors(path: str | Path) -> Iterator[tuple[str, np.ndarray]]:
    """Every (tag, tensor) of a file in order, one tensor in memory at a time."""
    path = Path(path)
    values = index(path)
    with path.open("rb") as handle:
        for tag, parts in values.items():
            yield tag, read(handle, parts, path)
