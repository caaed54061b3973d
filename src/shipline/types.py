"""Small value types shared by every layer: digests and names."""

from __future__ import annotations

__all__ = [
    "DIGEST_HEX_LENGTH",
    "Reference",
    "Status",
    "check_digest",
    "check_name",
    "parse_reference",
]

import re
from dataclasses import dataclass
from enum import StrEnum

from shipline.errors import UsageError

DIGEST_HEX_LENGTH = 64
NAME_MAX_LENGTH = 100

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_REFERENCE = re.compile(r"(?P<name>[^:@]+)(?::v?(?P<version>\d+)|@(?P<alias>[^:@]+))?")
_DATASET_VERSION_ALIAS = re.compile(r"v?(\d+)")


def check_name(value: str, what: str = "name") -> str:
    """Return ``value`` if it is a safe name (letters, digits, ``.``, ``_``, ``-``), else raise.

    Names end up in paths, URLs and table rows, so anything that could traverse or confuse
    (``..``, ``/``, NUL, control characters, very long strings) is refused up front.
    """
    shown = repr(value) if len(value) <= 60 else repr(value[:57] + "...")
    if not value:
        raise UsageError(f"{what} must not be empty")
    if len(value) > NAME_MAX_LENGTH:
        raise UsageError(
            f"{what} must be at most {NAME_MAX_LENGTH} characters, got {len(value)}: {shown}"
        )
    if ".." in value or not _NAME.fullmatch(value):
        raise UsageError(
            f"{what} must start with a letter or digit and contain only letters, digits, "
            f"'.', '_' and '-' (no '..', '/', spaces or control characters), got {shown}"
        )
    return value


def check_digest(value: str) -> str:
    """Return ``value`` if it is a full lowercase BLAKE3 hex digest, else raise."""
    if not _DIGEST.fullmatch(value):
        raise UsageError(f"expected a 64-character lowercase hex BLAKE3 digest, got {value!r}")
    return value


@dataclass(frozen=True)
class Reference:
    """``NAME`` (the latest), ``NAME:N`` (version N) or ``NAME@ALIAS``."""

    name: str
    version: int | None = None
    alias: str | None = None


def parse_reference(text: str, what: str, dataset: bool = False) -> Reference | None:
    """The one reference syntax of models and datasets, or None when ``text`` is not one.

    ``:`` always names a version number, ``@`` an alias. Datasets have no aliases; for them
    ``NAME@vN`` (how dataset versions are shown) and ``NAME@N`` are version N too.
    """
    match = _REFERENCE.fullmatch(text) if text and len(text) <= 200 else None
    if match is None:
        return None
    name, alias = check_name(match.group("name"), f"{what} name"), match.group("alias")
    number = match.group("version")
    if dataset and alias is not None:
        version_alias = _DATASET_VERSION_ALIAS.fullmatch(alias)
        if version_alias is None:
            return None
        number, alias = version_alias.group(1), None
    return Reference(
        name,
        None if number is None else int(number),
        None if alias is None else check_name(alias, "alias"),
    )


class Status(StrEnum):
    """A stored status: equal to its text, shown as its text (``repr`` included, so lists of
    statuses print as users read them)."""

    def __repr__(self) -> str:
        return repr(self.value)
