"""Who may do what: users, their roles (globally or per model), API tokens and single sign-on.

The team server resolves every request to a ``Principal`` from a verified credential (an API
token or an OIDC JWT) and checks the operation's permission against ``role.ROLE_PERMISSIONS``.
"""

from __future__ import annotations

__all__ = [
    "ANY_MODEL",
    "Permission",
    "Principal",
    "Role",
    "permits",
]

from shipline.identity.principal import Principal
from shipline.identity.role import ANY_MODEL, Permission, Role, permits
