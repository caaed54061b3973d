"""Model bytes depend on the model's contents only, and read back with joblib."""

from __future__ import annotations

import io

import joblib
import numpy as np

from shipline.training.bundle import canonical_dump


def test_shared_and_copied_parts_give_the_same_bytes() -> None:
    word = "".join(["fea", "ture"])
    weights = np.arange(6.0).reshape(2, 3)
    shared = {"a": word, "b": word, "weights": weights}
    copied = {
        "a": "feature",
        "b": "".join(["feat", "ure"]),
        "weights": np.arange(6.0).reshape(2, 3),
    }
    assert shared["a"] is shared["b"] and copied["a"] is not copied["b"]
    assert canonical_dump(shared) == canonical_dump(copied)
    loaded = joblib.load(io.BytesIO(canonical_dump(shared)))
    assert loaded["a"] == "feature" and np.array_equal(loaded["weights"], weights)


def test_an_object_that_refers_to_itself_is_written_as_joblib_does() -> None:
    looped: list[object] = [1, 2]
    looped.append(looped)
    loaded = joblib.load(io.BytesIO(canonical_dump(looped)))
    assert loaded[:2] == [1, 2] and loaded[2] is loaded
