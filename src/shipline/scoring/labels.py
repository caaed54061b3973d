"""Late ground truth: ``shipline labels add FILE`` joins labels to captures by request id.

A label whose request id was never captured is almost always a mistake (a wrong file, ids of
another system), so the whole file is refused, naming the rows; ``allow_unknown`` keeps them
for requests whose captures are still in a server's buffer.
"""

from __future__ import annotations

__all__ = ["add_labels"]

from pathlib import Path

import orjson
from sqlalchemy import select

from shipline.artifacts import ContentStore
from shipline.data.data_file import data_format
from shipline.errors import DataFileError
from shipline.store import Database, upsert, utc_now
from shipline.store.tables import captures, labels

_ROWS_SHOWN = 5


def add_labels(
    db: Database, store: ContentStore, path: Path, actor: str, allow_unknown: bool = False
) -> int:
    """Store ``request_id``, ``label`` (and optional ``row``) from a CSV/Parquet file.

    A label given again for the same request and row replaces the earlier one.
    """
    import pyarrow as pa
    from pyarrow import csv, parquet

    fmt = data_format(path)
    if fmt is None or not path.is_file():
        raise DataFileError(f"{path}: expected an existing .csv or .parquet file")
    try:
        table = (
            parquet.read_table(path, use_threads=False)
            if fmt == "parquet"
            else csv.read_csv(
                path,
                read_options=csv.ReadOptions(use_threads=False),
                convert_options=csv.ConvertOptions(column_types={"request_id": pa.string()}),
            )
        )
    except pa.ArrowInvalid as error:
        raise DataFileError(f"{path}: cannot be read: {str(error).splitlines()[0]}") from None
    for column in ("request_id", "label"):
        if column not in table.column_names:
            raise DataFileError(
                f"{path}: missing column {column!r} (expected request_id, label[, row])"
            )
    ids = table.column("request_id").to_pylist()
    values = table.column("label").to_pylist()
    rows = table.column("row").to_pylist() if "row" in table.column_names else [0] * len(ids)
    for index, (request_id, value) in enumerate(zip(ids, values, strict=True)):
        if not request_id or value is None:
            raise DataFileError(f"{path}: row {index + 2}: request_id and label must not be empty")
    if not allow_unknown:
        _refuse_unknown(path, [str(r) for r in ids], captured_request_ids(db, store))
    now = utc_now()
    records = [
        {
            "request_id": str(r),
            "row": int(n),
            "value": orjson.dumps(v).decode(),
            "added_at": now,
            "added_by": actor,
        }
        for r, n, v in zip(ids, rows, values, strict=True)
    ]
    with db.write(actor) as tx:
        tx.conn.execute(upsert(db.dialect, labels, ["request_id", "row"]), records)
        tx.record("labels.add", f"labels:{path.name}", None, {"rows": len(records)})
    return len(records)


def captured_request_ids(db: Database, store: ContentStore) -> set[str]:
    """Every request id in the stored captures (only that column of each is read)."""
    import io

    from pyarrow import parquet

    with db.read() as conn:
        digests = conn.execute(select(captures.c.digest)).scalars().all()
    found: set[str] = set()
    for digest in digests:
        table = parquet.read_table(
            io.BytesIO(store.read_bytes(digest)), columns=["request_id"], use_threads=False
        )
        found.update(table.column(0).to_pylist())
    return found


def _refuse_unknown(path: Path, ids: list[str], known: set[str]) -> None:
    unknown = [index for index, request_id in enumerate(ids) if request_id not in known]
    if not unknown:
        return
    shown = ", ".join(f"{i + 2} ({ids[i]!r})" for i in unknown[:_ROWS_SHOWN])
    more = f" and {len(unknown) - _ROWS_SHOWN} more" if len(unknown) > _ROWS_SHOWN else ""
    raise DataFileError(
        f"{path}: {len(unknown)} of {len(ids)} rows name a request id that was never captured: "
        f"rows {shown}{more}; expected ids the service returned (X-Request-Id); nothing was "
        "added (--allow-unknown keeps them, e.g. for captures not flushed yet)"
    )
