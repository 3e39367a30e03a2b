""".npy files whose header or pickle claims a huge shape: refused within 100 MB, before any build."""

from __future__ import annotations

import io
import pickle
import tracemalloc

import numpy as np
import pytest
from numpy.lib import format as npy_format

from mathlora.cli import main as cli
from mathlora.evaluate.npy_safe import load_result_texts
from mathlora.evaluate.predict import write_result_npy

LIMIT = 100 * 2**20
HUGE = 500_000_000


def npy_bytes(header_shape, pickled) -> bytes:
    """An object-dtype .npy: a header naming ``header_shape``, then ``pickled`` as its payload."""
    out = io.BytesIO()
    npy_format.write_array_header_1_0(out, {"descr": "|O", "fortran_order": False,
                                            "shape": header_shape})
    return out.getvalue() + pickled


def small_array_pickle(state_shape=(1,), elements=({"text_generation_text": ["x"]},)) -> bytes:
    """An object array's pickle whose state names ``state_shape`` (numpy would allocate it)."""
    array = np.empty(len(elements), dtype=object)
    array[:] = list(elements)
    data = pickle.dumps(array, protocol=3)
    if state_shape != (len(elements),):  # rewrite the state's shape tuple (BININT1 n, TUPLE1)
        old = b"K" + bytes([len(elements)]) + b"\x85"
        assert data.count(old) == 1
        data = data.replace(old, b"J" + state_shape[0].to_bytes(4, "little", signed=True) + b"\x85")
    return data


def peak_while(function) -> tuple[int, BaseException | None]:
    tracemalloc.start()
    try:
        function()
        error = None
    except BaseException as exc:  # noqa: BLE001 - the test reports what was raised
        error = exc
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, error


def test_a_262_byte_file_with_a_header_of_5e8_elements_is_refused_in_little_memory(tmp_path):
    path = tmp_path / "result_npy.npy"
    data = npy_bytes((HUGE,), small_array_pickle())
    data = data[:262] if len(data) >= 262 else data + b"." * (262 - len(data))
    path.write_bytes(data)
    assert path.stat().st_size == 262
    peak, error = peak_while(lambda: load_result_texts(path))
    assert peak < LIMIT, f"peak {peak / 2**20:.0f} MB"
    assert error is not None and "claims 500000000 elements" in str(error)


def test_a_pickled_state_of_5e8_elements_is_refused_before_numpy_builds_it(tmp_path):
    path = tmp_path / "result_npy.npy"
    path.write_bytes(npy_bytes((1,), small_array_pickle(state_shape=(HUGE,))))
    peak, error = peak_while(lambda: load_result_texts(path))
    assert peak < LIMIT, f"peak {peak / 2**20:.0f} MB"
    assert error is not None and "differs from the header" in str(error)


@pytest.mark.parametrize("shape", [(2**62, 2**62), (-1,), (3, 1 << 40)])
def test_absurd_header_shapes_are_refused(tmp_path, shape, capsys):
    path = tmp_path / "r.npy"
    path.write_bytes(npy_bytes(shape, small_array_pickle()))
    test = tmp_path / "t.jsonl"
    test.write_text('{"problem": "p", "solution": "1"}\n')
    assert cli(["rescore", "--predictions", str(path), "--test", str(test)]) == 1
    err = capsys.readouterr().err
    assert "refused unread" in err or "not a .npy file" in err


def test_the_honest_file_still_loads(tmp_path):
    path = tmp_path / "result_npy.npy"
    write_result_npy(path, ["a", "b", "c"])
    assert load_result_texts(path) == ["a", "b", "c"]
