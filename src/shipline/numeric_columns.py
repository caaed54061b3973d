"""Input columns read as one matrix: what the request path, batching and ONNX share.

A request of numbers only (every input of the signature a number) is read in one pass into a
float64 matrix, rows by columns. Its columns are views of that matrix, so everything that takes
one array per column works as before, while batching joins one matrix per request instead of
one array per column, and the ONNX form takes the matrix as it is. Shared by ``scoring`` (which
builds and joins them) and ``training`` (whose ONNX session reads them), hence this layer.
"""

from __future__ import annotations

__all__ = ["NumericColumns"]

from collections.abc import Sequence
from typing import Any, NoReturn


class NumericColumns(dict[str, Any]):
    """Columns by name, each a view of one column of ``matrix`` (rows by columns, in order).

    Read-only: changing a column would leave the matrix saying something else.
    """

    __slots__ = ("matrix",)

    def __init__(self, matrix: Any, names: Sequence[str]) -> None:
        if matrix.ndim != 2 or matrix.shape[1] != len(names):
            raise ValueError(f"a {matrix.shape} matrix does not hold {len(names)} columns")
        super().__init__(zip(names, matrix.T, strict=True))
        self.matrix = matrix

    @classmethod
    def joined(cls, parts: Sequence[NumericColumns]) -> NumericColumns:
        """Several requests' columns as one batch (their rows one after another)."""
        import numpy as np

        return cls(np.concatenate([part.matrix for part in parts]), list(parts[0]))

    def __reduce__(self) -> tuple[Any, ...]:
        return (NumericColumns, (self.matrix, list(self)))

    def _read_only(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("NumericColumns are read-only: copy them into a dict to change them")

    __setitem__ = __delitem__ = pop = popitem = clear = update = setdefault = _read_only
    __ior__ = _read_only
