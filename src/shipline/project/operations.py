"""What a project sees once versions serve: monitoring, reports, alarms, labels, batch
scoring and the audit log (a part of ``Project``)."""

from __future__ import annotations

__all__ = ["Operations"]

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from shipline.artifacts import ContentStore
    from shipline.audit.state_check import Checkpoint, Verification
    from shipline.compute import Executor
    from shipline.config import ModelConfig
    from shipline.config.compute import ComputeConfig
    from shipline.monitoring.alarm import Alarm
    from shipline.monitoring.monitor_report import MonitorSummary
    from shipline.registry import ModelVersion
    from shipline.scoring.batch_scoring import ScoredFile
    from shipline.scoring.serving_source import ServingSource
    from shipline.settings import Settings
    from shipline.store import Database
    from shipline.store.audit_log import AuditEvent


class _Opened(Protocol):
    """What these methods use of the project they are part of."""

    @property
    def settings(self) -> Settings:
        """Resolved settings."""
        ...

    def config(self) -> ModelConfig:
        """The validated shipline.yaml."""
        ...

    def db(self, read_only: bool = False) -> Database:
        """The metadata database."""
        ...

    def store(self) -> ContentStore:
        """The content store."""
        ...

    def version(self, ref: str) -> ModelVersion:
        """One registered version."""
        ...

    def executor(
        self, compute: ComputeConfig | None = None, store_url: str | None = None
    ) -> AbstractContextManager[Executor]:
        """The configured compute, open for a block."""
        ...

    def serving_source(self) -> ServingSource:
        """Where models are loaded from."""
        ...

    def model_source(self) -> ServingSource:
        """Where models are loaded from, signatures checked when required."""
        ...


class Operations:
    """Monitoring, reports, alarms, labels, batch scoring and the audit log of a project."""

    def monitor(
        self: _Opened,
        ref: str,
        current_file: Path | None = None,
        window: str | None = None,
        since: str | None = None,
        until: str | None = None,
        histograms: bool = False,
    ) -> tuple[MonitorSummary, dict[str, Any]]:
        """Drift, quality, bias and attribution of served traffic (or a file) against the
        version's training data; stored, with alarms opened or closed."""
        from shipline.config.schema import MonitoringConfig
        from shipline.monitoring.monitor_report import monitor_version
        from shipline.monitoring.traffic import TimeWindow

        version = self.version(ref)
        config = self.config() if self.settings.config_path.exists() else None
        mine = config if config is not None and config.name == version.name else None
        monitoring = mine.monitoring if mine else MonitoringConfig()
        current = current_file or TimeWindow.from_options(window or monitoring.window, since, until)
        # A captured window is measured where the project's compute is (a cluster, maybe).
        compute = mine.compute if mine else None
        where = nullcontext(None) if current_file else self.executor(compute, self.store().url)
        with where as executor:
            return monitor_version(
                self.db(),
                self.store(),
                version,
                monitoring,
                self.settings.actor,
                current,
                mine.notifications if mine else None,
                histograms,
                executor,
            )

    def write_monitor_html(self: _Opened, report_id: int, path: Path) -> None:
        """A stored report as a self-contained HTML page, with the model's earlier reports."""
        from shipline.artifacts.local_file import write_atomically
        from shipline.monitoring.monitor_report import report_page

        write_atomically(path, report_page(self.db(), self.store(), report_id).encode())

    def export_model_monitor_files(
        self: _Opened, ref: str, folder: Path, report_id: int | None = None
    ) -> list[Path]:
        """statistics.json and constraints.json of the version's training data (and
        constraint_violations.json of a report) in SageMaker Model Monitor's shapes."""
        import orjson

        from shipline.artifacts.local_file import write_atomically
        from shipline.monitoring.model_monitor_files import (
            baseline_statistics,
            constraint_violations,
            constraints,
        )
        from shipline.monitoring.monitor_record import MonitorReport

        baseline = baseline_statistics(self.db(), self.store(), self.version(ref))
        implied = constraints(baseline)
        documents = {"statistics.json": baseline, "constraints.json": implied}
        if report_id is not None:
            report = _stored_report(self, report_id)
            documents["constraint_violations.json"] = constraint_violations(
                MonitorReport.model_validate(report), implied
            )
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, document in documents.items():
            path = folder / name
            write_atomically(path, orjson.dumps(document, option=orjson.OPT_INDENT_2))
            written.append(path)
        return written

    def monitor_report(self: _Opened, report_id: int) -> dict[str, Any]:
        """The full stored report (read it typed with ``MonitorReport.model_validate``)."""
        return _stored_report(self, report_id)

    def audit_events(
        self: _Opened, limit: int = 50, target: str | None = None, action: str | None = None
    ) -> list[AuditEvent]:
        """The newest audit events, oldest first (of one target or action when given)."""
        from shipline.audit import list_events

        return list_events(self.db(), limit, target, action)

    def verify_audit(self: _Opened, checkpoint: tuple[bytes, str] | None = None) -> Verification:
        """Walk the audit chain and check the registry tables against it (read-only)."""
        from shipline.audit.state_check import verify_audit

        return verify_audit(self.db(read_only=True), checkpoint)

    def audit_checkpoint(self: _Opened) -> Checkpoint:
        """The chain's head (sequence number and hash), to keep outside the database."""
        from shipline.audit.state_check import chain_checkpoint

        return chain_checkpoint(self.db(read_only=True))

    def monitor_reports(
        self: _Opened, model: str | None = None, limit: int = 50
    ) -> list[MonitorSummary]:
        """The newest monitoring reports (of one model when given)."""
        from shipline.monitoring.monitor_report import list_reports

        return list_reports(self.db(), model, limit)

    def alarms(
        self: _Opened, include_closed: bool = False, model: str | None = None
    ) -> list[Alarm]:
        """Open alarms (closed ones too with ``include_closed``), of one model when given."""
        from shipline.monitoring.alarm import list_alarms

        return list_alarms(self.db(), include_closed, model)

    def add_labels(self: _Opened, path: str | Path, allow_unknown: bool = False) -> int:
        """Record ground truth for served requests from a file; returns the labels added."""
        from shipline.scoring.labels import add_labels

        return add_labels(self.db(), self.store(), Path(path), self.settings.actor, allow_unknown)

    def score_file(
        self: _Opened,
        ref: str,
        source: str | Path,
        target: str | Path,
        probabilities: bool = False,
        progress: Callable[[int], None] | None = None,
        predictions_only: bool = False,
    ) -> ScoredFile:
        """Batch-score a CSV or Parquet file with a version, chunk by chunk, into ``target``
        (with its input columns, or with ``predictions_only`` just the id column)."""
        from shipline.scoring.batch_scoring import ScoredFile, ScoringOutput, score_file

        # Through the serving source: from the store here, or the team server in remote mode.
        model = self.model_source().load(self.version(ref), True)
        output = ScoringOutput(probabilities, inputs=not predictions_only)
        rows = score_file(model, Path(source), Path(target), output, progress)
        return ScoredFile(model.name, model.version, rows, Path(target))


def _stored_report(project: _Opened, report_id: int) -> dict[str, Any]:
    import orjson

    from shipline.monitoring.monitor_report import get_report

    summary = get_report(project.db(), report_id)
    return dict(orjson.loads(project.store().read_bytes(summary.report_digest)))
