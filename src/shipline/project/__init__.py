"""The Python API: one object per project, for notebooks and scripts. The CLI uses it too.

from shipline.project import Project
with Project.open("path/to/project") as project:
    run = project.run()
    print(run.status, run.metrics, project.version("churn@staging").ref)
"""

from __future__ import annotations

__all__ = ["Project", "open_project"]

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from shipline.project.compute_operations import ComputeOperations
from shipline.project.deploy_operations import DeployOperations
from shipline.project.operations import Operations
from shipline.project.rollout_operations import RolloutOperations
from shipline.project.team_operations import TeamOperations
from shipline.settings import CONFIG_FILENAME, Settings, load_settings

if TYPE_CHECKING:
    from datetime import datetime

    from shipline.artifacts import ContentStore
    from shipline.config import ModelConfig
    from shipline.config.schema import ServingConfig
    from shipline.controller.controller_loop import Controller
    from shipline.controller.controller_state import ControllerState
    from shipline.data import AddResult, DatasetDiff, DatasetVersion
    from shipline.data.schema_acceptance import SchemaAcceptance
    from shipline.pipeline import RunRecord
    from shipline.pipeline.ci_check import CiResult
    from shipline.pipeline.metric_log import TrackedRun
    from shipline.registry import AliasMove, Approval, ModelVersion, Promotion
    from shipline.registry.applied_config import AppliedConfig, Change
    from shipline.registry.version_signing import SignedVersion
    from shipline.scoring.serving_source import ServingSource
    from shipline.store import Database
    from shipline.training.bundle import ModelBundle


@dataclass
class Project(Operations, TeamOperations, ComputeOperations, DeployOperations, RolloutOperations):
    """A project: its settings, metadata database and content store, opened on first use."""

    config_path: Path | None = None
    _settings: Settings | None = field(default=None, init=False)
    _db: Database | None = field(default=None, init=False)
    _read_only: bool = field(default=False, init=False)

    @classmethod
    def open(cls, path: str | Path | None = None) -> Project:
        """Open the project whose shipline.yaml is at ``path`` (a file or its folder)."""
        if path is None:
            return cls()
        candidate = Path(path)
        return cls(candidate / CONFIG_FILENAME if candidate.is_dir() else candidate)

    @classmethod
    def with_settings(cls, settings: Settings) -> Project:
        """A local project on these settings (a remote-mode client's scratch workspace)."""
        project = cls(settings.config_path)
        project._settings = settings
        return project

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    @property
    def settings(self) -> Settings:
        """Resolved settings (project folder, database and store URLs, actor)."""
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings

    def config(self) -> ModelConfig:
        """The validated shipline.yaml."""
        from shipline.config import load_config

        return load_config(self.settings.config_path)

    def serving_config(self) -> ServingConfig:
        """shipline.yaml's ``serving`` section, or the defaults outside a project."""
        from shipline.config.schema import ServingConfig

        if self.settings.config_path.exists():
            return self.config().serving
        return ServingConfig()

    def db(self, read_only: bool = False) -> Database:
        """The migrated metadata database (``read_only``: opened to read, nothing written)."""
        from shipline.store import open_database

        if read_only and self._db is None:
            self._db = open_database(self.settings.db_url, read_only=True)
            self._read_only = True
        if self._db is not None and self._read_only and not read_only:
            self._db.close()
            self._db = None
        if self._db is None:
            self._db = open_database(self.settings.db_url)
            self._read_only = False
        return self._db

    def store(self) -> ContentStore:
        """The content store."""
        from shipline.artifacts import open_content_store

        return open_content_store(self.settings.store_url, self.settings.state_dir / "cache")

    def close(self) -> None:
        """Release the database connection pool."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def add_data(
        self, path: str | Path, name: str | None = None, progress: Any = None
    ) -> AddResult:
        """Snapshot a data file or folder as a dataset version."""
        from shipline.data import add_version

        return add_version(self.db(), self.store(), Path(path), self.settings.actor, name, progress)

    def accept_schema(self, ref: str, reason: str) -> SchemaAcceptance:
        """Accept the changed schema of dataset version ``ref`` (recorded and audited)."""
        from shipline.data.schema_acceptance import accept_schema

        return accept_schema(self.db(), ref, self.settings.actor, reason)

    def run(
        self,
        force: frozenset[str] = frozenset(),
        resume: int | None = None,
        trigger: str = "manual",
        on_step: Callable[[str, str | None], None] | None = None,
    ) -> RunRecord:
        """Run the training pipeline; returns the finished run (``on_step`` sees each step
        start and end)."""
        from shipline.pipeline import run_training

        config = self.config() if resume is None else None
        store = self.store()
        with self.executor(store_url=store.url) as executor:
            return run_training(
                self.db(),
                store,
                config,
                self.settings.project_dir,
                self.settings.actor,
                trigger,
                force,
                resume,
                on_step=on_step,
                executor=executor,
                signing_key=self.settings.signing_key,
            )

    def start_run(
        self, name: str | None = None, params: dict[str, Any] | None = None
    ) -> TrackedRun:
        """A run for logging metrics from code: ``with project.start_run() as run: ...``."""
        from shipline.pipeline.metric_log import TrackedRun

        model = name or (self.config().name if self.settings.config_path.exists() else "notebook")
        return TrackedRun(self.db(), self.settings.actor, model, params)

    def metric_history(self, run_id: int, key: str) -> list[tuple[int, float]]:
        """Every (step, value) logged for ``key`` in a run."""
        from shipline.pipeline.metric_log import metric_history

        return metric_history(self.db(), run_id, key)

    def runs(
        self, limit: int = 50, model: str | None = None, where: str | None = None
    ) -> list[RunRecord]:
        """The newest runs (of one model; matching ``where``, e.g. ``metrics.roc_auc > 0.9``)."""
        from shipline.pipeline import list_runs
        from shipline.pipeline.run_process import close_orphaned_runs
        from shipline.pipeline.run_search import parse_metric_filter

        condition = None if where is None else parse_metric_filter(where)
        close_orphaned_runs(self.db(), self.settings.actor)
        return list_runs(self.db(), model, limit, condition)

    def get_run(self, run_id: int | str) -> RunRecord:
        """One run with its steps."""
        from shipline.pipeline import get_run
        from shipline.pipeline.run_process import close_orphaned_runs

        close_orphaned_runs(self.db(), self.settings.actor)
        return get_run(self.db(), run_id)

    def versions(self, name: str | None = None) -> list[ModelVersion]:
        """Registered model versions."""
        from shipline.registry import list_model_versions

        return list_model_versions(self.db(), name)

    def version(self, ref: str) -> ModelVersion:
        """One version by ``name``, ``name:N`` or ``name@alias``."""
        from shipline.registry import resolve_model_version

        with self.db().read() as conn:
            return resolve_model_version(conn, ref)

    def model_card(self, ref: str, as_json: bool = False) -> str:
        """The version's model card, Markdown (or JSON)."""
        from shipline.artifacts import read_manifest

        store = self.store()
        files = {
            e.path: e.digest for e in read_manifest(store, self.version(ref).card_digest).entries
        }
        return store.read_bytes(files["card.json" if as_json else "card.md"]).decode()

    def failure_reasons(self, run: RunRecord) -> list[str]:
        """Why a run was rejected or failed: the error, failed gates, broken data rules."""
        from shipline.pipeline.run_summary import failure_reasons
        from shipline.pipeline.step import decode

        store = self.store()
        return failure_reasons(lambda digest: decode("json", store, digest), run)

    def datasets(self, name: str | None = None) -> list[DatasetVersion]:
        """Dataset versions (of one dataset when ``name`` is given)."""
        from shipline.data import list_versions

        return list_versions(self.db(), name)

    def dataset(self, ref: str) -> DatasetVersion:
        """One dataset version by ``name@vN``, ``name`` (the latest) or a digest prefix."""
        from shipline.data import resolve_version

        return resolve_version(self.db(), ref)

    def diff_datasets(self, a: str, b: str) -> DatasetDiff:
        """Schema, row and file changes from dataset version ``a`` to ``b``."""
        from shipline.data import diff_versions

        return diff_versions(self.dataset(a), self.dataset(b))

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        """Every move of a model's aliases (of one alias when given)."""
        from shipline.registry import alias_history

        return alias_history(self.db(), name, alias)

    def approvals(self, status: str | None = None) -> list[Approval]:
        """Promotion approvals (with one status when given)."""
        from shipline.registry import list_approvals

        return list_approvals(self.db(), status)

    def explain_step(self, run_id: int | str, step: str) -> dict[str, Any]:
        """Why a run's step ran or was reused, and which input or setting changed."""
        from shipline.pipeline.cache_explanation import explain_step

        return explain_step(self.db(), run_id, step)

    def load_model(self, ref: str) -> ModelBundle:
        """The model of a version, loaded only after its bytes match the registered digest."""
        from shipline.training.bundle import load_bundle

        return load_bundle(self.store(), self.version(ref).bundle_digest)

    def promote(self, name: str, version: int, alias: str, reason: str | None = None) -> Promotion:
        """Move an alias, or open an approval when the model's applied policy for that alias
        is manual (production is, until a config is applied); the local file never decides."""
        from shipline.registry import promote

        return promote(self.db(), name, version, alias, self.settings.actor, None, reason)

    def approve(self, approval_id: int, reason: str | None = None) -> Approval:
        """Approve a pending promotion (not allowed for the version's authors)."""
        from shipline.registry import approve

        return approve(self.db(), approval_id, self.settings.actor, reason)

    def reject(self, approval_id: int, reason: str) -> Approval:
        """Reject a pending promotion for good."""
        from shipline.registry import reject

        return reject(self.db(), approval_id, self.settings.actor, reason)

    def rollback(self, name: str, alias: str, reason: str | None = None) -> Promotion:
        """Move an alias back to its previous holder, under the same applied policy as a
        promotion (a manual alias opens an approval)."""
        from shipline.registry.approval import roll_back

        return roll_back(self.db(), name, alias, self.settings.actor, reason)

    def plan(self) -> list[Change]:
        """What applying shipline.yaml would change against the model's applied config."""
        from shipline.registry.applied_config import latest_applied, plan_changes

        config = self.config()
        latest = latest_applied(self.db(), config.name)
        return plan_changes(
            None if latest is None else latest.document, config.model_dump(mode="json")
        )

    def apply(self) -> tuple[AppliedConfig, list[Change]]:
        """Record shipline.yaml as the model's desired state (a new version if it changed)."""
        from shipline.registry.applied_config import apply_config

        config = self.config()
        source = self.settings.config_path.read_text(encoding="utf-8")
        return apply_config(
            self.db(), config, source, self.settings.project_dir, self.settings.actor
        )

    def applied_config(self, name: str) -> AppliedConfig | None:
        """The model's latest applied config, if it was ever applied."""
        from shipline.registry.applied_config import latest_applied

        return latest_applied(self.db(), name)

    def controller(
        self, interval: float = 30.0, lease_ttl: float = 60.0, now: datetime | None = None
    ) -> Controller:
        """The reconcile loop over every applied model (``now`` pins its clock, for tests)."""
        from datetime import timedelta

        from shipline.controller.controller_loop import Controller

        return Controller(
            self.controller_state(),
            timedelta(seconds=interval),
            timedelta(seconds=lease_ttl),
            None if now is None else (lambda: now),
        )

    def controller_state(self) -> ControllerState:
        """What a controller of this project reads and changes: the database and store."""
        from shipline.controller.controller_state import LocalState

        return LocalState(
            self.db(),
            self.store(),
            self.settings.actor,
            self.settings.dask,
            self.settings.signing_key,
        )

    def status(self, name: str | None = None) -> list[dict[str, Any]]:
        """One summary per model: the named one, else every applied model and this config's."""
        from datetime import UTC, datetime

        from shipline.controller.model_status import model_status
        from shipline.registry.applied_config import list_applied

        names = [name] if name else sorted({a.model for a in list_applied(self.db())})
        if not name and self.settings.config_path.exists() and self.config().name not in names:
            names.append(self.config().name)
        now = datetime.now(UTC)
        return [model_status(self.db(), model, now) for model in names]

    def ci(self, sample: int | None = None) -> CiResult:
        """Validate, run the pipeline in a throwaway store, judge gates against production."""
        from shipline.pipeline.ci_check import ci_check

        config = self.config()
        return ci_check(self.db(), config, self.settings.project_dir, self.settings.actor, sample)

    def serving_source(self) -> ServingSource:
        """Where a prediction server of this project gets models and sends captures."""
        from shipline.scoring.serving_source import LocalServingSource

        return LocalServingSource(self.db(), self.store())

    def model_source(self) -> ServingSource:
        """The serving source; with ``SHIPLINE_REQUIRE_SIGNED=1`` it loads only versions whose
        signature holds for the team's public key (``SHIPLINE_VERIFY_KEY``)."""
        source = self.serving_source()
        if not self.settings.require_signed:
            return source
        from shipline.scoring.signed_source import SignedOnly

        return SignedOnly(source, self.verify_key())

    def verify_key(self, given: Path | None = None) -> Path:
        """The public key signatures are checked against: ``given``, else SHIPLINE_VERIFY_KEY,
        else the public half of SHIPLINE_SIGNING_KEY."""
        from shipline.errors import UsageError

        key = given or self.settings.verify_key or self.settings.signing_key
        if key is None:
            raise UsageError(
                "checking signatures needs the team's public key: set SHIPLINE_VERIFY_KEY "
                "(a PEM file) or pass --key"
            )
        return key

    def verify_signature(self, ref: str, key: Path | None = None) -> SignedVersion:
        """Check a version's signature over its files with the team's public key."""
        from shipline.registry.version_signing import verify_version

        version = self.version(ref)
        return verify_version(self.serving_source().blobs(version), version, self.verify_key(key))


def open_project(config_path: Path | None = None) -> Project:
    """The project for this invocation: remote (through the team server) when
    ``SHIPLINE_URL`` or a saved login says so, else local."""
    from shipline.project.login import find_login

    login = find_login()
    if login is None:
        return Project(config_path)
    from shipline.project.remote import RemoteProject

    return RemoteProject(config_path, login=login)
