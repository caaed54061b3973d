"""A content-addressed object store on any fsspec filesystem.

Objects live at ``<root>/objects/ab/cdef…`` under their BLAKE3 digest. Local writes go to a
temp file in the same filesystem, are fsynced, renamed into place and the folder is fsynced;
remote writes are create-only (``If-None-Match: *``) so an object is never replaced. Every
read for use re-hashes the bytes and refuses a mismatch.
"""

from __future__ import annotations

__all__ = [
    "CHUNK_BYTES",
    "BlobReader",
    "ContentStore",
    "StoredObject",
    "StreamCheck",
    "file_digest",
    "open_content_store",
    "remote_options",
    "require_digest",
]

import contextlib
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import blake3

from shipline.errors import (
    ConfigError,
    DigestMismatchError,
    NotFoundError,
    Problem,
    ShiplineError,
    StorageError,
)
from shipline.types import check_digest

CHUNK_BYTES = 8 * 1024 * 1024
TEMP_MAX_AGE_S = 24 * 3600


class StreamCheck(Protocol):
    """Sees every chunk of a write; ``finish`` may raise to abort it before it is committed."""

    def update(self, chunk: memoryview) -> None:
        """Look at the next chunk."""

    def finish(self) -> None:
        """Called after the last chunk, before the object becomes visible."""


_STORE_HINT = "a local folder, file:///path, or s3://bucket/prefix"
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*)://(.*)", re.DOTALL)


@dataclass(frozen=True)
class StoredObject:
    """An object now present in the store."""

    digest: str
    size: int


def _hasher() -> Any:
    return blake3.blake3(max_threads=blake3.blake3.AUTO)


def file_digest(path: Path) -> str:
    """The BLAKE3 digest of a file, read a chunk at a time. Not memory-mapped: mapped pages
    count as the process's resident memory, so hashing a 1 GB reference would raise a
    monitoring check's peak by 1 GB; chunked reads hold 8 MiB and cost ~0.1 s per GB more."""
    hasher = _hasher()
    chunk = bytearray(CHUNK_BYTES)
    view = memoryview(chunk)
    with path.open("rb", buffering=0) as source:
        while size := source.readinto(chunk):
            hasher.update(view[:size])
    return str(hasher.hexdigest())


class BlobReader(Protocol):
    """What loading a model needs of a store: verified bytes by digest (the content store
    itself, or a team server's API in remote mode)."""

    def read_bytes(self, digest: str) -> bytes:
        """The bytes of ``digest``, verified against it."""
        ...


def require_digest(data: bytes, digest: str, location: str) -> bytes:
    """``data`` itself when it hashes to ``digest``; else an error naming where it came from."""
    actual = blake3.blake3(data).hexdigest()
    if actual != digest:
        raise DigestMismatchError(location, digest, actual)
    return data


class ContentStore:
    """Objects addressed by BLAKE3 digest under ``root`` on an fsspec filesystem."""

    def __init__(self, url: str, fs: Any, root: str, cache_dir: Path) -> None:
        """``fs`` None: a store on this machine's filesystem, read and written with ``os``."""
        self.url = url
        self._fs = fs
        self.root = root.rstrip("/")
        self.cache_dir = cache_dir
        self.is_local = fs is None or "file" in _protocols(fs)

    @property
    def fs(self) -> Any:
        """The store's fsspec filesystem (for a local store, made on first use: importing
        fsspec scans every installed package's entry points, 16 ms of each command)."""
        if self._fs is None:
            import fsspec

            self._fs = fsspec.filesystem("file")
        return self._fs

    def object_path(self, digest: str) -> str:
        """Where the object with ``digest`` lives on the store's filesystem."""
        check_digest(digest)
        return f"{self.root}/objects/{digest[:2]}/{digest[2:]}"

    def exists(self, digest: str) -> bool:
        """True when an object with ``digest`` is stored."""
        with self._errors("check"):
            if self.is_local:
                return os.path.exists(self.object_path(digest))
            return bool(self.fs.exists(self.object_path(digest)))

    def put_file(self, path: Path, check: StreamCheck | None = None) -> StoredObject:
        """Store the bytes of ``path`` in one streaming pass; ``check`` sees every chunk."""
        with path.open("rb") as source:
            return self.put_stream(source, check)

    def put_bytes(self, data: bytes) -> StoredObject:
        """Store ``data``."""
        digest = blake3.blake3(data).hexdigest()
        if self.is_local:
            return self._put_local(_single_chunk(data), None)
        self._put_remote(digest, data)
        return StoredObject(digest, len(data))

    def put_stream(self, source: IO[bytes], check: StreamCheck | None = None) -> StoredObject:
        """Store everything readable from ``source``."""
        if self.is_local:
            return self._put_local(_chunks(source), check)
        return self._put_remote_stream(source, check)

    def read_bytes(self, digest: str) -> bytes:
        """The verified bytes of an object."""
        location = self.object_path(digest)
        with self._errors("read"):
            try:
                data = Path(location).read_bytes() if self.is_local else self.fs.cat_file(location)
            except FileNotFoundError:
                raise NotFoundError(f"{self.url}: no object blake3:{digest}") from None
        return require_digest(data, digest, f"{self.url}/objects/{digest[:2]}/{digest[2:]}")

    def fetch(self, digest: str) -> Path:
        """A local file holding the verified bytes of an object (remote objects are cached)."""
        location = self.object_path(digest)
        if self.is_local:
            local = Path(location)
            if not local.is_file():
                raise NotFoundError(f"{self.url}: no object blake3:{digest}")
        else:
            local = self.cache_dir / "objects" / digest[:2] / digest[2:]
            if not local.is_file():
                self._download(digest, location, local)
        actual = file_digest(local)
        if actual != digest:
            raise DigestMismatchError(str(local), digest, actual)
        return local

    def sweep_temp(self, max_age_s: float = TEMP_MAX_AGE_S) -> int:
        """Remove temp files left by writers that died; returns how many were removed.

        A temp file is named after its writer (host and pid): one whose writer on this host is
        gone is removed at once, any other only once it is older than ``max_age_s``.
        """
        if not self.is_local:
            return 0
        removed = 0
        temp_dir = Path(self.root) / "tmp"
        for entry in temp_dir.glob("*.part") if temp_dir.is_dir() else ():
            with contextlib.suppress(FileNotFoundError):
                orphan = _writer_is_gone(entry.name)
                if orphan or time.time() - entry.stat().st_mtime > max_age_s:
                    entry.unlink()
                    removed += 1
        return removed

    def _put_local(self, chunks: Iterator[memoryview], check: StreamCheck | None) -> StoredObject:
        temp_dir = Path(self.root) / "tmp"
        with self._errors("write"):
            temp_dir.mkdir(parents=True, exist_ok=True)
            fd, temp_name = tempfile.mkstemp(dir=temp_dir, prefix=_writer_prefix(), suffix=".part")
            try:
                with os.fdopen(fd, "wb") as target:
                    digest, size = _copy(chunks, target, check)
                    target.flush()
                    os.fsync(target.fileno())
                final = Path(self.object_path(digest))
                final.parent.mkdir(parents=True, exist_ok=True)
                # Replacing an existing object with the same verified bytes is harmless and
                # repairs an object damaged on disk.
                os.replace(temp_name, final)
                _fsync_dir(final.parent)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp_name)
                raise
        return StoredObject(digest, size)

    def _put_remote_stream(self, source: IO[bytes], check: StreamCheck | None) -> StoredObject:
        # The key is the digest, so the bytes are spooled to a private local temp file while
        # hashing, then that spool (which nobody else can change) is uploaded create-only.
        spool_dir = self.cache_dir / "tmp"
        spool_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=spool_dir) as spool:
            digest, size = _copy(_chunks(source), spool, check)
            spool.seek(0)
            self._put_remote(digest, spool)
        return StoredObject(digest, size)

    def _put_remote(self, digest: str, data: bytes | IO[bytes]) -> None:
        location = self.object_path(digest)
        with self._errors("write"):
            if self.fs.exists(location):
                return
            try:
                with self.fs.open(location, "xb") as target:
                    if isinstance(data, bytes):
                        target.write(data)
                    else:
                        for chunk in _chunks(data):
                            target.write(chunk)
            except (FileExistsError, OSError) as error:
                # A concurrent writer stored the same digest first (412 Precondition Failed).
                if not self.fs.exists(location):
                    raise StorageError(f"{self.url}: cannot write object: {error}") from None

    def _download(self, digest: str, location: str, local: Path) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=local.parent, suffix=".part")
        try:
            os.close(fd)
            with self._errors("read"):
                try:
                    self.fs.get_file(location, temp_name)
                except FileNotFoundError:
                    raise NotFoundError(f"{self.url}: no object blake3:{digest}") from None
            os.replace(temp_name, local)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except ShiplineError:  # ours, e.g. a stream check refusing the data
            raise
        except PermissionError as error:
            raise StorageError(
                f"content store {self.url}: cannot {action}: permission denied ({error})"
            ) from None
        except OSError as error:
            if error.errno == 28:
                raise StorageError(
                    f"content store {self.url}: cannot {action}: no space left on device"
                ) from None
            raise StorageError(f"content store {self.url}: cannot {action}: {error}") from None
        except Exception as error:  # network and client errors of any fsspec backend
            raise StorageError(
                f"content store {self.url}: cannot {action}: {type(error).__name__}: {error}"
            ) from None


def open_content_store(url: str, cache_dir: Path) -> ContentStore:
    """Open the content store at ``url`` (local path or fsspec URL such as ``s3://bucket/x``)."""
    if not url or "\x00" in url or any(part == ".." for part in re.split(r"[/\\]", url)):
        raise ConfigError("SHIPLINE_STORE", [Problem("", f"expected {_STORE_HINT}, found {url!r}")])
    match = _SCHEME.fullmatch(url)
    protocol, rest = (match.group(1), match.group(2)) if match else ("file", url)
    if protocol == "file":
        store = ContentStore(url, None, str(Path(rest).resolve()), cache_dir)
        store.sweep_temp()
        return store
    import fsspec

    if protocol not in fsspec.available_protocols():
        raise ConfigError(
            "SHIPLINE_STORE",
            [
                Problem(
                    "", f"unknown storage scheme {protocol!r} in {url!r}; expected {_STORE_HINT}"
                )
            ],
        )
    bucket = rest.split("/", 1)[0]
    if not bucket or rest.startswith("/") or any(c.isspace() for c in rest):
        raise ConfigError(
            "SHIPLINE_STORE",
            [Problem("", f"expected {protocol}://bucket/prefix, found {url!r}")],
        )
    try:
        fs = fsspec.filesystem(protocol, **remote_options(protocol))
    except ImportError:
        raise ConfigError(
            "SHIPLINE_STORE",
            [Problem("", f"the {protocol}:// store needs its driver: pip install 'shipline[s3]'")],
        ) from None
    return ContentStore(url, fs, rest.rstrip("/"), cache_dir)


def remote_options(protocol: str) -> dict[str, Any]:
    """fsspec options for a remote filesystem: no stale listings, the S3 endpoint if set."""
    # Listings caches and shared instances would let exists() answer from a stale listing:
    # a present object reported missing, or a missing one reported present.
    base: dict[str, Any] = {"skip_instance_cache": True, "use_listings_cache": False}
    if protocol not in ("s3", "s3a"):
        return base
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    options: dict[str, Any] = {
        **base,
        "config_kwargs": {"retries": {"max_attempts": 3}, "connect_timeout": 5},
    }
    if endpoint:
        options["client_kwargs"] = {"endpoint_url": endpoint}
    return options


def _writer_prefix() -> str:
    return f"{socket.gethostname()}~{os.getpid()}~"


def _writer_is_gone(name: str) -> bool:
    """True when a temp file's writer ran on this host and no longer exists."""
    host, _, rest = name.partition("~")
    pid_text = rest.partition("~")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _copy(
    chunks: Iterator[memoryview], target: IO[bytes], check: StreamCheck | None
) -> tuple[str, int]:
    """Hash and write every chunk; the check sees each chunk on a second thread meanwhile.

    Reading, hashing and writing release the GIL, and so does the numpy work of the checks
    we ship, so the check costs little wall time on top of the copy.
    """
    hasher, size = _hasher(), 0
    if check is None:
        for chunk in chunks:
            hasher.update(chunk)
            target.write(chunk)
            size += len(chunk)
        return hasher.hexdigest(), size
    with ThreadPoolExecutor(1, thread_name_prefix="shipline-check") as pool:
        pending: Future[None] | None = None
        for chunk in chunks:
            hasher.update(chunk)
            if pending is not None:
                pending.result()
            pending = pool.submit(check.update, chunk)
            target.write(chunk)
            size += len(chunk)
        if pending is not None:
            pending.result()
    check.finish()
    return hasher.hexdigest(), size


def _chunks(source: IO[bytes]) -> Iterator[memoryview]:
    """Chunks from two alternating buffers: one is checked while the other is refilled."""
    buffers = (bytearray(CHUNK_BYTES), bytearray(CHUNK_BYTES))
    views = tuple(memoryview(buffer) for buffer in buffers)
    turn = 0
    while True:
        count = source.readinto(buffers[turn])  # type: ignore[attr-defined]
        if not count:
            return
        yield views[turn][:count]
        turn ^= 1


def _single_chunk(data: bytes) -> Iterator[memoryview]:
    yield memoryview(data)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
