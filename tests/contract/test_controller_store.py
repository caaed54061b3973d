"""The controller's store contract on SQLite and a real PostgreSQL: events once, one lease holder,
applied configs numbered in order."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from shipline.audit import verify_chain
from shipline.config import parse_config
from shipline.controller.lease import acquire, release
from shipline.controller.trigger_event import pending_events, record_event, set_status
from shipline.registry.applied_config import apply_config, latest_applied, list_applied
from shipline.store import open_database, parse_stamp
from shipline.store.tables import leases

CONFIG = b"""\
name: churn
data: {source: data/churn.csv, target: churned}
training: {task: classification}
"""


def test_a_trigger_event_is_recorded_once(db_url: str) -> None:
    db = open_database(db_url)
    first = record_event(db, "c", "churn", "alarm", "alarm:7", {"alarm": 7})
    assert first is not None and first.status == "pending"
    assert record_event(db, "c", "churn", "alarm", "alarm:7", {"alarm": 7}) is None
    assert record_event(db, "c", "other", "alarm", "alarm:7", {"alarm": 7}) is not None
    set_status(db, "c", [first.id], "started", 3)
    assert pending_events(db, "churn") == []
    started = pending_events(db, "churn", ("started",))
    assert [(e.id, e.run_id) for e in started] == [(first.id, 3)]
    assert verify_chain(db).ok
    db.close()


def test_one_live_lease_holder_and_expiry(db_url: str) -> None:
    db = open_database(db_url)
    short = timedelta(seconds=1)
    assert acquire(db, "model:churn", "a", short) is None
    assert acquire(db, "model:churn", "b", short) == "a"
    assert acquire(db, "model:churn", "a", short) is None  # renewal
    with db.read() as conn:
        expires = conn.execute(
            select(leases.c.expires_at).where(leases.c.name == "model:churn")
        ).scalar_one()
    deadline = time.monotonic() + 120
    while datetime.now(UTC) <= parse_stamp(expires):  # until the lease's own expiry passes
        assert time.monotonic() < deadline, "the lease never expired"
        time.sleep(0.05)  # poll interval
    assert acquire(db, "model:churn", "b", short) is None  # expired: taken over
    release(db, "model:churn", "a")  # not the holder any more: nothing happens
    assert acquire(db, "model:churn", "a", short) == "b"
    release(db, "model:churn", "b")
    assert acquire(db, "model:churn", "a", short) is None
    db.close()


def test_applied_configs_are_numbered_per_model(db_url: str, tmp_path: Path) -> None:
    db = open_database(db_url)
    config = parse_config(CONFIG)
    first, changes = apply_config(db, config, CONFIG.decode(), tmp_path, "alice")
    assert first.version == 1 and changes
    same, nothing = apply_config(db, config, CONFIG.decode(), tmp_path, "alice")
    assert same.version == 1 and nothing == []
    changed = parse_config(CONFIG + b"retraining: {triggers: [{new_data: true}]}\n")
    second, changes = apply_config(db, changed, "", tmp_path, "bob")
    assert second.version == 2 and any(c.section == "triggers" for c in changes)
    assert latest_applied(db, "churn") == second
    assert [a.version for a in list_applied(db)] == [2]
    db.close()
