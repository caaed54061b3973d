"""Small value types shared by every layer: digests and names."""

from __future__ import annotations

__all__ = ["DIGEST_HEX_LENGTH", "check_digest", "check_name"]

import re

from shipline.errors import UsageError

DIGEST_HEX_LENGTH = 64
NAME_MAX_LENGTH = 100

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_DIGEST = re.compile(r"[0-9a-f]{64}")


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
