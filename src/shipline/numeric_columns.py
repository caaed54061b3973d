"""Input columns read as one matrix: what the request path, batching and ONNX share.

A request of numbers only (every input of the signature a number) is read in one pass into a
float64 matrix, rows by columns. Its columns are views of that matrix, so everything that takes
one array per column works as before, while batching joins one matrix per request instead of
one array per column, and the ONNX form takes the matrix as it is. Shared by ``scoring`` (which
builds and joins them) and ``training`` (whose ONNX session reads them), hence this layer.
"""

from __future__ import annotations

__all__ = ["NumericColumns"]

from collections.abc import ItemsView, Iterator, Sequence, ValuesView
from typing import Any, NoReturn

# The names of each signature seen, as a dict to copy (faster than building one per request).
_TEMPLATES: dict[tuple[str, ...], dict[str, None]] = {}


def _names_only(names: Sequence[str]) -> dict[str, None]:
    key = tuple(names)
    found = _TEMPLATES.get(key)
    if found is None:
        if len(_TEMPLATES) >= 256:  # names of many signatures: start again
            _TEMPLATES.clear()
        found = _TEMPLATES[key] = dict.fromkeys(key)
    return found


class NumericColumns(dict[str, Any]):
    """Columns by name, each a view of one column of ``matrix`` (rows by columns, in order).

    Read-only: changing a column would leave the matrix saying something else. The views are
    made when a column is first read: a request's columns are mostly only joined into its
    batch's matrix, and making 20 views cost more than parsing the row (2.8 µs).
    """

    __slots__ = ("_viewed", "matrix")

    def __init__(self, matrix: Any, names: Sequence[str]) -> None:
        if matrix.ndim != 2 or matrix.shape[1] != len(names):
            raise ValueError(f"a {matrix.shape} matrix does not hold {len(names)} columns")
        dict.update(self, _names_only(names))  # the names now, the views on the first read
        self.matrix = matrix
        self._viewed = False

    @classmethod
    def joined(cls, parts: Sequence[NumericColumns]) -> NumericColumns:
        """Several requests' columns as one batch (their rows one after another)."""
        import numpy as np

        return cls(np.concatenate([part.matrix for part in parts]), list(parts[0]))

    @property
    def rows(self) -> int:
        """How many rows the columns hold."""
        return int(self.matrix.shape[0])

    def _views(self) -> None:
        if not self._viewed:
            for name, column in zip(list(dict.keys(self)), self.matrix.T, strict=True):
                dict.__setitem__(self, name, column)
            self._viewed = True

    def __getitem__(self, name: str) -> Any:
        self._views()
        return dict.__getitem__(self, name)

    def get(self, name: str, default: Any = None) -> Any:
        """The column ``name``, else ``default``."""
        self._views()
        return dict.get(self, name, default)

    def values(self) -> ValuesView[Any]:  # type: ignore[override]
        """Every column, in order."""
        self._views()
        return dict.values(self)

    def items(self) -> ItemsView[str, Any]:  # type: ignore[override]
        """Every column with its name, in order."""
        self._views()
        return dict.items(self)

    def __iter__(self) -> Iterator[str]:
        # Defined so that dict(columns) and {**columns} read the columns through __getitem__
        # (CPython copies a dict subclass's storage directly only when __iter__ is dict's own).
        return dict.__iter__(self)

    def copy(self) -> dict[str, Any]:
        """The columns as a plain (changeable) dict."""
        return dict(self.items())

    def __eq__(self, other: object) -> bool:
        self._views()
        if isinstance(other, NumericColumns):
            other._views()
        return dict.__eq__(self, other)

    __hash__ = None  # as a dict: unhashable

    def __repr__(self) -> str:
        self._views()
        return f"NumericColumns({dict.__repr__(self)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (NumericColumns, (self.matrix, list(self)))

    def _read_only(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("NumericColumns are read-only: copy them into a dict to change them")

    __setitem__ = __delitem__ = pop = popitem = clear = update = setdefault = _read_only
    __ior__ = _read_only
