"""A process that writes dataset versions in a loop until it is killed (for crash tests)."""

from __future__ import annotations

import sys
from pathlib import Path

from shipline.artifacts import open_content_store
from shipline.data import add_version
from shipline.store import open_database


def main(db_url: str, store_url: str, workdir: str, start: int) -> None:
    """Add ever new small folder datasets (several files, rows and events per version)."""
    db = open_database(db_url)
    root = Path(workdir)
    store = open_content_store(store_url, root / "cache")
    index = start
    while True:
        folder = root / f"batch-{index}"
        folder.mkdir(parents=True, exist_ok=True)
        for part in range(3):
            (folder / f"part-{part}.csv").write_text(
                f"i,part\n{index},{part}\n{index + 1},{part}\n"
            )
        add_version(db, store, folder, "writer", name=f"ds{index % 3}")
        index += 1
        # The test kills this process after a number of commits it picks, not after a delay.
        print(f"committed {index - start}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
