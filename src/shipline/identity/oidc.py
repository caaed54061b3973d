"""Single sign-on: bearer JWTs from the team's OpenID Connect provider.

Signatures are checked against the provider's JWKS with PyJWT, asymmetric algorithms only
(so ``alg: none`` and HS256-signed-with-the-public-key forgeries fail), and the issuer,
audience, expiry and key id must all match. A group claim maps to roles.
"""

from __future__ import annotations

__all__ = ["OidcSettings", "OidcVerifier", "parse_role_map"]

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shipline.errors import UnauthenticatedError, UsageError
from shipline.identity.principal import Grant, Principal

_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")


@dataclass(frozen=True)
class OidcSettings:
    """Where the provider is and how its groups become roles."""

    issuer: str
    audience: str
    jwks_url: str
    role_map: Mapping[str, tuple[Grant, ...]]
    groups_claim: str = "groups"
    name_claim: str = "preferred_username"
    # An unknown key id refetches the JWKS at most this often (a flood of made-up key ids
    # cannot hammer the provider); a rotated key is accepted after at most this long.
    refetch_after_s: float = 30.0
    # Browser sign-in (authorization code flow with PKCE) when a client id is set.
    client_id: str | None = None
    client_secret: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> OidcSettings | None:
        """From ``SHIPLINE_OIDC_*``; ``None`` when single sign-on is not configured."""
        issuer = environ.get("SHIPLINE_OIDC_ISSUER", "").strip()
        if not issuer:
            return None
        missing = [
            k for k in ("SHIPLINE_OIDC_AUDIENCE", "SHIPLINE_OIDC_JWKS_URL") if not environ.get(k)
        ]
        if missing:
            raise UsageError(f"SHIPLINE_OIDC_ISSUER is set but {', '.join(missing)} is not")
        return cls(
            issuer=issuer,
            audience=environ["SHIPLINE_OIDC_AUDIENCE"].strip(),
            jwks_url=environ["SHIPLINE_OIDC_JWKS_URL"].strip(),
            role_map=parse_role_map(environ.get("SHIPLINE_OIDC_ROLES", "")),
            groups_claim=environ.get("SHIPLINE_OIDC_GROUPS_CLAIM", "groups").strip(),
            name_claim=environ.get("SHIPLINE_OIDC_NAME_CLAIM", "preferred_username").strip(),
            refetch_after_s=_seconds(environ.get("SHIPLINE_OIDC_JWKS_REFETCH_S", "30")),
            client_id=environ.get("SHIPLINE_OIDC_CLIENT_ID", "").strip() or None,
            client_secret=environ.get("SHIPLINE_OIDC_CLIENT_SECRET", "").strip() or None,
        )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 86400:
        raise UsageError(f"SHIPLINE_OIDC_JWKS_REFETCH_S must be 0 to 86400 seconds, got {text!r}")
    return value


def parse_role_map(text: str) -> dict[str, tuple[Grant, ...]]:
    """``group=role[:model],group2=role`` into grants per group."""
    mapping: dict[str, tuple[Grant, ...]] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        group, sep, target = item.partition("=")
        if not sep or not group.strip() or not target.strip():
            raise UsageError(f"SHIPLINE_OIDC_ROLES: {item!r} is not group=role or group=role:model")
        role, _, model = target.strip().partition(":")
        grant = Grant.parse(role, model)
        mapping[group.strip()] = (*mapping.get(group.strip(), ()), grant)
    return mapping


class OidcVerifier:
    """Verifies bearer JWTs; keys come from the JWKS URL, fetched again for an unknown key id
    (so a rotated key works without a restart)."""

    def __init__(self, settings: OidcSettings) -> None:
        import jwt

        self.settings = settings
        self._keys = jwt.PyJWKClient(
            settings.jwks_url,
            cache_keys=True,
            lifespan=300,
            timeout=10,
            cooldown_duration=settings.refetch_after_s,
        )

    def principal(
        self, token: str, audience: str | None = None, nonce: str | None = None
    ) -> Principal:
        """The principal a JWT stands for, or ``UnauthenticatedError`` saying why not
        (``audience``: an ID token's client id; ``nonce``: the one the login sent)."""
        import jwt

        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in _ALGORITHMS:
                raise UnauthenticatedError(f"JWT algorithm {header.get('alg')!r} is not accepted")
            key = self._keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=list(_ALGORITHMS),
                audience=audience or self.settings.audience,
                issuer=self.settings.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
                leeway=30,
            )
        except jwt.PyJWKClientError as error:
            raise UnauthenticatedError(f"JWT key not found: {error}") from None
        except jwt.InvalidTokenError as error:
            raise UnauthenticatedError(f"JWT refused: {error}") from None
        if nonce is not None and claims.get("nonce") != nonce:
            raise UnauthenticatedError("JWT refused: its nonce is not the login's")
        return self._principal(claims)

    def _principal(self, claims: dict[str, Any]) -> Principal:
        name = claims.get(self.settings.name_claim) or claims["sub"]
        groups = claims.get(self.settings.groups_claim) or []
        if not isinstance(name, str) or not isinstance(groups, list):
            raise UnauthenticatedError("JWT name or groups claim has the wrong type")
        if not 0 < len(name) <= 100 or not name.isprintable() or any(c.isspace() for c in name):
            raise UnauthenticatedError("JWT name claim must be 1-100 printable characters")
        grants = tuple(
            grant for group in groups for grant in self.settings.role_map.get(str(group), ())
        )
        return Principal(name, f"oidc {str(claims['sub'])[:150]}", grants)
