"""The metadata database: SQLite by default, PostgreSQL by URL, one behaviour on both.

Write transactions are serialized on both databases (``BEGIN IMMEDIATE`` on SQLite, a
transaction-scoped advisory lock on PostgreSQL). Metadata writes are small and short (blobs
are written before the transaction starts), so one writer at a time costs little and makes
counters, version numbers and the audit chain race-free without retry loops.
"""

from __future__ import annotations

__all__ = ["HEAD_REVISION", "Database", "Transaction", "open_database", "upgrade"]

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from shipline.errors import ConfigError, Problem, StorageError
from shipline.store.audit_log import AuditEvent, append_event
from shipline.store.schema import create_schema, is_empty

HEAD_REVISION = "0010"
_WRITE_LOCK = 0x53484950  # "SHIP": the one advisory lock every PostgreSQL writer takes
_SQLITE_BUSY_MS = 30_000
_URL_HINT = "sqlite:///path/to/shipline.db or postgresql+psycopg://user:password@host:5432/db"


@dataclass(frozen=True)
class Transaction:
    """An open, serialized write transaction that records audit events as it goes."""

    conn: Connection
    actor: str

    def record(self, action: str, target: str, before: Any, after: Any) -> AuditEvent:
        """Append an audit event for a change made in this transaction."""
        return append_event(self.conn, self.actor, action, target, before, after)


class Database:
    """A migrated metadata database with read and serialized write transactions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.shown_url = engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A consistent read-only snapshot."""
        with self._errors(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self, actor: str) -> Iterator[Transaction]:
        """A serialized write transaction: committed whole on success, rolled back on error."""
        with self._errors(), self.engine.connect() as plain:
            conn = plain.execution_options(shipline_write=True)
            with conn.begin():
                if self.dialect == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _WRITE_LOCK})
                yield Transaction(conn, actor)

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as error:
            detail = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
            if "locked" in detail or "busy" in detail:
                raise StorageError(
                    f"metadata database {self.shown_url} stayed busy for "
                    f"{_SQLITE_BUSY_MS // 1000}s ({detail}); try again"
                ) from None
            raise StorageError(f"metadata database {self.shown_url}: {detail}") from None


def open_database(url: str, read_only: bool = False) -> Database:
    """Connect to the metadata database at ``url`` and apply pending migrations.

    ``read_only`` (for verifying a copy, e.g. ``audit verify``) writes nothing: SQLite is
    opened read-only without the switch to WAL, and no migration runs; a database at an older
    schema revision is then an error.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            "SHIPLINE_DB",
            [Problem("", f"expected a database URL such as {_URL_HINT}, found {url!r}")],
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = (
            _sqlite_read_only_engine(parsed.database)
            if read_only
            else _sqlite_engine(parsed.database)
        )
    elif backend == "postgresql":
        try:
            engine = create_engine(parsed, pool_pre_ping=True)
        except ImportError:
            raise ConfigError(
                "SHIPLINE_DB",
                [Problem("", "PostgreSQL needs the driver: pip install 'shipline[postgres]'")],
            ) from None
    else:
        raise ConfigError(
            "SHIPLINE_DB",
            [
                Problem(
                    "",
                    f"expected a sqlite or postgresql URL such as {_URL_HINT}, found {backend!r}",
                )
            ],
        )
    database = Database(engine)
    if read_only:
        with database.read() as conn:
            revision = _current_revision(conn)
        if revision != HEAD_REVISION:
            raise StorageError(
                f"metadata database {database.shown_url} is at schema revision {revision}, "
                f"this shipline reads {HEAD_REVISION}; open it once without read-only to migrate"
            )
    else:
        _migrate(database)
    return database


def _sqlite_read_only_engine(path: str | None) -> Engine:
    """SQLite opened with ``mode=ro``: nothing is created or written, not even the WAL files
    (``immutable`` when the folder itself is read-only, as for an archived copy)."""
    if not path or not Path(path).is_file():
        raise StorageError(f"metadata database {path}: no such file")
    target = Path(path).resolve()
    writable_folder = os.access(target.parent, os.W_OK)
    flags = "mode=ro" if writable_folder else "mode=ro&immutable=1"
    engine = create_engine(
        f"sqlite:///file:{target}?{flags}&uri=true",
        connect_args={"timeout": _SQLITE_BUSY_MS / 1000},
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def _sqlite_engine(path: str | None) -> Engine:
    if not path or path == ":memory:":
        raise ConfigError(
            "SHIPLINE_DB",
            [Problem("", "an SQLite URL must name a file: sqlite:///path/to/shipline.db")],
        )
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StorageError(
            f"cannot create the folder for the SQLite database {path}: {error.strerror}"
        ) from None
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": _SQLITE_BUSY_MS / 1000})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own BEGIN handling is switched off so that writers can BEGIN IMMEDIATE:
        # a deferred transaction that later writes fails at once with SQLITE_BUSY in WAL mode.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_MS}")
        _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        writer = conn.get_execution_options().get("shipline_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine


def _switch_to_wal(cursor: Any) -> None:
    """``PRAGMA journal_mode=WAL``, retried: on a brand-new file, processes that connect at the
    same moment can be refused the exclusive lock the switch needs, at once, without SQLite's
    busy handler."""
    import sqlite3
    import time

    deadline = time.monotonic() + _SQLITE_BUSY_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _current_revision(conn: Connection) -> str | None:
    try:
        with conn.begin_nested():
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None


def _migrate(database: Database) -> None:
    """Bring the schema to HEAD_REVISION; concurrent first uses migrate exactly once.

    An empty database is created whole at the head (``store/schema.py``); one that holds an
    older schema is migrated by alembic."""
    with database.read() as conn:
        if _current_revision(conn) == HEAD_REVISION:
            return
    with database.write("shipline") as transaction:
        conn = transaction.conn
        revision = _current_revision(conn)
        if revision == HEAD_REVISION:
            return
        if revision is None and is_empty(conn):
            create_schema(conn, HEAD_REVISION)
            return
        if revision is not None and not revision.isdigit():
            raise StorageError(
                f"metadata database {database.shown_url} is at schema revision {revision!r}, "
                "which this version of shipline does not know; upgrade shipline"
            )
        if revision is not None and int(revision) > int(HEAD_REVISION):
            raise StorageError(
                f"metadata database {database.shown_url} is at schema revision {revision}, newer "
                f"than this shipline ({HEAD_REVISION}); upgrade shipline"
            )
        upgrade(conn)


def upgrade(conn: Connection) -> None:
    """Apply the alembic migrations from the database's revision to the head, on ``conn``."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["connection"] = conn
    command.upgrade(config, "head")
