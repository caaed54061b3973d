"""One contract for the metadata store, run on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from shipline.audit import verify_chain
from shipline.errors import ConfigError, StorageError
from shipline.store import Database, next_value, open_database
from shipline.store.database import HEAD_REVISION
from shipline.store.tables import audit_events, counters


def test_first_use_applies_migrations(db_url: str) -> None:
    db = open_database(db_url)
    with db.read() as conn:
        assert (
            conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD_REVISION
        )
        assert conn.execute(select(func.count()).select_from(audit_events)).scalar() == 0
    db.close()
    again = open_database(db_url)  # reopening is a no-op, not a second migration
    with again.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    again.close()


def test_sqlite_runs_in_wal_mode_with_busy_timeout(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert (conn.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 5000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.close()


def test_write_commits_rows_and_audit_together(db_url: str) -> None:
    db = open_database(db_url)
    with db.write("alice") as tx:
        number = next_value(tx.conn, "things")
        tx.record("thing.create", f"thing:{number}", None, {"n": number})
    with db.read() as conn:
        assert (
            conn.execute(select(counters.c.value).where(counters.c.name == "things")).scalar() == 1
        )
        row = conn.execute(select(audit_events)).one()
    assert (row.actor, row.action, row.target, row.after) == (
        "alice",
        "thing.create",
        "thing:1",
        '{"n":1}',
    )
    db.close()


def test_failed_write_leaves_nothing_behind(db_url: str) -> None:
    db = open_database(db_url)

    def crash_between_rows() -> None:
        with db.write("alice") as tx:
            next_value(tx.conn, "things")
            tx.record("thing.create", "thing:1", None, {})
            raise RuntimeError("crash between the rows")

    with pytest.raises(RuntimeError):
        crash_between_rows()
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(counters)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(audit_events)).scalar() == 0
    with db.write("alice") as tx:  # the number rolled back is handed out again: no gaps
        assert next_value(tx.conn, "things") == 1
    db.close()


def test_audit_rows_cannot_be_updated_or_deleted(db_url: str) -> None:
    db = open_database(db_url)
    with db.write("alice") as tx:
        tx.record("thing.create", "thing:1", None, {})
    for statement in ("UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"), db.write("mallory") as tx:
            tx.conn.execute(text(statement))
    with db.read() as conn:
        assert conn.execute(select(audit_events.c.actor)).scalar() == "alice"
    db.close()


def test_verify_names_the_first_altered_row(db_url: str) -> None:
    db = open_database(db_url)
    for index in range(5):
        with db.write("alice") as tx:
            tx.record("thing.create", f"thing:{index}", None, {"i": index})
    assert verify_chain(db).ok
    assert verify_chain(db).checked == 5
    _tamper(db, "UPDATE audit_events SET after = '{\"i\":99}' WHERE seq = 3")
    report = verify_chain(db)
    assert (report.ok, report.broken_seq, report.checked) == (False, 3, 2)
    assert "altered" in (report.reason or "")
    db.close()


def test_verify_names_a_removed_row(db_url: str) -> None:
    db = open_database(db_url)
    for index in range(4):
        with db.write("alice") as tx:
            tx.record("thing.create", f"thing:{index}", None, {})
    _tamper(db, "DELETE FROM audit_events WHERE seq = 2")
    report = verify_chain(db)
    assert report.broken_seq == 2
    assert "missing" in (report.reason or "")
    db.close()


def _tamper(db: Database, statement: str) -> None:
    """What a database superuser could do: disable the guard and rewrite history."""
    with db.engine.connect() as conn, conn.begin():
        if db.dialect == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER audit_events_no_update")
            conn.exec_driver_sql("DROP TRIGGER audit_events_no_delete")
        else:
            conn.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER USER")
        conn.exec_driver_sql(statement)


def _count_in_process(db_url: str, count: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    db = open_database(db_url)
    numbers = []
    for _ in range(count):
        with db.write("worker") as tx:
            number = next_value(tx.conn, "model_version:churn")
            tx.record("model.version.create", f"churn@v{number}", None, {"v": number})
            numbers.append(number)
    queue.put(numbers)
    db.close()


def test_concurrent_processes_get_distinct_contiguous_numbers(db_url: str) -> None:
    """Several processes migrate the same fresh database at once and then race for numbers."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [
        context.Process(target=_count_in_process, args=(db_url, 25, queue)) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    numbers = sorted(n for result in results for n in result)
    assert numbers == list(range(1, 101))
    db = open_database(db_url)
    report = verify_chain(db)
    assert report.ok and report.checked == 100
    db.close()


def test_malformed_url_is_a_configuration_error() -> None:
    for url in ("not a url", "mysql://x@localhost/db", "sqlite://", "sqlite:///:memory:"):
        with pytest.raises(ConfigError, match="SHIPLINE_DB"):
            open_database(url)


def test_unreachable_postgres_is_a_clear_storage_error() -> None:
    from tests.services import free_port

    url = f"postgresql+psycopg://shipline:secret@127.0.0.1:{free_port()}/nothing"
    with pytest.raises(StorageError) as caught:
        open_database(url)
    message = str(caught.value)
    assert "127.0.0.1" in message and "secret" not in message


def test_unwritable_sqlite_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match="cannot create the folder"):
        open_database(f"sqlite:///{blocker / 'sub' / 'x.db'}")
