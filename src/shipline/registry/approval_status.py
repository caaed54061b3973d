"""The states of a promotion approval."""

from __future__ import annotations

__all__ = ["ApprovalStatus"]

from shipline.types import Status


class ApprovalStatus(Status):
    """Pending until enough approvers decide; approved, rejected or superseded (a newer request
    for the alias, or the alias moved another way) for good."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"
