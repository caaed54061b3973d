"""The base of every ``shipline.yaml`` section: unknown keys refused, frozen, strict types."""

from __future__ import annotations

__all__ = ["Section"]

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A part of ``shipline.yaml``."""

    # Validators are built on first use: a run of a config that leaves most optional sections
    # out never builds theirs (building every section's at import cost ~40 ms a command).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)
