"""The digest an image reference names now: from an OCI image layout on disk (``oci:PATH[:TAG]``,
what ``buildah push IMAGE oci:PATH:TAG`` or ``skopeo copy`` write) or from a registry
(``HOST[:PORT]/REPOSITORY[:TAG]``) through the OCI distribution API: a ``HEAD`` of the
manifest, with an anonymous bearer token when the registry asks for one. Registries on
loopback are spoken to over plain HTTP (as Docker does), every other over HTTPS.
"""

from __future__ import annotations

__all__ = ["image_digest"]

import re
from pathlib import Path
from typing import Any

import orjson

from shipline.config.trigger_kind import WatchedFileError

_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_REFERENCE = re.compile(
    r"^(?P<host>[A-Za-z0-9.-]+(:[0-9]+)?)/(?P<repo>[a-z0-9._/-]+?)"
    r"(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]{0,127}))?(@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
_LOOPBACK = ("localhost", "127.0.0.1", "[::1]")
_TIMEOUT_S = 15


def image_digest(reference: str, project_dir: Path) -> str:
    """``sha256:…`` of the manifest ``reference`` names now; WatchedFileError saying why not."""
    if reference.startswith("oci:"):
        return _layout_digest(reference, project_dir)
    found = _REFERENCE.match(reference)
    if found is None:
        raise WatchedFileError(
            f"retraining.triggers image {reference!r}: expected oci:PATH[:TAG] or "
            "HOST[:PORT]/REPOSITORY[:TAG] (e.g. registry.example.com/ml/trainer:stable)"
        )
    if found["digest"]:
        return str(found["digest"])  # pinned: it never changes
    return _registry_digest(reference, found["host"], found["repo"], found["tag"] or "latest")


def _layout_digest(reference: str, project_dir: Path) -> str:
    location, _, tag = reference.removeprefix("oci:").partition(":")
    index_path = project_dir / location / "index.json"
    try:
        index: dict[str, Any] = orjson.loads(index_path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        raise WatchedFileError(
            f"retraining.triggers image {reference}: {index_path} is not an OCI layout's "
            f"index ({getattr(error, 'strerror', None) or error})"
        ) from None
    manifests = index.get("manifests") or []
    named = [
        m
        for m in manifests
        if not tag or (m.get("annotations") or {}).get("org.opencontainers.image.ref.name") == tag
    ]
    if len(named) != 1 or not _DIGEST.match(str(named[0].get("digest", ""))):
        wanted = f"tag {tag!r}" if tag else "exactly one image (name a tag)"
        raise WatchedFileError(
            f"retraining.triggers image {reference}: {index_path} has no {wanted}"
        )
    return str(named[0]["digest"])


def _registry_digest(reference: str, host: str, repository: str, tag: str) -> str:
    import httpx

    loopback = host.startswith("[::1]") or host.split(":", maxsplit=1)[0] in _LOOPBACK
    scheme = "http" if loopback else "https"
    url = f"{scheme}://{host}/v2/{repository}/manifests/{tag}"
    headers = {"Accept": _ACCEPT}
    try:
        with httpx.Client(timeout=_TIMEOUT_S, follow_redirects=False) as client:
            answer = client.head(url, headers=headers)
            if answer.status_code == 401:
                headers["Authorization"] = f"Bearer {_anonymous_token(client, answer)}"
                answer = client.head(url, headers=headers)
    except httpx.HTTPError as error:
        raise WatchedFileError(f"retraining.triggers image {reference}: {error}") from None
    digest = str(answer.headers.get("docker-content-digest", ""))
    if answer.status_code != 200 or not _DIGEST.match(digest):
        raise WatchedFileError(
            f"retraining.triggers image {reference}: the registry answered "
            f"{answer.status_code} without a manifest digest"
        )
    return digest


def _anonymous_token(client: Any, challenge: Any) -> str:
    """A pull token from the realm the registry's ``WWW-Authenticate: Bearer`` names."""
    header = challenge.headers.get("www-authenticate", "")
    fields = dict(re.findall(r'(\w+)="([^"]*)"', header))
    if not header.lower().startswith("bearer") or "realm" not in fields:
        raise WatchedFileError(f"the registry asks for credentials ({header or 'no challenge'})")
    params = {k: v for k, v in fields.items() if k in ("service", "scope")}
    answer = client.get(fields["realm"], params=params)
    token = (
        answer.json().get("token") or answer.json().get("access_token")
        if answer.is_success
        else None
    )
    if not token:
        raise WatchedFileError(f"no anonymous pull token from {fields['realm']}")
    return str(token)
