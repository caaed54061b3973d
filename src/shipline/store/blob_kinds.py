"""What each stored blob is: ``model`` (a pickled bundle), ``dataset``, ``frame``, ``json``.

Digests alone do not say what bytes are. A dataset file that happens to be a pickle must never
reach the model loader because someone handed over its digest, so the kind of every blob is
recorded when it is stored (in the same transaction as the row that points at it) and the
loader accepts only digests recorded as ``model``.
"""

from __future__ import annotations

__all__ = ["has_kind", "record_kinds"]

from sqlalchemy import Connection, select

from shipline.store.tables import blob_kinds


def record_kinds(conn: Connection, kinds: dict[str, str]) -> None:
    """Record ``{digest: kind}``; pairs already recorded are left as they are."""
    if not kinds:
        return
    pairs = set(kinds.items())
    known = conn.execute(
        select(blob_kinds.c.digest, blob_kinds.c.kind).where(blob_kinds.c.digest.in_(kinds))
    ).all()
    new = pairs - {(row.digest, row.kind) for row in known}
    if new:
        conn.execute(blob_kinds.insert(), [{"digest": d, "kind": k} for d, k in sorted(new)])


def has_kind(conn: Connection, digest: str, kind: str) -> bool:
    """True when the blob ``digest`` was stored as ``kind``."""
    row = conn.execute(
        select(blob_kinds.c.digest).where(blob_kinds.c.digest == digest, blob_kinds.c.kind == kind)
    ).first()
    return row is not None
