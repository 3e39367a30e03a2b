"""Reading an untrusted ``result_npy.npy`` without unpickling arbitrary objects.

The entry's script saves its results with ``np.save`` of an object array, which numpy stores as a
pickle: ``np.load(..., allow_pickle=True)`` on a contestant's file would run whatever the pickle
asks for. This reader parses the ``.npy`` header itself and unpickles the payload with an
unpickler that admits only numpy's array reconstruction (``_reconstruct``, ``ndarray``,
``dtype``); dicts, lists and strings need no classes at all. Any other global is refused by name,
and the loaded value must have exactly the expected structure: an object array whose elements are
``{'text_generation_text': [str, ...]}``.

Nothing is sized by the file's word: every element of an object array takes at least one byte of
its pickle, so a header (or a pickled state) claiming more elements than the file has bytes is
refused before anything is built, and numpy never allocates the array: the pickle's element list
is taken as it is, once its length matches the shape.
"""

from __future__ import annotations

import io
import math
import pickle
from pathlib import Path
from typing import Any

from mathlora.contest import RESULT_KEY
from mathlora.errors import InputError

# (module, name) pairs the array pickle needs; numpy 2 moved numpy.core to numpy._core.
ALLOWED_GLOBALS = frozenset({
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
})


class RefusedObject(pickle.UnpicklingError):
    """A pickle asked for a global outside :data:`ALLOWED_GLOBALS`."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name
        super().__init__(f"{module}.{name}")


class _PendingArray:
    """What the pickle's ``_reconstruct`` builds here: the array's state, kept unbuilt.

    numpy would allocate ``shape`` elements on ``__setstate__`` before it looks at the data; this
    keeps the state for :func:`_elements` to check against the file first.
    """

    state: tuple | None = None

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _reconstruct(subtype, shape, dtype_code) -> _PendingArray:  # numpy's signature
    return _PendingArray()


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED_GLOBALS:
            raise RefusedObject(module, name)
        if name == "_reconstruct":
            return _reconstruct
        if name == "ndarray":
            return _PendingArray
        return super().find_class(module, name)

    def persistent_load(self, pid):
        raise pickle.UnpicklingError(f"persistent id {pid!r} refused")


def _count(shape: Any) -> int | None:
    """The number of elements of a shape, or None when it is no tuple of non-negative ints."""
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape):
        return None
    return math.prod(shape)


def _read_array(path: Path) -> list:
    import numpy as np
    from numpy.lib import format as npy_format

    raw = path.read_bytes()
    handle = io.BytesIO(raw)
    try:
        version = npy_format.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(handle)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = npy_format.read_array_header_2_0(handle)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except ValueError as exc:
        raise InputError(path, f"not a .npy file ({exc})") from None
    if dtype != np.dtype(object):
        raise InputError(path, f"array of dtype {dtype}: expected an object array of "
                               f"{{'{RESULT_KEY}': [text]}} dicts as np.save writes it")
    payload = len(raw) - handle.tell()
    count = _count(tuple(shape))
    if count is None or count > payload:
        raise InputError(path, f"header shape {shape} claims {count} elements, more than the "
                               f"{payload} bytes after the header can hold; refused unread")
    try:
        loaded = _RestrictedUnpickler(handle).load()
    except RefusedObject as refused:
        raise InputError(path, f"refused to unpickle {refused.module}.{refused.name}: only "
                               "numpy arrays of dicts, lists and strings are admitted") from None
    except Exception as exc:  # any damage to the pickle stream
        raise InputError(path, f"damaged pickle payload ({type(exc).__name__}: {exc})") from None
    return _elements(path, loaded, tuple(shape), fortran)


def _elements(path: Path, loaded: Any, shape: tuple, fortran: bool) -> list:
    """The elements of the pickled object array, in the order ``ravel`` gives them."""
    import numpy as np

    state = loaded.state if isinstance(loaded, _PendingArray) else None
    if not (isinstance(state, tuple) and len(state) == 5):
        raise InputError(path, f"payload is {type(loaded).__name__}, expected an object ndarray")
    _, state_shape, dtype, _, data = state
    if not isinstance(dtype, np.dtype) or dtype != np.dtype(object) or not isinstance(data, list):
        raise InputError(path, "payload is not an object ndarray (its state holds no element list)")
    if _count(state_shape) is None or tuple(state_shape) != shape:
        raise InputError(path, f"payload shape {state_shape} differs from the header's {shape}")
    if len(data) != math.prod(shape):
        raise InputError(path, f"payload holds {len(data)} elements for shape {shape}")
    if fortran and len(shape) > 1:  # the list is in C order; the header asks for Fortran's
        order = np.arange(len(data)).reshape(shape).ravel(order="F")
        return [data[i] for i in order]
    return data


def load_result_batches(path: str | Path) -> list[list[str]]:
    """The generation texts of a ``result_npy.npy``, one list per saved dict, in order.

    MindFormers' pipeline returns one dict per batch (``{'text_generation_text': [text, ...]}``),
    and the entry saved that list as it came; one dict per problem is read the same way.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    batches: list[list[str]] = []
    for index, element in enumerate(_read_array(path)):
        where = f"element {index}"
        if not isinstance(element, dict):
            raise InputError(path, f"{where} is {type(element).__name__}, expected a dict",
                             field=str(index))
        if set(element) != {RESULT_KEY}:
            raise InputError(path, f"{where} has keys {sorted(map(str, element))}, expected "
                                   f"exactly ['{RESULT_KEY}']", field=str(index))
        value = element[RESULT_KEY]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(t, str) for t in value):
            raise InputError(path, f"{where}: '{RESULT_KEY}' must be a non-empty list of "
                                   "strings", field=str(index))
        batches.append(value)
    return batches


def load_result_texts(path: str | Path) -> list[str]:
    """The generation texts of a ``result_npy.npy``, in order (each text = prompt + generation)."""
    return [text for batch in load_result_batches(path) for text in batch]
