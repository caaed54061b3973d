"""The process that owns a run, and closing runs whose process is gone.

A run is recorded ``running`` with its host and pid. When that process is killed (``kill -9``,
OOM, power loss) nothing closes the row, so the next command that looks at runs on the same
host closes it: failed, "process ended". A pid the kernel has since given to a newer process
is told apart by the process start time. Runs on other hosts are left to their own host (or,
for controller runs, to the lease expiry).
"""

from __future__ import annotations

__all__ = ["close_orphaned_runs", "process_alive", "this_host"]

import functools
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from shipline.store import Database, parse_stamp, utc_now
from shipline.store.tables import runs

# A process that started this long after the run was recorded cannot be the one that runs it.
_START_SLACK_SECONDS = 5.0


@functools.cache
def this_host() -> str:
    """This machine's name, as recorded with the runs it starts."""
    return socket.gethostname()[:255]


def process_alive(pid: int, started_before: datetime | None = None) -> bool:
    """Whether ``pid`` exists and (when known) started no later than ``started_before``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by someone else
    if started_before is None:
        return True
    started = _process_start(pid)
    if started is None:
        return True
    return started.timestamp() <= started_before.timestamp() + _START_SLACK_SECONDS


def _process_start(pid: int) -> datetime | None:
    """When ``pid`` started, from /proc (Linux); None where that cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration, ValueError):
        return None
    if _is_zombie(stat):
        return datetime.fromtimestamp(0, UTC)  # a zombie runs nothing; treat it as gone
    ticks = int(stat.rpartition(")")[2].split()[19])
    return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), UTC)


def _is_zombie(stat: str) -> bool:
    return stat.rpartition(")")[2].split()[0] == "Z"


def close_orphaned_runs(db: Database, actor: str) -> list[int]:
    """Mark failed every ``running`` run of this host whose process is gone; their ids."""
    host = this_host()
    with db.read() as conn:
        candidates = conn.execute(
            select(runs.c.id, runs.c.pid, runs.c.started_at).where(
                runs.c.status == "running", runs.c.host == host, runs.c.pid.is_not(None)
            )
        ).all()
    gone = [
        (row.id, row.pid)
        for row in candidates
        if row.pid != os.getpid() and not process_alive(row.pid, parse_stamp(row.started_at))
    ]
    closed: list[int] = []
    for run_id, pid in gone:
        with db.write(actor) as tx:
            reason = (
                f"process ended: pid {pid} on {host} is gone (killed or crashed) "
                "before the run finished"
            )
            changed = tx.conn.execute(
                runs.update()
                .where(runs.c.id == run_id, runs.c.status == "running")
                .values(status="failed", finished_at=utc_now(), error=reason)
            ).rowcount
            if changed:
                tx.record(
                    "run.finish",
                    f"run:{run_id}",
                    {"status": "running"},
                    {"status": "failed", "model_version": None, "reason": "process ended"},
                )
                closed.append(run_id)
    return closed
