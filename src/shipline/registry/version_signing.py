"""Signed model versions in the OpenSSF Model Signing format (the ``model-signing`` package).

At registration, when the team configured a signing key (``SHIPLINE_SIGNING_KEY``: a PEM
elliptic-curve private key), the version's files, the native bundle as ``model.joblib`` and
the verified ONNX form as ``model.onnx``, are laid out in a folder named after the model and
signed: a Sigstore bundle whose in-toto statement lists each file's SHA-256, signed with the
key (no transparency log: the key is the team's own). The signature is stored in the content
store before the version row that points at it, as ``details.signed``.

Verification lays the same files out again from the store (each read checked against its
BLAKE3 digest) and checks the signature with the team's *public* key given to the verifier
(``SHIPLINE_VERIFY_KEY``), never with a key found beside the signature: one flipped byte, a
file missing or another key fails.
"""

from __future__ import annotations

__all__ = [
    "SIGNATURE_FORMAT",
    "SignatureError",
    "SignedVersion",
    "key_id",
    "public_key_file",
    "sign_files",
    "verify_version",
    "version_files",
]

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipline.artifacts import BlobReader, ContentStore
from shipline.errors import ShiplineError, UsageError
from shipline.registry.model_version import ModelVersion

SIGNATURE_FORMAT = "OpenSSF model signing v1 (Sigstore bundle, elliptic-curve key)"
_INSTALL = "install shipline's signing extra: pip install 'shipline[signing]'"


class SignatureError(ShiplineError):
    """A version is unsigned, or its signature does not hold for its files and the key."""


@dataclass(frozen=True)
class SignedVersion:
    """A verified version: by which key, over which files."""

    ref: str
    key_id: str
    files: dict[str, str]


def version_files(bundle_digest: str, onnx_digest: str | None) -> dict[str, str]:
    """The files a version is made of, by the name they are signed under → BLAKE3 digest."""
    files = {"model.joblib": bundle_digest}
    if onnx_digest:
        files["model.onnx"] = onnx_digest
    return files


def key_id(public_pem: bytes) -> str:
    """A short fingerprint of a public key: SHA-256 of its DER form, 16 hex digits."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_public_key(public_pem)
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


def public_key_file(path: Path, folder: Path) -> Path:
    """``path`` itself when it holds a public key; the public half of a private key otherwise,
    written into ``folder``."""
    from cryptography.hazmat.primitives import serialization

    data = _read_key(path)
    if b"PRIVATE KEY" not in data:
        return path
    private = serialization.load_pem_private_key(data, password=None)
    public = folder / "public.pem"
    public.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return public


def sign_files(
    store: ContentStore, model: str, files: dict[str, str], private_key: Path
) -> dict[str, Any]:
    """Sign the version's files with the team's key; the signature is stored first. Returns
    what the version's details record (``details.signed``)."""
    signing = _package().signing
    with tempfile.TemporaryDirectory(prefix="shipline-sign-") as scratch:
        folder = _lay_out(store, model, files, Path(scratch))
        signature = Path(scratch) / "model.sig"
        try:
            signing.Config().use_elliptic_key_signer(private_key=private_key).sign(
                folder, signature
            )
        except (ValueError, TypeError) as error:
            raise UsageError(
                f"SHIPLINE_SIGNING_KEY {private_key}: cannot sign with it ({error}); expected a "
                "PEM elliptic-curve private key without a password"
            ) from None
        public = public_key_file(private_key, Path(scratch))
        stored = store.put_bytes(signature.read_bytes()).digest
        return {
            "digest": stored,
            "key_id": key_id(public.read_bytes()),
            "format": SIGNATURE_FORMAT,
            "files": dict(files),
        }


def verify_version(reader: BlobReader, version: ModelVersion, public_key: Path) -> SignedVersion:
    """Check a version's signature over its files with the team's public key (a private key
    file is accepted too: its public half is used)."""
    signed = version.facts.signed
    if signed is None:
        raise SignatureError(
            f"{version.ref} is not signed (it was registered without SHIPLINE_SIGNING_KEY)"
        )
    onnx = version.facts.serving_forms.onnx
    served_onnx = onnx.digest if onnx is not None and onnx.available else None
    files = version_files(version.bundle_digest, served_onnx)
    if signed.files != files:
        raise SignatureError(f"{version.ref}: its signature covers other files than its own")
    verifying = _package().verifying
    with tempfile.TemporaryDirectory(prefix="shipline-verify-") as scratch:
        key = public_key_file(public_key, Path(scratch))
        folder = _lay_out(reader, version.name, files, Path(scratch))
        signature = Path(scratch) / "model.sig"
        signature.write_bytes(reader.read_bytes(signed.digest))
        try:
            verifying.Config().use_elliptic_key_verifier(public_key=key).verify(folder, signature)
        except ValueError as error:
            reason = str(error).splitlines()[0][:300]
            raise SignatureError(f"{version.ref}: its signature does not hold: {reason}") from None
        return SignedVersion(version.ref, key_id(key.read_bytes()), files)


def _lay_out(reader: BlobReader, model: str, files: dict[str, str], scratch: Path) -> Path:
    """The files in a folder named after the model (the name is part of what is signed)."""
    folder = scratch / model
    folder.mkdir()
    for name, digest in files.items():
        (folder / name).write_bytes(reader.read_bytes(digest))
    return folder


def _read_key(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise UsageError(f"key file {path}: cannot be read ({error.strerror})") from None


def _package() -> Any:
    try:
        import model_signing.signing
        import model_signing.verifying
    except ImportError:
        raise UsageError(
            f"signed model versions need the model-signing package: {_INSTALL}"
        ) from None
    return model_signing
