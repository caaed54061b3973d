"""What a retraining trigger kind is: the plug-in point behind ``retraining.triggers``.

Each entry of ``retraining.triggers`` has exactly one key, the name of a trigger kind, and its
value (``{cron: "0 3 * * 0"}``, ``{new_data: true}``). A kind declares the type of its value
(validated with the rest of ``shipline.yaml``) and looks for changes through a ``TriggerWatch``
the controller hands it. The registry lives here so that an unknown kind is reported when the
file is loaded; shipline's own kinds live in ``shipline.controller.trigger_kinds``. Add one
with ``TRIGGER_KINDS.register(...)`` or an entry point in the ``shipline.trigger_kinds`` group.
"""

from __future__ import annotations

__all__ = [
    "TRIGGER_KINDS",
    "OpenAlarm",
    "TriggerKind",
    "TriggerWatch",
    "WatchedFileError",
]

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from shipline.errors import ShiplineError
from shipline.plugin import PluginRegistry

if TYPE_CHECKING:
    from shipline.config.schema import ModelConfig


class WatchedFileError(ShiplineError):
    """What a trigger watches cannot be read (a missing file, an unreachable source)."""


class OpenAlarm(Protocol):
    """An open alarm, as a trigger sees it."""

    @property
    def id(self) -> int:
        """The alarm's id."""
        ...

    @property
    def kind(self) -> str:
        """The broken rule: drift, quality, ..."""
        ...

    @property
    def version(self) -> int:
        """The model version it was raised on."""
        ...

    @property
    def opened_at(self) -> str:
        """When it was opened."""
        ...


class TriggerWatch(Protocol):
    """What a trigger kind may look at and record for one model, during one look."""

    @property
    def config(self) -> ModelConfig:
        """The applied configuration."""
        ...

    @property
    def project_dir(self) -> Path:
        """The project folder the configuration was applied from."""
        ...

    @property
    def applied_at(self) -> str:
        """When the configuration was applied (the start of every watch)."""
        ...

    @property
    def now(self) -> datetime:
        """The moment of this look."""
        ...

    def remembered(self, name: str) -> Any:
        """A value this model's watch kept from an earlier look, or None."""
        ...

    def remember(self, name: str, value: Any) -> None:
        """Keep a value for the next look (it survives controller restarts)."""
        ...

    def fire(self, key: str, evidence: dict[str, Any], skipped: str | None = None) -> None:
        """Record a reason to retrain, once per key; ``skipped`` records it held back, why."""
        ...

    def has_versions(self) -> bool:
        """True when the model has a registered version."""
        ...

    def open_alarms(self) -> Sequence[OpenAlarm]:
        """The model's open alarms."""
        ...


class TriggerKind(Protocol):
    """One reason to retrain: the key in ``retraining.triggers`` and how to notice it."""

    @property
    def name(self) -> str:
        """The key in ``retraining.triggers``."""
        ...

    @property
    def value_type(self) -> Any:
        """The type its value is validated as (any pydantic annotation)."""
        ...

    def look(self, value: Any, watch: TriggerWatch) -> None:
        """Fire through ``watch`` when what this trigger watches changed since the last look;
        raise WatchedFileError when it cannot be looked at."""
        ...

    def next_at(self, value: Any, now: datetime) -> datetime | None:
        """When it will fire next, when that is known in advance."""
        ...

    def watched_files(self, value: Any) -> tuple[str, ...]:
        """Project files whose bytes it watches (recorded with each training run)."""
        ...

    def environment(self, value: Any, project_dir: Path) -> dict[str, str]:
        """What else it watches that training depends on, as it is now (an image's digest):
        part of the train step's cache key, so a run it fires retrains."""
        ...


TRIGGER_KINDS: PluginRegistry[TriggerKind] = PluginRegistry(
    "shipline.trigger_kinds",
    "trigger kind",
    {
        name: f"shipline.controller.trigger_kinds:{name.upper()}"
        for name in ("cron", "new_data", "environment", "alarm", "image")
    },
)
