"""The base of every ``shipline.yaml`` section: unknown keys refused, frozen, strict types."""

from __future__ import annotations

__all__ = ["Section"]

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A part of ``shipline.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
