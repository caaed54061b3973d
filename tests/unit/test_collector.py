"""Every command collects the youngest generation less often, from its start."""

from __future__ import annotations

import subprocess
import sys

from shipline.collector import YOUNG_COLLECTION_THRESHOLD


def _probe(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_the_youngest_generation_is_collected_less_often_and_the_older_ones_as_before() -> None:
    thresholds = _probe(
        "import gc; gc.set_threshold(700, 11, 12); "
        "from shipline.collector import collect_young_less_often; "
        "collect_young_less_often(); print(*gc.get_threshold())"
    )
    assert thresholds == f"{YOUNG_COLLECTION_THRESHOLD} 11 12"
    assert YOUNG_COLLECTION_THRESHOLD > 700  # Python's default


def test_a_command_runs_with_the_young_collected_less_often() -> None:
    # The command itself is replaced by a probe that reports what it runs under.
    seen = _probe(
        "import gc, shipline.cli.app as cli; "
        "cli.app = lambda **_: print(gc.get_threshold()[0], gc.isenabled()); cli.main()"
    )
    assert seen == f"{YOUNG_COLLECTION_THRESHOLD} True"
