"""Reading a dataset version back as one pandas frame, from verified blobs."""

from __future__ import annotations

__all__ = ["read_frame"]

import pandas as pd

from shipline.artifacts import ContentStore
from shipline.data.dataset_version import DatasetVersion


def read_frame(store: ContentStore, version: DatasetVersion) -> pd.DataFrame:
    """Every row of every file of the version (each blob re-hashed before it is read)."""
    import pyarrow as pa
    from pyarrow import csv, parquet

    tables = []
    for file in version.files:
        local = store.fetch(file.digest)
        if file.path.lower().endswith((".parquet", ".pq")):
            tables.append(parquet.read_table(local))
        else:
            tables.append(csv.read_csv(local))
    table = (
        tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")
    )
    return table.to_pandas()
