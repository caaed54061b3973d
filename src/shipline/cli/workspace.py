"""What a CLI verb needs from its surroundings: settings, the database, the content store."""

from __future__ import annotations

__all__ = ["Workspace"]

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from shipline.settings import Settings, load_settings

if TYPE_CHECKING:
    from shipline.artifacts import ContentStore
    from shipline.config import ModelConfig
    from shipline.store import Database


@dataclass
class Workspace:
    """Opens the database and store on first use, so verbs that need neither stay fast."""

    config_path: Path | None = None
    _settings: Settings | None = field(default=None, init=False)
    _db: Database | None = field(default=None, init=False)

    @property
    def settings(self) -> Settings:
        """Resolved settings for this invocation."""
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings

    def config(self) -> ModelConfig:
        """The validated shipline.yaml."""
        from shipline.config import load_config

        return load_config(self.settings.config_path)

    def db(self) -> Database:
        """The migrated metadata database."""
        from shipline.store import open_database

        if self._db is None:
            self._db = open_database(self.settings.db_url)
        return self._db

    def store(self) -> ContentStore:
        """The content store."""
        from shipline.artifacts import open_content_store

        return open_content_store(self.settings.store_url, self.settings.state_dir / "cache")

    def close(self) -> None:
        """Release the database connection pool."""
        if self._db is not None:
            self._db.close()
