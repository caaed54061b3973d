"""Desired state: ``shipline apply`` records a model's validated config, versioned and audited.

The controller reconciles what was applied, not the file on disk, so editing shipline.yaml
changes nothing until it is applied; ``shipline plan`` shows what applying it would change.
"""

from __future__ import annotations

__all__ = [
    "AppliedConfig",
    "Change",
    "applied_policy",
    "applied_rollout",
    "apply_config",
    "latest_applied",
    "list_applied",
    "plan_changes",
]

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, func, select

from shipline.config import ModelConfig, config_digest
from shipline.config.rollout import AliasRollout
from shipline.config.schema import ApprovalPolicy
from shipline.store import Database, utc_now
from shipline.store.tables import applied_configs


@dataclass(frozen=True)
class AppliedConfig:
    """One applied version of a model's config."""

    model: str
    version: int
    digest: str
    source: str
    document: dict[str, Any]
    project_dir: str
    applied_at: str
    applied_by: str


@dataclass(frozen=True)
class Change:
    """One difference between the applied config and the file: add, remove or change."""

    section: str
    path: str
    action: str
    before: Any
    after: Any

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return dict(self.__dict__)


def apply_config(
    db: Database, config: ModelConfig, source: str, project_dir: Path, actor: str
) -> tuple[AppliedConfig, list[Change]]:
    """Record ``config`` as the model's desired state, unless it equals the latest applied."""
    document = config.model_dump(mode="json")
    digest = config_digest(config)
    with db.write(actor) as tx:
        latest = _latest(tx.conn, config.name)
        changes = plan_changes(None if latest is None else latest.document, document)
        if latest is not None and latest.digest == digest:
            return latest, []
        version = 1 if latest is None else latest.version + 1
        tx.conn.execute(
            applied_configs.insert().values(
                model=config.name,
                version=version,
                digest=digest,
                source=source,
                document=orjson.dumps(document).decode(),
                project_dir=str(project_dir.resolve()),
                applied_at=utc_now(),
                applied_by=actor,
            )
        )
        tx.record(
            "config.apply",
            f"model:{config.name}",
            None if latest is None else {"version": latest.version, "digest": latest.digest},
            {"version": version, "digest": digest, "changes": len(changes)},
        )
        applied = _latest(tx.conn, config.name)
    assert applied is not None
    return applied, changes


def applied_policy(conn: Connection, model: str) -> ApprovalPolicy:
    """The approval policy of the model's applied config (the desired state), read on the
    caller's connection so that a promotion decides in the transaction that moves the alias;
    the defaults (production ``manual``) when none was applied. A caller's local
    shipline.yaml never decides."""
    latest = _latest(conn, model)
    if latest is None:
        return ApprovalPolicy()
    deployment = latest.document.get("deployment") or {}
    return ApprovalPolicy.model_validate(deployment.get("approval") or {})


def applied_rollout(conn: Connection, model: str, alias: str) -> AliasRollout | None:
    """The rollout plan the model's applied config has for ``alias`` (None without one), read
    on the caller's connection like the approval policy."""
    latest = _latest(conn, model)
    if latest is None:
        return None
    plans = (latest.document.get("deployment") or {}).get("rollout") or {}
    plan = plans.get(alias)
    return None if plan is None else AliasRollout.model_validate(plan, strict=False)


def latest_applied(db: Database, model: str) -> AppliedConfig | None:
    """The model's latest applied config, or None if it was never applied."""
    with db.read() as conn:
        return _latest(conn, model)


def list_applied(db: Database) -> list[AppliedConfig]:
    """The latest applied config of every model, by name."""
    newest = (
        select(applied_configs.c.model, func.max(applied_configs.c.version).label("version"))
        .group_by(applied_configs.c.model)
        .subquery()
    )
    query = (
        select(applied_configs)
        .join(
            newest,
            (applied_configs.c.model == newest.c.model)
            & (applied_configs.c.version == newest.c.version),
        )
        .order_by(applied_configs.c.model)
    )
    with db.read() as conn:
        return [_from_row(row) for row in conn.execute(query).all()]


def _latest(conn: Any, model: str) -> AppliedConfig | None:
    row = conn.execute(
        select(applied_configs)
        .where(applied_configs.c.model == model)
        .order_by(applied_configs.c.version.desc())
        .limit(1)
    ).first()
    return None if row is None else _from_row(row)


def _from_row(row: Any) -> AppliedConfig:
    return AppliedConfig(
        model=row.model,
        version=row.version,
        digest=row.digest,
        source=row.source,
        document=orjson.loads(row.document),
        project_dir=row.project_dir,
        applied_at=row.applied_at,
        applied_by=row.applied_by,
    )


_SECTIONS = (
    ("retraining.triggers", "triggers"),
    ("evaluation.gates", "gates"),
    ("monitoring.schedule", "schedule"),
    ("deployment.approval", "approval"),
)


def plan_changes(before: dict[str, Any] | None, after: dict[str, Any]) -> list[Change]:
    """What changes from ``before`` to ``after``: list items (triggers, gates) as added or
    removed, every other value by its dotted path; each tagged with the section it belongs to."""
    changes: list[Change] = []
    for path, list_before, list_after in _lists(before or {}, after):
        section = _section(path)
        changes += [
            Change(section, path, "remove", item, None)
            for item in list_before
            if item not in list_after
        ]
        changes += [
            Change(section, path, "add", None, item)
            for item in list_after
            if item not in list_before
        ]
    flat_before, flat_after = _flatten(before or {}), _flatten(after)
    if before is None:
        # A first apply: the key sections item by item, the rest as one line.
        keyed = {p: v for p, v in flat_after.items() if _section(p) != "other" and v is not None}
        changes += [Change(_section(p), p, "add", None, v) for p, v in sorted(keyed.items())]
        rest = len(flat_after) - len(keyed)
        changes.append(Change("other", "(new model)", "add", None, f"{rest} other settings"))
        return changes
    for path in sorted(set(flat_before) | set(flat_after)):
        old, new = flat_before.get(path), flat_after.get(path)
        if old != new:
            action = (
                "add"
                if path not in flat_before
                else "remove"
                if path not in flat_after
                else "change"
            )
            changes.append(Change(_section(path), path, action, old, new))
    return changes


_LISTS = ("retraining.triggers", "evaluation.gates")


def _lists(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, list[Any], list[Any]]]:
    def at(document: dict[str, Any], path: str) -> list[Any]:
        value: Any = document
        for key in path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        return [_compact(item) for item in value or []]

    return [(path, at(before, path), at(after, path)) for path in _LISTS]


def _compact(item: Any) -> Any:
    """A list item without its unset (None) keys, as people wrote it."""
    return {k: v for k, v in item.items() if v is not None} if isinstance(item, dict) else item


def _flatten(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in document.items():
        path = f"{prefix}{key}"
        if path in _LISTS:
            continue
        if isinstance(value, dict) and value:
            flat |= _flatten(value, f"{path}.")
        else:
            flat[path] = value
    return flat


def _section(path: str) -> str:
    return next((name for prefix, name in _SECTIONS if path.startswith(prefix)), "other")
