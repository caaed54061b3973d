"""Every README code block meant to run is run here, as written.

The rule: ```bash and ```python blocks run; command synopses (with [OPTIONS] and …) are
```text, ```yaml blocks are configuration (validated where a test runs them). This file
fails when a new bash or python block appears that no test runs.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.conftest import Cli

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"^```(bash|python)\n(.*?)^```", README, re.DOTALL | re.MULTILINE)


def _block(marker: str) -> str:
    """The first bash/python block after ``marker`` in the README."""
    after = README.split(marker, 1)[1]
    match = re.search(r"^```(?:bash|python)\n(.*?)^```", after, re.DOTALL | re.MULTILINE)
    assert match, marker
    return match.group(1)


def test_every_runnable_block_is_run_by_a_test() -> None:
    runnable = [body.splitlines()[0].split("#")[0].strip() for _, body in BLOCKS]
    assert runnable == [
        "scripts/demo.sh",  # and scripts/test.sh, which runs this file
        "shipline init cancer && cd cancer",
        "mkdir -p wine/data && cd wine",  # tests/e2e/test_pipeline_cli.py runs the wine example
        "shipline users add root --role admin > root.token",  # the team server, run below
        "shipline init scaled && cd scaled",  # Dask: a scheduler and workers, run below
        "import os",
        "from dataclasses import dataclass",  # the plug-in example, run below
    ], "a README bash/python block was added or changed: run it in this file"


def _commands(script: str) -> list[str]:
    """The command lines of a shell block or script, without comments or `set -x` noise."""
    lines = []
    for line in script.splitlines():
        text = line.split("  #", 1)[0].strip()
        if text and not text.startswith("#"):
            lines.append(" ".join(shlex.split(text, comments=True)))
    return lines


def test_the_main_job_block_is_what_demo_sh_runs_and_demo_sh_works(tmp_path: Path) -> None:
    """The first README command, and the step-by-step block that describes it."""
    demo = (ROOT / "scripts" / "demo.sh").read_text()
    script_lines = _commands(
        demo.replace("shipline init cancer\ncd cancer", "shipline init cancer && cd cancer")
    )
    for line in _commands(_block("`scripts/demo.sh` runs, in `.demo/`:")):
        command = line.removesuffix(" &")
        assert any(run.startswith(command) for run in script_lines), command
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPLINE_", "AWS_"))}
    result = subprocess.run(
        ["bash", "scripts/demo.sh"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "registered cancer:1" in result.stdout and "cancer:1" in result.stdout
    assert "audit chain intact" in result.stdout
    assert "registered churn:1" in result.stdout


def test_the_python_api_example_runs_as_written(local_cli: Cli, project: Path) -> None:
    local_cli("init", "cancer", check=True)
    code = _block("## Python API")
    env = {**local_cli.env, "SHIPLINE_USER": "alice"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("succeeded 0.9")
    assert lines[1] == "breast_cancer@v1 1 succeeded" and lines[2] == "[1]"
    assert lines[3] == "1"  # production moved once the reviewer approved
    assert lines[4] == "569 2 production" and lines[5] == "[] model.alias.approval"


def test_the_plug_in_example_registers_a_drift_method_and_uses_it(tmp_path: Path) -> None:
    code = _block("In a notebook or script, `register` does the same:")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["mean_shift True"]


def test_the_team_server_block_runs_as_written(tmp_path: Path) -> None:
    block = _block("## Team server: identities, roles and the management API")
    result = _run_with_background_jobs(block, tmp_path, XDG_CONFIG_HOME=str(tmp_path / "config"))
    assert result.returncode == 0, result.stderr
    assert "root (token 1); roles: admin on *" in result.stdout
    assert "erin" in result.stdout and "ml-engineer on cancer" in result.stdout
    assert "audit chain intact" in result.stdout and "logged out" in result.stdout
    assert (tmp_path / "dana.token").read_text().startswith("shp_")
    assert not (tmp_path / "config" / "shipline" / "credentials.json").exists()


def test_the_dask_block_runs_as_written(tmp_path: Path) -> None:
    result = _run_with_background_jobs(_block("## Scale out on Dask"), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "compute: dask tcp://127.0.0.1:8786 (from SHIPLINE_DASK)" in result.stdout
    assert "train, evaluate ran on dask tcp://127.0.0.1:8786" in result.stdout
    assert "scored 569 rows in 1 partition with cancer:1 on dask" in result.stdout
    assert "0 of " in result.stdout and "no dataset drift" in result.stdout
    assert (tmp_path / "scaled" / "scored" / "part-00000.parquet").is_file()


def test_the_dask_yaml_block_is_a_valid_config(tmp_path: Path) -> None:
    from shipline.config import load_config

    after = README.split("## Scale out on Dask", 1)[1]
    match = re.search(r"^```yaml\n(.*?)^```", after, re.DOTALL | re.MULTILINE)
    assert match
    path = tmp_path / "shipline.yaml"
    path.write_text("name: m\ndata: {source: d.csv, target: y}\n" + match.group(1))
    config = load_config(path)
    assert config.compute.dask is not None and config.compute.dask.local is not None
    assert config.training.search is not None and config.training.search.metric == "f1"


def test_the_rollout_yaml_block_is_a_valid_config(tmp_path: Path) -> None:
    from shipline.config import load_config

    after = README.split("## Progressive delivery", 1)[1]
    match = re.search(r"^```yaml\n(.*?)^```", after, re.DOTALL | re.MULTILINE)
    assert match
    path = tmp_path / "shipline.yaml"
    base = "name: m\ndata: {source: d.csv, target: y}\ntraining: {task: classification}\n"
    path.write_text(base + match.group(1))
    plan = load_config(path).deployment.rollout["production"]
    assert plan.canary is not None and plan.canary.steps == [10, 50, 100]
    assert plan.guardrails.quality is not None and plan.guardrails.min_requests == 100


def _run_with_background_jobs(
    block: str, cwd: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    """Run a shell block as written; the servers it starts in the background get SIGTERM when
    it is done."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPLINE_", "AWS_"))}
    env |= {"PATH": _venv_path(env), **extra}
    script = f"set -e\ntrap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\n{block}"
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip


def _venv_path(env: dict[str, str]) -> str:
    """PATH with this interpreter's folder first, so `shipline` is the one under test."""
    return f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"


def test_the_permission_table_is_the_one_the_server_enforces() -> None:
    from shipline.identity.role import ROLE_PERMISSIONS, Permission, Role

    section = README.split("**Permissions.**", 1)[1].split("\n\n|", 1)[1]
    lines = ("|" + section).split("\n\n", 1)[0].splitlines()
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    roles = [Role(name) for name in header[2:]]
    documented: dict[Role, set[Permission]] = {role: set() for role in roles}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        permission = Permission(cells[0].strip("`"))
        for role, mark in zip(roles, cells[2:], strict=True):
            if mark == "✓":
                documented[role].add(permission)
    assert set(roles) == set(Role)
    assert {p for line in lines[2:] for p in [line.split("|")[1].strip().strip("`")]} == {
        p.value for p in Permission
    }
    assert documented == {role: set(ROLE_PERMISSIONS[role]) for role in Role}
