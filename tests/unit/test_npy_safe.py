"""The restricted .npy loader: the entry's structure loads, anything else is refused by name."""

import collections
import fractions
import os
import pickle

import numpy as np
import pytest

from mathlora.errors import InputError
from mathlora.evaluate.npy_safe import load_result_texts
from mathlora.evaluate.predict import result_array, write_result_npy


def save(path, array):
    np.save(path, array, allow_pickle=True)
    return path


def test_round_trip_of_the_entry_structure(tmp_path):
    texts = ["Please answer...\n###answer: 1 + 2 = 3", "中文 = 4", ""]
    path = tmp_path / "result_npy.npy"
    write_result_npy(path, texts)
    # numpy itself sees the same structure the entry's script writes
    loaded = np.load(path, allow_pickle=True)
    assert loaded.dtype == object and loaded[0] == {"text_generation_text": [texts[0]]}
    assert load_result_texts(path) == texts


def test_batch_dicts_and_list_of_dicts_saved_directly(tmp_path):
    # np.save(list_of_dicts) as a script would call it, one dict holding a whole batch
    path = save(tmp_path / "r.npy", [{"text_generation_text": ["a", "b"]},
                                     {"text_generation_text": ["c"]}])
    assert load_result_texts(path) == ["a", "b", "c"]


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


@pytest.mark.parametrize("payload, refused", [
    (Evil(), "posix.system"),
    (fractions.Fraction(1, 2), "fractions.Fraction"),
    (collections.OrderedDict(text_generation_text=["x"]), "collections.OrderedDict"),
    (np.float64(1.5), "numpy.core.multiarray.scalar"),
])
def test_foreign_objects_are_refused_by_name(tmp_path, payload, refused):
    array = np.empty(1, dtype=object)
    array[0] = payload
    path = save(tmp_path / "bad.npy", array)
    with pytest.raises(InputError, match=f"refused to unpickle {refused}"):
        load_result_texts(path)


@pytest.mark.parametrize("element, message", [
    ({"text": ["x"]}, "expected exactly \\['text_generation_text'\\]"),
    ({"text_generation_text": [1]}, "non-empty list of strings"),
    ({"text_generation_text": []}, "non-empty list of strings"),
    (["x"], "is list, expected a dict"),
    ("x", "is str, expected a dict"),
])
def test_wrong_structure(tmp_path, element, message):
    array = np.empty(1, dtype=object)
    array[0] = element
    path = save(tmp_path / "bad.npy", array)
    with pytest.raises(InputError, match=message):
        load_result_texts(path)


def test_not_an_object_array_or_not_npy(tmp_path):
    with pytest.raises(InputError, match="dtype float64"):
        load_result_texts(save(tmp_path / "f.npy", np.zeros(3)))
    junk = tmp_path / "j.npy"
    junk.write_bytes(b"not numpy at all")
    with pytest.raises(InputError, match="not a .npy file"):
        load_result_texts(junk)
    damaged = tmp_path / "d.npy"
    write_result_npy(damaged, ["abc"])
    damaged.write_bytes(damaged.read_bytes()[:-5])
    with pytest.raises(InputError, match="damaged pickle payload"):
        load_result_texts(damaged)
    with pytest.raises(InputError, match="file not found"):
        load_result_texts(tmp_path / "missing.npy")


def test_result_array_shape():
    array = result_array(["a", "b"])
    assert array.shape == (2,) and array[1] == {"text_generation_text": ["b"]}
    assert pickle.loads(pickle.dumps(array))[0] == {"text_generation_text": ["a"]}
