"""Every error shipline raises on purpose, and the exit code each maps to.

Errors name the thing, what was expected and what was found. The CLI maps them to exit codes
in one place (``shipline.cli.app.main``): 2 for usage or configuration errors, 1 for an
operation that failed.
"""

from __future__ import annotations

__all__ = [
    "AuditChainError",
    "ConfigError",
    "ConflictError",
    "DataFileError",
    "DigestMismatchError",
    "ForbiddenError",
    "NotAModelError",
    "NotFoundError",
    "Problem",
    "ShiplineError",
    "StorageError",
    "UnauthenticatedError",
    "UsageError",
]

from dataclasses import dataclass


class ShiplineError(Exception):
    """Base of every error shipline raises on purpose."""

    exit_code = 1


class UsageError(ShiplineError):
    """A command was given an argument it cannot accept (bad name, bad reference)."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One problem found in a configuration: where, what was expected, what was found."""

    path: str
    message: str
    line: int | None = None

    def render(self, file: str) -> str:
        """Format as ``file:line: path: message``."""
        where = f"{file}:{self.line}" if self.line else file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(ShiplineError):
    """A configuration (shipline.yaml or environment) is invalid; lists every problem at once."""

    exit_code = 2

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems
        lines = [p.render(file) for p in problems]
        count = len(problems)
        head = f"{file}: {count} problem{'s' if count != 1 else ''}"
        super().__init__("\n".join([head, *(f"  {line}" for line in lines)]))


class StorageError(ShiplineError):
    """The metadata database or the content store cannot be used as configured."""


class NotFoundError(ShiplineError):
    """A reference (dataset, version, object) names nothing that exists."""


class ConflictError(ShiplineError):
    """A change collides with the current state (already exists, concurrent update)."""


class ForbiddenError(ShiplineError):
    """The actor may not do this (for example, approve their own model)."""


class DataFileError(ShiplineError):
    """A data file cannot be used: empty, header only, not UTF-8, truncated, unknown format."""


class DigestMismatchError(ShiplineError):
    """Stored bytes no longer hash to the digest they are addressed by."""

    def __init__(self, location: str, expected: str, actual: str) -> None:
        self.location = location
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{location}: content does not match its digest (expected blake3:{expected}, "
            f"found blake3:{actual}); refusing to use it"
        )


class NotAModelError(ShiplineError):
    """A digest handed to the model loader is not recorded as a model bundle."""

    def __init__(self, digest: str) -> None:
        self.digest = digest
        super().__init__(
            f"blake3:{digest} is not recorded as a model bundle (shipline's training step "
            "writes those); refusing to load it"
        )


class AuditChainError(ShiplineError):
    """The audit chain is broken at a given row."""


class UnauthenticatedError(ShiplineError):
    """A request carried no credential, or one that is unknown, expired, revoked or forged."""
