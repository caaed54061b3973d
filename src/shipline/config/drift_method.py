"""What a drift method is: the plug-in point behind ``monitoring.drift.columns.<c>.method``.

A method turns one column's reference and current values into a statistic and decides, against
a threshold, whether the column drifted. The registry lives here, beside the configuration that
names methods, so an unknown name is reported when ``shipline.yaml`` is loaded; shipline's own
methods live in ``shipline.monitoring.drift_methods``. Add one with
``DRIFT_METHODS.register(...)`` or an entry point in the ``shipline.drift_methods`` group.
"""

from __future__ import annotations

__all__ = ["DRIFT_METHODS", "ColumnKind", "ColumnSample", "DriftMethod", "check_drift_method"]

from typing import TYPE_CHECKING, Any, Literal, Protocol

from shipline.plugin import PluginRegistry

if TYPE_CHECKING:
    import numpy as np

ColumnKind = Literal["numerical", "categorical", "text"]


class ColumnSample(Protocol):
    """One column's values on both sides, missing values dropped (numbers sorted)."""

    @property
    def reference(self) -> np.ndarray:
        """Reference values."""
        ...

    @property
    def current(self) -> np.ndarray:
        """Current values."""
        ...

    @property
    def kind(self) -> ColumnKind:
        """How the reference was typed."""
        ...

    @property
    def strict(self) -> bool:
        """``monitoring.drift.strict``: the reference is a sample too."""
        ...

    @property
    def min_effect(self) -> float:
        """``monitoring.drift.min_effect``: the smallest effect that counts under ``strict``."""
        ...

    def shares(self) -> tuple[np.ndarray, np.ndarray]:
        """Reference and current shares over common bins (numbers) or categories."""
        ...

    def counts(self) -> tuple[list[Any], np.ndarray, np.ndarray]:
        """Categories over both sides and each side's count per category."""
        ...


class DriftMethod(Protocol):
    """A statistic over one column and the rule that turns it into a verdict."""

    @property
    def name(self) -> str:
        """The name ``shipline.yaml`` uses."""
        ...

    @property
    def threshold(self) -> float:
        """The default threshold."""
        ...

    @property
    def needs_numbers(self) -> bool:
        """True when only numerical columns can be compared."""
        ...

    def statistic(self, sample: ColumnSample) -> float:
        """The statistic comparing the two sides."""
        ...

    def drifted(self, statistic: float, threshold: float, sample: ColumnSample) -> bool:
        """The verdict for a statistic at a threshold."""
        ...

    def score(self, statistic: float, threshold: float) -> float | None:
        """The statistic against its threshold on one scale: 1 or more is drift."""
        ...


DRIFT_METHODS: PluginRegistry[DriftMethod] = PluginRegistry(
    "shipline.drift_methods",
    "drift method",
    {
        name: f"shipline.monitoring.drift_methods:{name.upper()}"
        for name in ("wasserstein", "jensenshannon", "psi", "hellinger", "ks", "chisquare", "z")
    },
)


def check_drift_method(name: str) -> str:
    """``name`` if a drift method has it, else a ValueError listing the known ones."""
    if name not in DRIFT_METHODS:
        raise ValueError(f"expected one of {', '.join(DRIFT_METHODS.names())}, got {name!r}")
    return name
