"""Where a model's training data comes from (``data.source``): a local path or an fsspec URL.

The rule for local paths: a relative ``data.source`` names data inside the project folder and
must stay there after symbolic links are resolved. Data elsewhere is written as an absolute
path or a URL (``s3://bucket/prefix/file.csv``), so whoever reviews shipline.yaml sees where
the model's data comes from; a link cannot silently pull in a file outside the project.

A URL is read with fsspec (S3 through s3fs, honouring ``AWS_ENDPOINT_URL``). Remote data is
copied to a local folder for the pipeline (one pass), with the fingerprint that tells a
changed object from an unchanged one taken from the listing (size, modification time, ETag).
"""

from __future__ import annotations

__all__ = ["DataSource", "resolve_source"]

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipline.errors import DataFileError

_URL = re.compile(r"([a-z][a-z0-9+.-]*)://(.+)")


@dataclass(frozen=True)
class DataSource:
    """A resolved ``data.source``: a local path, or a URL with its filesystem protocol."""

    configured: str
    location: str
    protocol: str | None = None

    @property
    def is_remote(self) -> bool:
        """True for a URL (anything but a local path)."""
        return self.protocol is not None

    @property
    def path(self) -> Path:
        """The local path (only for a local source)."""
        if self.is_remote:
            raise DataFileError(f"data.source {self.configured}: is a URL, not a local path")
        return Path(self.location)

    def fingerprint(self) -> list[list[Any]]:
        """Cheap facts that change whenever the data does: per file, its name, size and
        modification time (and ETag for objects). No byte is read."""
        if not self.is_remote:
            return _local_fingerprint(self.path)
        return [[name, *facts] for name, facts in sorted(self._remote_files().items())]

    def local_copy(self, folder: Path) -> Path:
        """A local path holding the data: the path itself, or a download of the URL into
        ``folder`` (a file, or a folder of the object's files)."""
        if not self.is_remote:
            return self.path
        fs, root = self._filesystem()
        files = self._remote_files()
        single = list(files) == [""]
        target = folder / (Path(root).name or "data")
        try:
            if single:
                target.parent.mkdir(parents=True, exist_ok=True)
                fs.get_file(root, str(target))
            else:
                for name in files:
                    local = target / name
                    local.parent.mkdir(parents=True, exist_ok=True)
                    fs.get_file(f"{root}/{name}", str(local))
        except (OSError, ValueError) as error:
            raise DataFileError(f"data.source {self.configured}: cannot be read: {error}") from None
        return target

    def _filesystem(self) -> tuple[Any, str]:
        import fsspec

        from shipline.artifacts.content_store import remote_options

        assert self.protocol is not None
        try:
            fs = fsspec.filesystem(self.protocol, **remote_options(self.protocol))
        except ImportError:
            raise DataFileError(
                f"data.source {self.configured}: reading {self.protocol}:// needs its driver "
                "(pip install 'shipline[s3]' for S3)"
            ) from None
        return fs, self.location.split("://", 1)[1].rstrip("/")

    def _remote_files(self) -> dict[str, list[Any]]:
        """``{name relative to the source: [size, mtime, etag]}``; ``""`` for a single file."""
        fs, root = self._filesystem()
        try:
            info = fs.info(root)
            entries = [info] if info["type"] == "file" else fs.find(root, detail=True).values()
        except FileNotFoundError:
            raise DataFileError(f"data.source {self.configured}: no such object") from None
        except (OSError, ValueError) as error:
            raise DataFileError(f"data.source {self.configured}: cannot be read: {error}") from None
        files: dict[str, list[Any]] = {}
        for entry in entries:
            name = str(entry["name"]).removeprefix(root).lstrip("/")
            if any(part.startswith(".") for part in name.split("/") if part):
                continue
            modified = entry.get("LastModified") or entry.get("mtime") or entry.get("created")
            facts = [int(entry.get("size") or 0), str(modified), str(entry.get("ETag", ""))]
            files[name] = facts
        if not files:
            raise DataFileError(f"data.source {self.configured}: holds no files")
        return files


def resolve_source(project_dir: Path, source: str) -> DataSource:
    """Resolve ``data.source`` against the project folder, enforcing the rule above."""
    match = _URL.fullmatch(source)
    if match and match.group(1) != "file":
        return DataSource(source, source, match.group(1))
    text = match.group(2) if match else source
    written = Path(text).expanduser()
    if written.is_absolute():
        return DataSource(source, str(written))
    root = project_dir.resolve()
    resolved = (root / written).resolve()
    if not resolved.is_relative_to(root):
        raise DataFileError(
            f"data.source {source}: resolves to {resolved}, outside the project folder "
            f"{root} (through '..' or a symbolic link); write data outside the project as an "
            "absolute path or a URL so reviewers see it"
        )
    return DataSource(source, str(resolved))


def _local_fingerprint(source: Path) -> list[list[Any]]:
    if not source.exists():
        return [["missing", str(source)]]
    files = sorted(source.rglob("*")) if source.is_dir() else [source]
    return [
        [
            str(f.relative_to(source) if source.is_dir() else f.name),
            f.stat().st_size,
            f.stat().st_mtime_ns,
        ]
        for f in files
        if f.is_file()
    ]
