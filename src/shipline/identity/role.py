"""Roles and the permissions each grants: the one table the team server enforces and the
README documents (a test keeps the two equal)."""

from __future__ import annotations

__all__ = ["ANY_MODEL", "ROLE_PERMISSIONS", "Permission", "Role", "parse_role", "permits"]

from shipline.types import Status

ANY_MODEL = "*"


class Role(Status):
    """A persona: people get the first five, machines the service ones."""

    VIEWER = "viewer"
    DATA_SCIENTIST = "data-scientist"
    ML_ENGINEER = "ml-engineer"
    APPROVER = "approver"
    ADMIN = "admin"
    PREDICTOR = "predictor"  # callers of a prediction server started with --auth
    SERVING = "serving"  # a prediction server: loads versions, sends captures, checks callers
    CONTROLLER = "controller"  # `shipline controller`: triggers, leases, runs, monitoring


class Permission(Status):
    """What one API operation needs."""

    READ = "read"  # models, versions, runs, datasets, reports, alarms, approvals, status
    ADD_DATA = "add-data"
    RUN = "run"  # run pipelines and register versions
    APPLY = "apply"  # record a shipline.yaml as the model's desired state
    PROMOTE_STAGING = "promote-staging"  # staging and any alias but production
    PROMOTE_PRODUCTION = "promote-production"
    APPROVE = "approve"  # approve or reject a promotion
    ROLL_BACK = "roll-back"
    ADD_LABELS = "add-labels"
    MONITOR = "monitor"  # run monitoring, store reports, open and close alarms
    READ_AUDIT = "read-audit"  # the audit log, its verification, checkpoints
    MANAGE_USERS = "manage-users"  # users, role grants, other people's tokens
    PREDICT = "predict"
    CAPTURE = "capture"  # send captured traffic (prediction servers)
    CHECK_CALLERS = "check-callers"  # ask whether a token may predict (prediction servers)
    CONTROL = "control"  # trigger events, leases and watched values (controllers)


_SCIENCE = frozenset(
    {
        Permission.READ,
        Permission.ADD_DATA,
        Permission.RUN,
        Permission.PROMOTE_STAGING,
        Permission.ADD_LABELS,
        Permission.MONITOR,
    }
)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.DATA_SCIENTIST: _SCIENCE,
    Role.ML_ENGINEER: _SCIENCE
    | {
        Permission.APPLY,
        Permission.PROMOTE_PRODUCTION,
        Permission.ROLL_BACK,
        Permission.READ_AUDIT,
    },
    Role.APPROVER: frozenset({Permission.READ, Permission.APPROVE, Permission.READ_AUDIT}),
    Role.ADMIN: frozenset(Permission),
    Role.PREDICTOR: frozenset({Permission.PREDICT}),
    Role.SERVING: frozenset({Permission.READ, Permission.CHECK_CALLERS, Permission.CAPTURE}),
    Role.CONTROLLER: frozenset(
        {
            Permission.READ,
            Permission.RUN,
            Permission.PROMOTE_STAGING,
            Permission.PROMOTE_PRODUCTION,
            Permission.MONITOR,
            Permission.CONTROL,
        }
    ),
}


def permits(role: Role, permission: Permission) -> bool:
    """Whether ``role`` grants ``permission``."""
    return permission in ROLE_PERMISSIONS[role]


def parse_role(text: str) -> Role:
    """A role by name, or a clear error listing the roles."""
    from shipline.errors import UsageError

    try:
        return Role(text)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise UsageError(f"unknown role {text!r}; expected one of {known}") from None
