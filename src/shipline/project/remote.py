"""Remote mode: the same ``Project`` API, every read and change of shared state made through
the team server's REST API with the user's token. The client holds no database or store
credentials; verbs that would need them say so instead of touching local files."""

from __future__ import annotations

__all__ = ["RemoteProject"]

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipline.errors import DataFileError, UsageError
from shipline.project import Project
from shipline.project.api_client import ApiClient, given, segment
from shipline.project.login import Login

if TYPE_CHECKING:
    from shipline.artifacts import ContentStore
    from shipline.audit.state_check import Checkpoint, Verification
    from shipline.controller.controller_state import ControllerState
    from shipline.data import AddResult, DatasetVersion
    from shipline.data.schema_acceptance import SchemaAcceptance
    from shipline.identity.api_token import ApiToken, IssuedToken
    from shipline.identity.principal import Grant
    from shipline.identity.user import User
    from shipline.monitoring.alarm import Alarm
    from shipline.monitoring.monitor_report import MonitorSummary
    from shipline.pipeline import RunRecord
    from shipline.registry import AliasMove, Approval, ModelVersion, Promotion
    from shipline.registry.applied_config import AppliedConfig, Change
    from shipline.registry.rollout import Rollout
    from shipline.scoring.serving_source import ServingSource
    from shipline.settings import Settings
    from shipline.store import Database
    from shipline.store.audit_log import AuditEvent


@dataclass
class RemoteProject(Project):
    """A ``Project`` whose shared state lives behind a team server."""

    login: Login | None = None
    _client: ApiClient | None = field(default=None, init=False)

    @property
    def api(self) -> ApiClient:
        """The API client (opened on first use)."""
        if self._client is None:
            assert self.login is not None
            self._client = ApiClient(self.login)
        return self._client

    def db(self, read_only: bool = False) -> Database:
        """Refused: in remote mode the server alone holds the database."""
        raise UsageError(
            f"this command needs the database, which in remote mode only the team server "
            f"({self.api.url}) holds; run it there, or unset SHIPLINE_URL/`shipline logout` "
            "for local mode"
        )

    def store(self) -> ContentStore:
        """Refused: in remote mode the server alone holds the store."""
        self.db()
        raise AssertionError  # db() raised

    def close(self) -> None:
        """Close the API client."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def serving_source(self) -> ServingSource:
        """Models and captures through the team server (a ``serving`` token)."""
        from shipline.project.remote_serving import RemoteServingSource

        return RemoteServingSource(self.api)

    def run(
        self,
        force: frozenset[str] = frozenset(),
        resume: int | None = None,
        trigger: str = "manual",
        on_step: Callable[[str, str | None], None] | None = None,
    ) -> RunRecord:
        """Train here, upload the outputs, and let the team server gate and register them."""
        from shipline.project.run_upload import train_and_upload

        if resume is not None:
            raise UsageError(
                "--resume is local-only; in remote mode run again: steps that succeeded "
                "are reused from this machine's cache"
            )
        with Project.with_settings(self.scratch_settings()) as scratch:
            return train_and_upload(scratch, self.api, scratch.config(), force, trigger, on_step)

    def failure_reasons(self, run: RunRecord) -> list[str]:
        """Why a run was rejected or failed, from its outputs on the server."""
        from shipline.pipeline.run_summary import failure_reasons

        return failure_reasons(
            lambda digest: self.api.call("GET", f"/runs/{run.id}/outputs/{digest}"), run
        )

    def scratch_settings(self, project_dir: Path | None = None) -> Settings:
        """A workspace for what is trained or snapshotted here before upload: its cache and
        outputs, in ``.shipline/remote/<server>/`` of the project (``project_dir``, else this
        one); none of it is shared state."""
        import hashlib
        from dataclasses import replace

        from shipline.settings import CONFIG_FILENAME, STATE_DIRNAME

        assert self.login is not None
        server = hashlib.sha256(self.login.url.encode()).hexdigest()[:12]
        folder = project_dir or self.settings.project_dir
        scratch = folder / STATE_DIRNAME / "remote" / server
        return replace(
            self.settings,
            project_dir=folder,
            config_path=folder / CONFIG_FILENAME,
            db_url=f"sqlite:///{scratch / 'workspace.db'}",
            store_url=str(scratch / "store"),
            actor=str(self.whoami()["name"]),
        )

    def controller_state(self) -> ControllerState:
        """A controller's state through the team server (a ``controller`` token)."""
        from shipline.project.remote_controller import RemoteState

        return RemoteState(self)

    def whoami(self) -> dict[str, Any]:
        """The principal the server sees behind this token."""
        found: dict[str, Any] = self.api.call("GET", "/whoami")
        return found

    def versions(self, name: str | None = None) -> list[ModelVersion]:
        """Registered model versions."""
        from shipline.registry import ModelVersion

        return self.api.typed(list[ModelVersion], "GET", "/versions", params=given(model=name))

    def version(self, ref: str) -> ModelVersion:
        """One version by ``name``, ``name:N`` or ``name@alias``."""
        from shipline.registry import ModelVersion

        return self.api.typed(ModelVersion, "GET", f"/versions/{segment(ref)}")

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        """Every move of a model's aliases."""
        from shipline.registry import AliasMove

        path = f"/models/{segment(name)}/aliases/history"
        return self.api.typed(list[AliasMove], "GET", path, params=given(alias=alias))

    def approvals(self, status: str | None = None) -> list[Approval]:
        """Promotion approvals."""
        from shipline.registry import Approval

        return self.api.typed(list[Approval], "GET", "/approvals", params=given(status=status))

    def promote(self, name: str, version: int, alias: str, reason: str | None = None) -> Promotion:
        """Ask the server to move an alias (it decides the policy from the applied config)."""
        from shipline.registry import Promotion

        path = f"/models/{segment(name)}/versions/{version}/promote"
        body = {"alias": alias, "reason": reason}
        return self.api.typed(Promotion, "POST", path, json=body)

    def approve(self, approval_id: int, reason: str | None = None) -> Approval:
        """Approve a pending promotion as the authenticated principal."""
        from shipline.registry import Approval

        path = f"/approvals/{approval_id}/approve"
        return self.api.typed(Approval, "POST", path, json={"reason": reason})

    def reject(self, approval_id: int, reason: str) -> Approval:
        """Reject a pending promotion."""
        from shipline.registry import Approval

        path = f"/approvals/{approval_id}/reject"
        return self.api.typed(Approval, "POST", path, json={"reason": reason})

    def rollback(self, name: str, alias: str, reason: str | None = None) -> Promotion:
        """Move an alias back, under the server's applied policy."""
        from shipline.registry import Promotion

        path = f"/models/{segment(name)}/aliases/{segment(alias)}/rollback"
        return self.api.typed(Promotion, "POST", path, json={"reason": reason})

    def rollouts(self, model: str) -> list[Rollout]:
        """The model's rollouts, newest first, as the server holds them."""
        from shipline.registry.rollout import Rollout

        return self.api.typed(list[Rollout], "GET", f"/models/{segment(model)}/rollouts")

    def change_rollout(
        self, model: str, alias: str, action: str, reason: str | None = None
    ) -> Rollout:
        """Pause, resume or abort the alias's rollout on the server, as the principal."""
        from shipline.registry.rollout import Rollout

        path = f"/models/{segment(model)}/aliases/{segment(alias)}/rollout/{segment(action)}"
        return self.api.typed(Rollout, "POST", path, json={"reason": reason})

    def plan(self) -> list[Change]:
        """What applying the local shipline.yaml would change on the server."""
        from shipline.registry.applied_config import Change

        name, body = self._config_body()
        return self.api.typed(list[Change], "POST", f"/models/{name}/config/plan", json=body)

    def apply(self) -> tuple[AppliedConfig, list[Change]]:
        """Record the local shipline.yaml as the model's desired state on the server."""
        from shipline.registry.applied_config import AppliedConfig, Change

        name, body = self._config_body()
        answer = self.api.call("POST", f"/models/{name}/config/apply", json=body)
        from pydantic import TypeAdapter

        return (
            TypeAdapter(AppliedConfig).validate_python(answer["applied"]),
            TypeAdapter(list[Change]).validate_python(answer["changes"]),
        )

    def applied_config(self, name: str) -> AppliedConfig | None:
        """The model's latest applied config on the server."""
        from pydantic import TypeAdapter

        from shipline.registry.applied_config import AppliedConfig

        answer = self.api.call("GET", f"/models/{segment(name)}/config")
        return None if answer is None else TypeAdapter(AppliedConfig).validate_python(answer)

    def _config_body(self) -> tuple[str, dict[str, Any]]:
        config = self.config()  # validated here, with this machine's environment
        source = self.settings.config_path.read_text(encoding="utf-8")
        return segment(config.name), {
            "source": source,
            "document": config.model_dump(mode="json"),
            "project_dir": str(self.settings.project_dir.resolve()),
        }

    def runs(
        self, limit: int = 50, model: str | None = None, where: str | None = None
    ) -> list[RunRecord]:
        """The newest runs (matching ``where`` when given)."""
        from shipline.pipeline import RunRecord

        params = given(model=model, limit=limit, where=where)
        return self.api.typed(list[RunRecord], "GET", "/runs", params=params)

    def get_run(self, run_id: int | str) -> RunRecord:
        """One run with its steps."""
        from shipline.pipeline import RunRecord

        return self.api.typed(RunRecord, "GET", f"/runs/{segment(str(run_id))}")

    def datasets(self, name: str | None = None) -> list[DatasetVersion]:
        """Dataset versions."""
        from shipline.data import DatasetVersion

        return self.api.typed(list[DatasetVersion], "GET", "/datasets", params=given(name=name))

    def add_data(
        self, path: str | Path, name: str | None = None, progress: Any = None
    ) -> AddResult:
        """Snapshot a file or folder here, upload what the server lacks, record it there."""
        from dataclasses import asdict

        from shipline.data import AddResult
        from shipline.project.run_upload import upload_missing

        with Project.with_settings(self.scratch_settings()) as scratch:
            local = scratch.add_data(path, name, progress).version
            digests = {f.digest for f in local.files} | {local.digest}
            upload_missing(scratch.store(), self.api, digests)
        return self.api.typed(AddResult, "POST", "/datasets/import", json=asdict(local))

    def dataset(self, ref: str) -> DatasetVersion:
        """One dataset version."""
        from shipline.data import DatasetVersion

        return self.api.typed(DatasetVersion, "GET", f"/datasets/{segment(ref)}")

    def accept_schema(self, ref: str, reason: str) -> SchemaAcceptance:
        """Accept the changed schema of a dataset version, on the server."""
        from shipline.data.schema_acceptance import SchemaAcceptance

        path = f"/datasets/{segment(ref)}/accept-schema"
        return self.api.typed(SchemaAcceptance, "POST", path, json={"reason": reason})

    def monitor(
        self,
        ref: str,
        current_file: Path | None = None,
        window: str | None = None,
        since: str | None = None,
        until: str | None = None,
        histograms: bool = False,
    ) -> tuple[MonitorSummary, dict[str, Any]]:
        """The server monitors the version's traffic with the model's applied settings."""
        from pydantic import TypeAdapter

        from shipline.monitoring.monitor_report import MonitorSummary

        if current_file is not None:
            raise UsageError(
                "--current FILE is compared where the traffic is not: use `shipline drift "
                "REFERENCE CURRENT` here, or monitor served traffic (no --current) remotely"
            )
        body = {
            "ref": ref,
            "window": window,
            "since": since,
            "until": until,
            "histograms": histograms,
        }
        answer = self.api.call("POST", "/monitor", json=body)
        summary = TypeAdapter(MonitorSummary).validate_python(answer["summary"])
        return summary, dict(answer["report"])

    def write_monitor_html(self, report_id: int, path: Path) -> None:
        """The server's HTML page of a report, written here."""
        from shipline.artifacts.local_file import write_atomically

        write_atomically(path, self.api.download(f"/monitor/reports/{report_id}/html"))

    def monitor_reports(self, model: str | None = None, limit: int = 50) -> list[MonitorSummary]:
        """The newest monitoring reports."""
        from shipline.monitoring.monitor_report import MonitorSummary

        params = given(model=model, limit=limit)
        return self.api.typed(list[MonitorSummary], "GET", "/monitor/reports", params=params)

    def monitor_report(self, report_id: int) -> dict[str, Any]:
        """The full stored report."""
        found: dict[str, Any] = self.api.call("GET", f"/monitor/reports/{report_id}")
        return found

    def alarms(self, include_closed: bool = False, model: str | None = None) -> list[Alarm]:
        """Open alarms (closed ones too with ``include_closed``)."""
        from shipline.monitoring.alarm import Alarm

        params = given(model=model, closed=include_closed)
        return self.api.typed(list[Alarm], "GET", "/alarms", params=params)

    def add_labels(self, path: str | Path, allow_unknown: bool = False) -> int:
        """Upload ground truth for served requests."""
        from shipline.data.data_file import data_format

        source = Path(path)
        kind = data_format(source)
        if kind is None or not source.is_file():
            raise DataFileError(f"{source}: expected an existing .csv or .parquet file")
        with source.open("rb") as body:
            params = {"format": kind, "allow_unknown": allow_unknown}
            answer = self.api.call("POST", "/labels", params=params, content=body)
        return int(answer["added"])

    def audit_events(
        self, limit: int = 50, target: str | None = None, action: str | None = None
    ) -> list[AuditEvent]:
        """The newest audit events, oldest first."""
        from shipline.store.audit_log import AuditEvent

        params = given(limit=limit, target=target, action=action)
        return self.api.typed(list[AuditEvent], "GET", "/audit", params=params)

    def verify_audit(self, checkpoint: tuple[bytes, str] | None = None) -> Verification:
        """The server walks its chain and checks its tables against it."""
        from shipline.audit.state_check import Verification

        if checkpoint is not None:
            raise UsageError("--checkpoint is checked where the database is: on the server")
        return self.api.typed(Verification, "GET", "/audit/verify")

    def audit_checkpoint(self) -> Checkpoint:
        """The server's chain head."""
        from shipline.audit.state_check import Checkpoint

        return self.api.typed(Checkpoint, "GET", "/audit/checkpoint")

    def status(self, name: str | None = None) -> list[dict[str, Any]]:
        """One summary per model, as the server sees it."""
        found: list[dict[str, Any]] = self.api.call("GET", "/status", params=given(model=name))
        return found

    def users(self) -> list[User]:
        """Every user and their roles."""
        from shipline.identity.user import User

        return self.api.typed(list[User], "GET", "/users")

    def add_user(self, name: str, grants: tuple[Grant, ...]) -> User:
        """A new user holding ``grants``."""
        from shipline.identity.user import User

        roles = [{"role": str(g.role), "model": g.model} for g in grants]
        return self.api.typed(User, "POST", "/users", json={"name": name, "roles": roles})

    def grant_role(self, name: str, grant: Grant) -> User:
        """Give a user a role."""
        from shipline.identity.user import User

        body = {"role": str(grant.role), "model": grant.model}
        return self.api.typed(User, "POST", f"/users/{segment(name)}/roles", json=body)

    def revoke_role(self, name: str, grant: Grant) -> User:
        """Take a role away."""
        from shipline.identity.user import User

        path = f"/users/{segment(name)}/roles/{segment(str(grant.role))}"
        return self.api.typed(User, "DELETE", path, params={"model": grant.model})

    def issue_token(self, name: str, user: str | None, expires_days: int | None) -> IssuedToken:
        """A new token (for yourself unless ``user`` is given)."""
        from shipline.identity.api_token import IssuedToken

        body = {"name": name, "user": user, "expires_days": expires_days}
        return self.api.typed(IssuedToken, "POST", "/tokens", json=body)

    def tokens(self, user: str | None = None) -> list[ApiToken]:
        """Tokens: yours by default (``user`` for user managers)."""
        from shipline.identity.api_token import ApiToken

        owner = user or str(self.whoami()["name"])
        return self.api.typed(list[ApiToken], "GET", "/tokens", params={"user": owner})

    def revoke_token(self, token_id: int) -> ApiToken:
        """Revoke a token."""
        from shipline.identity.api_token import ApiToken

        return self.api.typed(ApiToken, "DELETE", f"/tokens/{token_id}")
