"""What must hold after any crash: nothing half-written is visible, the chain verifies."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import blake3

from shipline.artifacts import open_content_store, read_manifest
from shipline.audit import list_events, verify_chain
from shipline.data import list_versions
from shipline.store import open_database


def assert_store_consistent(db_url: str, store_url: str, cache: Path) -> int:
    """Check every invariant; return how many dataset versions are visible."""
    db = open_database(db_url)
    store = open_content_store(store_url, cache)
    try:
        versions = list_versions(db)
        numbers: dict[str, list[int]] = defaultdict(list)
        for version in versions:
            numbers[version.name].append(version.version)
            assert version.files, f"{version.ref} has no files"
            for file in version.files:
                assert store.exists(file.digest), f"{version.ref} points at a missing blob"
            if version.kind == "directory":
                manifest = read_manifest(store, version.digest)
                assert {e.digest for e in manifest.entries} == {f.digest for f in version.files}
            assert sum(f.rows for f in version.files) == version.rows
        for name, seen in numbers.items():
            assert sorted(seen) == list(range(1, len(seen) + 1)), (
                f"{name} numbers have gaps: {seen}"
            )
        added = [e for e in list_events(db, limit=1_000_000) if e.action == "dataset.version.add"]
        assert len(added) == len(versions), "audit events and versions disagree"
        report = verify_chain(db)
        assert report.ok, f"audit chain broken at {report.broken_seq}: {report.reason}"
        for location in store.fs.find(f"{store.root}/objects"):
            name = "".join(location.rsplit("/", 2)[-2:])
            assert blake3.blake3(store.fs.cat_file(location)).hexdigest() == name, location
        return len(versions)
    finally:
        db.close()
