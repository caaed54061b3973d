"""The model registry: versions, aliases, approvals and model cards."""

from shipline.registry.alias import AliasMove, alias_history, move_alias, previous_holder, rollback
from shipline.registry.approval import Approval, Promotion, approve, list_approvals, promote, reject
from shipline.registry.model_card import render_card
from shipline.registry.model_version import (
    ModelVersion,
    find_by_bundle,
    list_model_versions,
    load_model_version,
    register_version,
    resolve_model_version,
    versions_of,
)

__all__ = [
    "AliasMove",
    "Approval",
    "ModelVersion",
    "Promotion",
    "alias_history",
    "approve",
    "find_by_bundle",
    "list_approvals",
    "list_model_versions",
    "load_model_version",
    "move_alias",
    "previous_holder",
    "promote",
    "register_version",
    "reject",
    "render_card",
    "resolve_model_version",
    "rollback",
    "versions_of",
]
