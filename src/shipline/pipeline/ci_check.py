"""``shipline ci``: what a model repository's CI job runs on every push.

The pipeline runs against a throwaway SQLite database and local store in a temp folder, so a
push never registers a version or moves an alias in the team's registry; the team's store is
only read, for the production version the candidate is compared with. Exit non-zero when a
gate fails (the ``vs: production`` gates judged against that real production version).
"""

from __future__ import annotations

__all__ = ["CiResult", "ci_check"]

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipline.artifacts import open_content_store
from shipline.config import ModelConfig
from shipline.data.data_source import resolve_source
from shipline.errors import DataFileError, NotFoundError
from shipline.evaluation.gates import apply_gates
from shipline.pipeline.step import decode
from shipline.pipeline.training_run import run_training
from shipline.registry import resolve_model_version
from shipline.store import Database, open_database


@dataclass(frozen=True)
class CiResult:
    """The candidate's run, its gates (against real production) and the comparison."""

    status: str
    passed: bool
    error: str | None
    rows: int | None
    gates: list[dict[str, Any]]
    comparison: list[dict[str, Any]]
    production: int | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return dict(self.__dict__)


def ci_check(
    team_db: Database, config: ModelConfig, project_dir: Path, actor: str, sample: int | None
) -> CiResult:
    """Run the pipeline on the configured data (or a sample) in a throwaway store and judge it."""
    with tempfile.TemporaryDirectory(prefix="shipline-ci-") as scratch:
        folder = Path(scratch)
        if sample is not None:
            data = resolve_source(project_dir, config.data.source).local_copy(folder / "data")
            source = _sample(data, sample, config.data.split.seed, folder)
            config = config.model_copy(
                update={"data": config.data.model_copy(update={"source": str(source)})}
            )
        db = open_database(f"sqlite:///{folder / 'ci.db'}")
        try:
            store = open_content_store(str(folder / "store"), folder / "cache")
            run = run_training(db, store, config, project_dir, actor, "ci")
            evaluate = next((s for s in run.steps if s.step == "evaluate" and s.outputs), None)
            evaluation = (
                None if evaluate is None else decode("json", store, evaluate.outputs["evaluation"])
            )
        finally:
            db.close()
    production = _holder(team_db, config.name, "production")
    if evaluation is None:
        return CiResult(run.status, False, run.error, None, [], [], production and production[0])
    champions = {"production": None if production is None else production[1]}
    for alias in {g.vs for g in config.evaluation.gates if g.vs and g.vs != "production"}:
        holder = _holder(team_db, config.name, alias)
        champions[alias] = None if holder is None else holder[1]
    outcome = apply_gates(
        config.evaluation.gates, evaluation["metrics"], champions, evaluation["bias"]
    )
    reference = champions["production"] or {}
    comparison = [
        {"metric": name, "candidate": value, "production": reference.get(name)}
        for name, value in sorted(evaluation["metrics"].items())
    ]
    return CiResult(
        run.status,
        outcome.passed and run.status != "failed",
        run.error,
        int(evaluation.get("rows", 0)) or None,
        outcome.to_dicts(),
        comparison,
        None if production is None else production[0],
    )


def _holder(db: Database, name: str, alias: str) -> tuple[int, dict[str, float]] | None:
    try:
        with db.read() as conn:
            holder = resolve_model_version(conn, f"{name}@{alias}")
    except NotFoundError:
        return None
    return holder.version, holder.metrics


def _sample(source: Path, rows: int, seed: int, folder: Path) -> Path:
    """``rows`` random rows of the source (a file or a folder of files) as one Parquet file."""
    import numpy as np
    import pyarrow as pa
    from pyarrow import csv, parquet

    from shipline.data.data_file import data_format, find_data_files

    try:
        tables = [
            parquet.read_table(p) if data_format(p) == "parquet" else csv.read_csv(p)
            for p in find_data_files(source)
        ]
        table = pa.concat_tables(tables, promote_options="permissive")
    except (OSError, pa.ArrowInvalid) as error:
        raise DataFileError(f"data.source {source}: cannot be read: {error}") from None
    if rows < table.num_rows:
        chosen = np.sort(np.random.default_rng(seed).choice(table.num_rows, rows, replace=False))
        table = table.take(pa.array(chosen))
    target = folder / "sample.parquet"
    parquet.write_table(table, target)
    return target
