"""One contract for the content store, run on the local filesystem and on a real S3 server."""

from __future__ import annotations

import io
import os
from pathlib import Path

import blake3
import pytest

from shipline.artifacts import ManifestEntry, open_content_store, read_manifest, store_manifest
from shipline.errors import (
    ConfigError,
    DataFileError,
    DigestMismatchError,
    NotFoundError,
    StorageError,
)


def _store(url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    return open_content_store(url, tmp_path / "cache")


def test_put_and_read_round_trip(store_url: str, tmp_path: Path) -> None:
    store = _store(store_url, tmp_path)
    data = os.urandom(3 * 1024 * 1024 + 17)
    stored = store.put_bytes(data)
    assert stored.digest == blake3.blake3(data).hexdigest()
    assert stored.size == len(data)
    assert store.exists(stored.digest)
    assert store.read_bytes(stored.digest) == data
    assert store.fetch(stored.digest).read_bytes() == data
    assert store.object_path(stored.digest).endswith(
        f"objects/{stored.digest[:2]}/{stored.digest[2:]}"
    )


def test_put_file_streams_large_files(store_url: str, tmp_path: Path) -> None:
    store = _store(store_url, tmp_path)
    source = tmp_path / "big.bin"
    data = os.urandom(20 * 1024 * 1024 + 5)  # several chunks, and a multipart upload on S3
    source.write_bytes(data)
    stored = store.put_file(source)
    assert stored.digest == blake3.blake3(data).hexdigest()
    assert store.fetch(stored.digest).read_bytes() == data


def test_same_bytes_twice_is_one_object(store_url: str, tmp_path: Path) -> None:
    store = _store(store_url, tmp_path)
    first = store.put_bytes(b"same bytes")
    second = store.put_stream(io.BytesIO(b"same bytes"))
    assert first == second
    objects = list(store.fs.find(f"{store.root}/objects"))
    assert len(objects) == 1


def test_reading_a_damaged_object_is_refused(store_url: str, tmp_path: Path) -> None:
    store = _store(store_url, tmp_path)
    stored = store.put_bytes(b"the model bytes")
    location = store.object_path(stored.digest)
    if store.is_local:
        Path(location).write_bytes(b"the model bytez")
    else:
        store.fs.rm(location)
        store.fs.pipe(location, b"the model bytez")
    with pytest.raises(DigestMismatchError, match="does not match its digest"):
        store.read_bytes(stored.digest)
    with pytest.raises(DigestMismatchError):
        store.fetch(stored.digest)


def test_missing_object_is_not_found(store_url: str, tmp_path: Path) -> None:
    store = _store(store_url, tmp_path)
    digest = blake3.blake3(b"never stored").hexdigest()
    assert not store.exists(digest)
    with pytest.raises(NotFoundError, match=digest):
        store.read_bytes(digest)
    with pytest.raises(NotFoundError):
        store.fetch(digest)


class _Refuse:
    def __init__(self) -> None:
        self.seen = 0

    def update(self, chunk: memoryview) -> None:
        self.seen += len(chunk)

    def finish(self) -> None:
        raise DataFileError("refused at the end")


def test_a_refused_stream_writes_nothing(store_url: str, tmp_path: Path) -> None:
    store = _store(store_url, tmp_path)
    check = _Refuse()
    with pytest.raises(DataFileError, match="refused"):
        store.put_stream(io.BytesIO(b"x" * 1000), check)
    assert check.seen == 1000
    assert not store.exists(blake3.blake3(b"x" * 1000).hexdigest())
    if store.is_local:
        assert list((Path(store.root) / "tmp").iterdir()) == []


def test_directory_manifest_round_trip(store_url: str, tmp_path: Path) -> None:
    store = _store(store_url, tmp_path)
    a, b = store.put_bytes(b"a"), store.put_bytes(b"bb")
    entries = [ManifestEntry("part-2.csv", b.digest, 2), ManifestEntry("part-1.csv", a.digest, 1)]
    manifest_object = store_manifest(store, entries)
    manifest = read_manifest(store, manifest_object.digest)
    assert [e.path for e in manifest.entries] == ["part-1.csv", "part-2.csv"]
    assert manifest.size == 3
    # The order files were listed in does not change the digest.
    assert store_manifest(store, list(reversed(entries))).digest == manifest_object.digest


def test_manifest_paths_cannot_escape(store_url: str, tmp_path: Path) -> None:
    store = _store(store_url, tmp_path)
    blob = store.put_bytes(b"a")
    for bad in ("../etc/passwd", "/abs", "a/../../b"):
        with pytest.raises(ValueError, match="relative"):
            store_manifest(store, [ManifestEntry(bad, blob.digest, 1)])


def test_malformed_store_urls_are_configuration_errors(tmp_path: Path) -> None:
    for url in ("nope://bucket/x", "s3://", "s3:///prefix", "s3://bucket/../x", "", "a\x00b"):
        with pytest.raises(ConfigError, match="SHIPLINE_STORE"):
            open_content_store(url, tmp_path)


def test_unreachable_s3_is_a_clear_storage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.services import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    store = open_content_store("s3://bucket/prefix", tmp_path)
    with pytest.raises(StorageError, match="s3://bucket/prefix"):
        store.put_bytes(b"data")


def test_local_write_is_temp_fsync_rename(tmp_path: Path) -> None:
    """No half-written file ever sits at a digest key: writes land in tmp/ first."""
    store = open_content_store(str(tmp_path / "store"), tmp_path / "cache")
    seen_in_tmp: list[list[str]] = []

    class Peek:
        def update(self, chunk: memoryview) -> None:
            seen_in_tmp.append(os.listdir(tmp_path / "store" / "tmp"))
            assert not (tmp_path / "store" / "objects").exists() or not any(
                (tmp_path / "store" / "objects").rglob("*.part")
            )

        def finish(self) -> None:
            """Nothing to check."""

    store.put_stream(io.BytesIO(b"abc"), Peek())
    assert seen_in_tmp and seen_in_tmp[0][0].endswith(".part")
    assert os.listdir(tmp_path / "store" / "tmp") == []


def test_temp_files_of_dead_writers_are_swept(tmp_path: Path) -> None:
    import socket
    import subprocess

    temp = tmp_path / "store" / "tmp"
    temp.mkdir(parents=True)
    host = socket.gethostname()
    gone = subprocess.Popen(["true"])
    gone.wait()
    orphan = temp / f"{host}~{gone.pid}~abc.part"
    live = temp / f"{host}~{os.getpid()}~def.part"
    other_host_old = temp / "elsewhere~1~ghi.part"
    other_host_new = temp / "elsewhere~2~jkl.part"
    for path in (orphan, live, other_host_old, other_host_new):
        path.write_bytes(b"x")
    os.utime(other_host_old, (1, 1))
    open_content_store(str(tmp_path / "store"), tmp_path / "cache")
    assert not orphan.exists() and not other_host_old.exists()
    assert live.exists() and other_host_new.exists()


def test_exists_sees_objects_written_by_another_process(store_url: str, tmp_path: Path) -> None:
    """A listing taken earlier must not hide an object written since (no stale caches)."""
    reader = _store(store_url, tmp_path)
    reader.put_bytes(b"first")
    reader.fs.find(f"{reader.root}/objects")  # would populate a listings cache
    writer = _store(store_url, tmp_path / "other")
    later = writer.put_bytes(b"written later by someone else")
    assert reader.exists(later.digest)
    assert reader.read_bytes(later.digest) == b"written later by someone else"


def test_a_local_store_works_without_importing_fsspec(tmp_path: Path) -> None:
    """Written, found and read back with os alone; fsspec comes when its filesystem is asked."""
    import subprocess
    import sys

    probe = (
        "import sys; from pathlib import Path; "
        "from shipline.artifacts import open_content_store; "
        f"store = open_content_store({str(tmp_path / 'store')!r}, Path({str(tmp_path)!r})); "
        "digest = store.put_bytes(b'the model bytes').digest; "
        "assert store.exists(digest) and not store.exists('0' * 64); "
        "assert store.read_bytes(digest) == b'the model bytes'; "
        "before = 'fsspec' in sys.modules; "
        "found = store.fs.exists(store.object_path(digest)); "
        "print(before, found, 'fsspec' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True", "True"]
