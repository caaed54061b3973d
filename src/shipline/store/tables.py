"""The metadata tables, as SQLAlchemy Core.

Timestamps are ISO-8601 UTC text (``2026-11-21T13:35:46.123456Z``) and structured values are
canonical JSON text, so both databases store and hash them byte for byte alike.
"""

from __future__ import annotations

__all__ = [
    "alarms",
    "alias_history",
    "aliases",
    "api_tokens",
    "applied_configs",
    "approvals",
    "audit_events",
    "blob_kinds",
    "captures",
    "counters",
    "dataset_files",
    "dataset_versions",
    "datasets",
    "labels",
    "leases",
    "metadata",
    "model_versions",
    "models",
    "monitor_reports",
    "oidc_logins",
    "role_grants",
    "rollout_observations",
    "rollouts",
    "run_metrics",
    "run_steps",
    "runs",
    "schema_acceptances",
    "trigger_events",
    "ui_sessions",
    "users",
    "watch_state",
]

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

counters = Table(
    "counters",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", String(32), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(100), nullable=False),
    Column("target", String(300), nullable=False),
    Column("before", Text, nullable=False),
    Column("after", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("row_hash", String(64), nullable=False, unique=True),
    # How the actor was authenticated (``token 12``, ``oidc <subject>``) and from which
    # address; hashed when present, so rows written before 0008 verify unchanged.
    Column("via", String(200), nullable=True),
    Column("client", String(100), nullable=True),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
    Column("created_by", String(100), nullable=False),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dataset_id", Integer, ForeignKey("datasets.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("format", String(16), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("columns", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("created_by", String(100), nullable=False),
    UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_number"),
    UniqueConstraint("dataset_id", "digest", name="uq_dataset_versions_digest"),
)

dataset_files = Table(
    "dataset_files",
    metadata,
    Column("version_id", Integer, ForeignKey("dataset_versions.id"), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model", String(100), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("trigger", String(100), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("started_at", String(32), nullable=False),
    Column("finished_at", String(32), nullable=True),
    Column("config_digest", String(64), nullable=False),
    Column("config", Text, nullable=False),
    Column("lineage", Text, nullable=False),
    Column("params", Text, nullable=False),
    Column("metrics", Text, nullable=False),
    Column("error", Text, nullable=True),
    Column("resumed_from", Integer, nullable=True),
    Column("model_version", Integer, nullable=True),
    Column("pid", Integer, nullable=True),
    Column("host", String(255), nullable=True),
)

run_steps = Table(
    "run_steps",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),
    Column("step", String(50), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("cache_key", String(64), nullable=False),
    Column("key_parts", Text, nullable=False),
    Column("outputs", Text, nullable=False),
    Column("cached_from", Integer, nullable=True),
    Column("started_at", String(32), nullable=False),
    Column("seconds", Float, nullable=False),
    Column("error", Text, nullable=True),
)

run_metrics = Table(
    "run_metrics",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("step", BigInteger, primary_key=True),
    Column("value", Float, nullable=False),
    Column("at", String(32), nullable=False),
)

models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
    Column("created_by", String(100), nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", Integer, ForeignKey("models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("bundle_digest", String(64), nullable=False),
    Column("card_digest", String(64), nullable=False),
    Column("details", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("created_by", String(100), nullable=False),
    UniqueConstraint("model_id", "version", name="uq_model_versions_number"),
)

aliases = Table(
    "aliases",
    metadata,
    Column("model_id", Integer, ForeignKey("models.id"), primary_key=True),
    Column("alias", String(50), primary_key=True),
    Column("version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("updated_by", String(100), nullable=False),
)

alias_history = Table(
    "alias_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", Integer, ForeignKey("models.id"), nullable=False),
    Column("alias", String(50), nullable=False),
    Column("from_version", Integer, nullable=True),
    Column("to_version", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("at", String(32), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("reason", Text, nullable=True),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", Integer, ForeignKey("models.id"), nullable=False),
    Column("version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("alias", String(50), nullable=False),
    Column("status", String(16), nullable=False),
    Column("requested_by", String(100), nullable=False),
    Column("requested_at", String(32), nullable=False),
    Column("decisions", Text, nullable=False),
    Column("decided_at", String(32), nullable=True),
    Column("reason", Text, nullable=True),
)

# A version taking over an alias step by step (deployment.rollout): at most one running or
# paused per alias; ``plan`` is the applied AliasRollout it follows, ``steps`` every verdict.
rollouts = Table(
    "rollouts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", Integer, ForeignKey("models.id"), nullable=False),
    Column("alias", String(50), nullable=False),
    Column("stable_version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("candidate_version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("phase", String(16), nullable=False),
    Column("step", Integer, nullable=False),
    Column("share", Float, nullable=False),
    Column("plan", Text, nullable=False),
    Column("steps", Text, nullable=False),
    Column("started_by", String(100), nullable=False),
    Column("started_at", String(32), nullable=False),
    Column("step_started_at", String(32), nullable=False),
    Column("ended_at", String(32), nullable=True),
    Index("ix_rollouts_alias", "model_id", "alias", "status"),
)

# What one prediction server saw of one role's traffic (stable, canary, shadow) in a rollout
# since its previous report: requests, failures, and latency counts per LATENCY_BOUNDS_MS.
rollout_observations = Table(
    "rollout_observations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("rollout_id", Integer, ForeignKey("rollouts.id"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("at", String(32), nullable=False),
    Column("requests", Integer, nullable=False),
    Column("errors", Integer, nullable=False),
    Column("latency", Text, nullable=False),
    Index("ix_rollout_observations", "rollout_id", "at"),
)

captures = Table(
    "captures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("day", String(10), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("first_at", String(32), nullable=False),
    Column("last_at", String(32), nullable=False),
    Index("ix_captures_model_version_day", "model", "version", "day"),
)

labels = Table(
    "labels",
    metadata,
    Column("request_id", String(100), primary_key=True),
    Column("row", Integer, primary_key=True),
    Column("value", Text, nullable=False),
    Column("added_at", String(32), nullable=False),
    Column("added_by", String(100), nullable=False),
)

monitor_reports = Table(
    "monitor_reports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("source", Text, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("dataset_drift", Integer, nullable=False),
    Column("drifted_share", Float, nullable=False),
    Column("prediction_drift", Integer, nullable=True),
    Column("report_digest", String(64), nullable=False),
    Index("ix_monitor_reports_model", "model", "version"),
)

alarms = Table(
    "alarms",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("kind", String(30), nullable=False),
    Column("status", String(10), nullable=False),
    Column("opened_at", String(32), nullable=False),
    Column("closed_at", String(32), nullable=True),
    Column("evidence", Text, nullable=False),
    Index("ix_alarms_model_status", "model", "status"),
)

applied_configs = Table(
    "applied_configs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("document", Text, nullable=False),
    Column("project_dir", Text, nullable=False),
    Column("applied_at", String(32), nullable=False),
    Column("applied_by", String(100), nullable=False),
    UniqueConstraint("model", "version", name="uq_applied_configs_model_version"),
)

trigger_events = Table(
    "trigger_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("key", String(200), nullable=False),
    Column("evidence", Text, nullable=False),
    Column("status", String(10), nullable=False),
    Column("run_id", Integer, nullable=True),
    Column("detail", Text, nullable=True),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    UniqueConstraint("model", "key", name="uq_trigger_events_model_key"),
    Index("ix_trigger_events_model_status", "model", "status"),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("acquired_at", String(32), nullable=False),
)

watch_state = Table(
    "watch_state",
    metadata,
    Column("model", String(100), primary_key=True),
    Column("name", String(50), primary_key=True),
    Column("value", Text, nullable=False),
)

schema_acceptances = Table(
    "schema_acceptances",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dataset", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("columns", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("accepted_at", String(32), nullable=False),
    Column("accepted_by", String(100), nullable=False),
    UniqueConstraint("dataset", "digest", name="uq_schema_acceptances_digest"),
)

blob_kinds = Table(
    "blob_kinds",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("kind", String(20), primary_key=True),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
    Column("created_by", String(100), nullable=False),
)

# ``model`` is ``*`` for a grant on every model.
role_grants = Table(
    "role_grants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("role", String(30), nullable=False),
    Column("model", String(100), nullable=False),
    UniqueConstraint("user_id", "role", "model", name="uq_role_grants"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=True),
    Column("last_used_at", String(32), nullable=True),
    Column("revoked_at", String(32), nullable=True),
)

# A dashboard session: the cookie's hash, whose it is and, for a token sign-in, the token it
# stands on (revoking that token ends the session).
ui_sessions = Table(
    "ui_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user", String(100), nullable=False),
    Column("token_id", Integer, ForeignKey("api_tokens.id"), nullable=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("last_seen_at", String(32), nullable=False),
    # A single sign-on session's roles (JSON), from the identity provider's groups at sign-in;
    # null for a token sign-in, whose roles are read from the grants at every request.
    Column("grants", Text, nullable=True),
)

# A single sign-on login between the redirect to the identity provider and its return: the
# state's hash, the PKCE verifier and the nonce the ID token must carry.
oidc_logins = Table(
    "oidc_logins",
    metadata,
    Column("state_hash", String(64), primary_key=True),
    Column("verifier", String(128), nullable=False),
    Column("nonce", String(64), nullable=False),
    Column("next", String(500), nullable=False),
    Column("created_at", String(32), nullable=False),
)
