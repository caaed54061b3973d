"""The metadata store: tables, migrations, serialized writes, counters, the audit chain."""

from shipline.store.audit_log import (
    AuditEvent,
    canonical_json,
    event_hash,
    parse_stamp,
    stamp,
    utc_now,
)
from shipline.store.counters import next_value
from shipline.store.database import Database, Transaction, open_database
from shipline.store.upsert import upsert

__all__ = [
    "AuditEvent",
    "Database",
    "Transaction",
    "canonical_json",
    "event_hash",
    "next_value",
    "open_database",
    "parse_stamp",
    "stamp",
    "upsert",
    "utc_now",
]
