"""A version's details load as typed records: documents this release writes, and documents
written before the training splits were recorded on the version (read through the run)."""

from __future__ import annotations

import dataclasses

import pyarrow as pa

from shipline.monitoring.traffic import split_table
from shipline.project import Project
from shipline.registry.version_details import DETAILS_SCHEMA_VERSION, Task, VersionDetails


def test_details_written_now_and_before_load_and_find_the_training_splits(
    project: Project,
) -> None:
    assert project.run().status == "succeeded"
    version = project.version("cancer:1")
    facts = version.facts
    assert facts.schema_version == DETAILS_SCHEMA_VERSION and facts.task == Task.CLASSIFICATION
    assert facts.flavour == "sklearn" and facts.training_data is not None
    assert facts.signature.input_names == [
        c["name"] for c in version.details["signature"]["inputs"]
    ]
    assert facts.serving_forms.onnx is not None and facts.lineage.run == version.run_id
    # The stored document round-trips through the typed record unchanged.
    dumped = VersionDetails.model_validate(version.details).model_dump(
        mode="json", exclude_unset=True
    )
    assert dumped == version.details
    now = split_table(project.db(), project.store(), version, "train")
    # As a version registered by the previous release stored it: no schema_version,
    # training_data or flavour. Monitoring then finds the split through the run's steps.
    old = {
        k: v
        for k, v in version.details.items()
        if k not in {"schema_version", "training_data", "flavour"}
    }
    before = dataclasses.replace(version, details=old)
    assert before.facts.schema_version == 1 and before.facts.training_data is None
    then = split_table(project.db(), project.store(), before, "train")
    assert isinstance(then, pa.Table) and then.equals(now)


def test_the_baseline_stored_at_training_is_what_monitoring_exports(project: Project) -> None:
    import orjson

    from shipline.monitoring.model_monitor_files import baseline_statistics, statistics
    from shipline.monitoring.traffic import split_columns

    assert project.run().status == "succeeded"
    version = project.version("cancer:1")
    assert version.facts.baseline_digest is not None
    stored = orjson.loads(project.store().read_bytes(version.facts.baseline_digest))
    exported = baseline_statistics(project.db(), project.store(), version)
    assert exported == stored["features"]
    # The same numbers the training split gives when read back, as older versions compute them.
    assert exported == statistics(split_columns(project.db(), project.store(), version))
    held_out = split_columns(project.db(), project.store(), version, "test")
    rows = len(next(iter(held_out.values())))
    assert stored["predictions"]["dataset"]["item_count"] == rows  # predicted on held-out rows


def test_a_monitoring_report_loads_as_typed_records_now_and_as_written_before(
    project: Project,
) -> None:
    import pandas as pd

    from shipline.monitoring.monitor_record import REPORT_SCHEMA_VERSION, MonitorReport

    assert project.run().status == "succeeded"
    folder = project.settings.project_dir
    data = pd.read_csv(folder / "data" / "breast_cancer.csv")
    data.drop(columns=["benign"]).to_csv(folder / "current.csv", index=False)
    summary, report = project.monitor("cancer:1", folder / "current.csv")
    typed = MonitorReport.model_validate(report)
    assert typed.schema_version == REPORT_SCHEMA_VERSION and typed.rows == len(data)
    assert typed.features.dataset_drift == summary.dataset_drift
    assert [c.column for c in typed.features.columns] == [
        c["column"] for c in report["features"]["columns"]
    ]
    assert typed.model_dump(mode="json", exclude_unset=True) == report
    stored = MonitorReport.model_validate(project.monitor_report(summary.id))
    assert stored.prediction == typed.prediction
    # As the previous release wrote it: no schema_version.
    before = MonitorReport.model_validate(
        {k: v for k, v in report.items() if k != "schema_version"}
    )
    assert (
        before.schema_version == 1 and before.quality is None and before.checks() == typed.checks()
    )
