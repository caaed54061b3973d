"""Late ground truth: ``shipline labels add FILE`` joins labels to captures by request id."""

from __future__ import annotations

__all__ = ["add_labels"]

from pathlib import Path

import orjson

from shipline.data.data_file import data_format
from shipline.errors import DataFileError
from shipline.store import Database, upsert, utc_now
from shipline.store.tables import labels


def add_labels(db: Database, path: Path, actor: str) -> int:
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
            parquet.read_table(path)
            if fmt == "parquet"
            else csv.read_csv(
                path, convert_options=csv.ConvertOptions(column_types={"request_id": pa.string()})
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
