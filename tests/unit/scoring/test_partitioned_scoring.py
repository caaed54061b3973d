"""Batch scoring of partitioned data: the same rows as single-file scoring, whole output
partitions only, and every bad input named."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pandas as pd
import pytest

from shipline.errors import DataFileError, UsageError
from shipline.project import Project
from shipline.scaffold import create_project
from shipline.scoring.signature import SchemaError


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """The scaffolded classifier, trained once for the module."""
    folder = tmp_path_factory.mktemp("partitioned") / "cancer"
    create_project(folder, "classification")
    with pytest.MonkeyPatch.context() as patch:
        for key in ("SHIPLINE_DB", "SHIPLINE_STORE", "SHIPLINE_DASK"):
            patch.delenv(key, raising=False)
        with Project.open(folder) as project:
            assert project.run().status == "succeeded"
            yield project


def _partitions(project: Project, folder: Path) -> pd.DataFrame:
    """The project's data split over two Parquet files and one CSV file."""
    frame = pd.read_csv(project.settings.project_dir / "data" / "breast_cancer.csv")
    folder.mkdir(parents=True)
    frame.iloc[0::3].to_parquet(folder / "a.parquet", index=False)
    frame.iloc[1::3].to_parquet(folder / "b.parquet", index=False)
    frame.iloc[2::3].to_csv(folder / "c.csv", index=False)
    (folder / "_SUCCESS").write_text("")  # marker files are not data
    return frame


def test_partitions_score_as_the_single_file_path_does(trained: Project, tmp_path: Path) -> None:
    frame = _partitions(trained, tmp_path / "in")
    done = trained.score_partitions(
        "cancer@staging", str(tmp_path / "in"), str(tmp_path / "out"), probabilities=True
    )
    assert (done.rows, done.partitions, done.ran_on) == (len(frame), 3, "local")
    parts = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert parts == [
        "_manifest.json",
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    manifest = orjson.loads((tmp_path / "out" / "_manifest.json").read_bytes())
    assert manifest["rows"] == len(frame) and manifest["version"] == 1
    scored = pd.concat(
        pd.read_parquet(tmp_path / "out" / f"part-0000{i}.parquet") for i in range(3)
    )
    # The single-file path over the same rows, in the same order.
    ordered = pd.concat([frame.iloc[0::3], frame.iloc[1::3], frame.iloc[2::3]])
    ordered.to_csv(tmp_path / "all.csv", index=False)
    trained.score_file("cancer@staging", tmp_path / "all.csv", tmp_path / "all.parquet", True)
    single = pd.read_parquet(tmp_path / "all.parquet")
    assert scored["prediction"].tolist() == single["prediction"].tolist()
    assert scored["proba_1"].tolist() == pytest.approx(single["proba_1"].tolist(), abs=1e-9)
    assert scored["sample_id"].tolist() == ordered["sample_id"].tolist()


def test_predictions_only_keeps_the_id_column_and_the_predictions(
    trained: Project, tmp_path: Path
) -> None:
    frame = _partitions(trained, tmp_path / "in")
    trained.score_partitions(
        "cancer@staging", str(tmp_path / "in"), str(tmp_path / "out"), True, None, True
    )
    thin = pd.concat(pd.read_parquet(tmp_path / "out" / f"part-0000{i}.parquet") for i in range(3))
    assert list(thin.columns) == ["sample_id", "prediction", "proba_0", "proba_1"]
    frame.to_csv(tmp_path / "all.csv", index=False)
    trained.score_file("cancer@staging", tmp_path / "all.csv", tmp_path / "thin.csv",
                       predictions_only=True)  # fmt: skip
    trained.score_file("cancer@staging", tmp_path / "all.csv", tmp_path / "full.csv")
    single, full = pd.read_csv(tmp_path / "thin.csv"), pd.read_csv(tmp_path / "full.csv")
    assert list(single.columns) == ["sample_id", "prediction"]
    assert single["prediction"].tolist() == full["prediction"].tolist()
    assert single["sample_id"].tolist() == frame["sample_id"].tolist()
    assert len(full.columns) == len(frame.columns) + 1


def test_a_glob_picks_its_files_and_a_rerun_replaces_the_output(
    trained: Project, tmp_path: Path
) -> None:
    _partitions(trained, tmp_path / "in")
    out = tmp_path / "out"
    first = trained.score_partitions("cancer:1", str(tmp_path / "in" / "*.parquet"), str(out))
    assert first.partitions == 2
    (out / ".part-00007.parquet.0123abcd").write_bytes(b"left by a killed job")
    second = trained.score_partitions("cancer:1", str(tmp_path / "in" / "b.parquet"), str(out))
    assert second.partitions == 1
    assert sorted(p.name for p in out.iterdir()) == ["_manifest.json", "part-00000.parquet"]


def test_a_bad_partition_leaves_no_output_partition(trained: Project, tmp_path: Path) -> None:
    frame = _partitions(trained, tmp_path / "in")
    bad = frame.iloc[:5].astype({"mean radius": str})
    bad.loc[bad.index[3], "mean radius"] = "large"
    bad.to_parquet(tmp_path / "in" / "d.parquet", index=False)
    with pytest.raises(SchemaError) as caught:
        trained.score_partitions("cancer:1", str(tmp_path / "in"), str(tmp_path / "out"))
    assert "mean radius" in str(caught.value) and "row 3" in str(caught.value)
    left = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert "part-00003.parquet" not in left and "_manifest.json" not in left
    assert not [name for name in left if name.startswith(".")], left


def test_bad_locations_are_refused_before_anything_is_written(
    trained: Project, tmp_path: Path
) -> None:
    with pytest.raises(DataFileError, match=r"no \.csv or \.parquet files"):
        trained.score_partitions("cancer:1", str(tmp_path / "*.parquet"), str(tmp_path / "o"))
    _partitions(trained, tmp_path / "in")
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match=r"notes\.txt"):
        trained.score_partitions("cancer:1", str(tmp_path / "in"), str(occupied))
    assert (occupied / "notes.txt").read_text() == "mine"
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="not a folder"):
        trained.score_partitions("cancer:1", str(tmp_path / "in"), str(tmp_path / "file"))
