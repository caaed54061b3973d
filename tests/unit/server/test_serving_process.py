"""How a serving process is set up: Arrow's allocator chosen before pyarrow is imported, and the
garbage collector settled once the imports are done."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Runs a serving command with its server stubbed out: the stub reports which allocator Arrow
# took, importing pyarrow only then (the real server module imports pandas, hence pyarrow).
_PROBE = textwrap.dedent(
    """
    import json, sys, types

    def report(*args, **kwargs):
        import pyarrow
        print(json.dumps([pyarrow.default_memory_pool().backend_name, "pyarrow" in before]))

    before = set(sys.modules)
    runner = types.ModuleType("shipline.server.runner")
    runner.parse_targets = lambda values: [("m", "production")]
    runner.serve = report
    container = types.ModuleType("shipline.server.container")
    container.image_port = lambda: 8080
    container.serve_image = report
    sys.modules["shipline.server.runner"] = runner
    sys.modules["shipline.server.container"] = container
    from shipline.cli.app import main
    sys.argv = ["shipline", *sys.argv[1:]]
    before = set(sys.modules)
    main()
    """
)


def _allocator(args: list[str], cwd: Path, **extra: str) -> list[object]:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        cwd=cwd,
        env={**env, **extra},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("args", [["serve", "m@production"], ["container", "serve"]])
def test_serving_commands_give_arrow_the_c_allocator(args: list[str], tmp_path: Path) -> None:
    backend, imported_before = _allocator(args, tmp_path)
    assert backend == "system"
    assert imported_before is False  # else the choice would have come too late


def test_an_allocator_the_operator_chose_is_kept(tmp_path: Path) -> None:
    backend, _ = _allocator(
        ["serve", "m@production"], tmp_path, ARROW_DEFAULT_MEMORY_POOL="mimalloc"
    )
    assert backend == "mimalloc"


def test_a_settled_collector_has_frozen_the_imports_and_collects_the_young_less_often() -> None:
    probe = (
        "import gc, json, shipline.server.runner; "
        "from shipline.collector import settle_collector, YOUNG_COLLECTION_THRESHOLD as young; "
        "settle_collector(); "
        "print(json.dumps([gc.get_freeze_count(), gc.get_threshold()[0] == young, young]))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    frozen, raised, young = json.loads(done.stdout)
    assert frozen > 50_000  # the imports (the server's modules, numpy, pandas, pyarrow)
    assert raised and young > 700  # above Python's default
