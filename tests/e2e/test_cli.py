"""The CLI as a user drives it: exit codes, --json, messages, and nothing written on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.terminal import run_on_terminal
from tests.unit.config.test_loading import VALID

HEAVY = (
    "pandas",
    "pyarrow",
    "sklearn",
    "sqlalchemy",
    "starlette",
    "s3fs",
    "pydantic",
    "numpy",
    "rich",
)


def test_help_imports_no_heavy_library(project: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            str(Path(sys.executable).parent / "shipline"),
            "--help",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Usage: shipline" in proc.stdout
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in proc.stderr.splitlines()
        if "|" in line
    }
    assert not imported & set(HEAVY), imported & set(HEAVY)


def test_version_and_usage_errors(local_cli: Cli) -> None:
    assert local_cli("--version").out.strip().startswith("shipline ")
    assert local_cli("no-such-verb").code == 2
    assert local_cli("data", "add").code == 2  # missing argument
    assert local_cli("audit", "log", "--limit", "-5").code == 2


@pytest.mark.parametrize(
    "args",
    [
        ("runs", "show", "99999999999999999999999"),
        ("runs", "compare", "1", str(2**64)),
        ("approve", str(2**63)),
        ("run", "--resume", "1" + "0" * 30),
        ("monitor", "show", "0"),
    ],
)
def test_numbers_beyond_64_bits_are_usage_errors(local_cli: Cli, args: tuple[str, ...]) -> None:
    result = local_cli(*args)
    assert result.code == 2, result.err
    assert "Traceback" not in result.err and "Invalid value" in result.err


def test_data_flow_on_each_backend(cli: Cli, project: Path) -> None:
    data = project / "data"
    data.mkdir()
    (data / "churn.csv").write_text("id,tenure,churned\n1,3,0\n2,10,1\n")
    added = cli("data", "add", "data/churn.csv", "--json", check=True)
    first = json.loads(added.out)
    assert (first["ref"], first["rows"], first["created"]) == ("churn@v1", 2, True)
    assert [c["name"] for c in first["columns"]] == ["id", "tenure", "churned"]
    again = json.loads(cli("data", "add", "data/churn.csv", "--json", check=True).out)
    assert (again["ref"], again["created"]) == ("churn@v1", False)
    (data / "churn.csv").write_text("id,tenure,plan,churned\n1,3,a,0\n2,10,b,1\n3,1,a,0\n")
    text = cli("data", "add", "data/churn.csv", check=True).out
    assert text.startswith("added churn@v2: 3 rows, 4 columns")
    listed = json.loads(cli("data", "list", "--json", check=True).out)
    assert [v["ref"] for v in listed] == ["churn@v1", "churn@v2"]
    shown = json.loads(cli("data", "show", "churn", "--json", check=True).out)
    assert shown["ref"] == "churn@v2" and shown["created_by"] == "alice"
    diff = json.loads(cli("data", "diff", "churn@v1", "churn@v2", "--json", check=True).out)
    assert diff["schema"]["added"] == ["plan"] and diff["rows"] == {"a": 2, "b": 3, "delta": 1}
    human = cli("data", "diff", "churn@v1", "churn@v2", check=True).out
    assert "rows: 2 -> 3 (+1)" in human and "plan" in human
    log = json.loads(cli("audit", "log", "--json", check=True).out)
    assert [e["action"] for e in log] == [
        "dataset.create",
        "dataset.version.add",
        "dataset.version.add",
    ]
    assert {e["actor"] for e in log} == {"alice"}
    verified = json.loads(cli("audit", "verify", "--json", check=True).out)
    assert verified["ok"] and verified["checked"] == 3


def test_actor_comes_from_shipline_user(local_cli: Cli, project: Path) -> None:
    (project / "d.csv").write_text("a\n1\n")
    local_cli("data", "add", "d.csv", user="carol", check=True)
    log = json.loads(local_cli("audit", "log", "--json", check=True).out)
    assert {e["actor"] for e in log} == {"carol"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty"),
        (b"a,b\n", "no data rows"),
        (b"a,b\n1,caf\xe9\n", "not valid UTF-8"),
        ("a,b\n1,2\n".encode("utf-16"), "not valid UTF-8"),
    ],
    ids=["empty", "header-only", "latin1", "utf16"],
)
def test_bad_data_files_exit_1_and_write_nothing(
    local_cli: Cli, project: Path, content: bytes, message: str
) -> None:
    (project / "bad.csv").write_bytes(content)
    result = local_cli("data", "add", "bad.csv")
    assert result.code == 1
    assert message in result.err and "bad.csv" in result.err
    assert json.loads(local_cli("data", "list", "--json").out) == []
    assert not (project / ".shipline" / "store" / "objects").exists()


def test_bad_data_paths(local_cli: Cli, project: Path) -> None:
    (project / "empty").mkdir()
    (project / "empty" / "notes.txt").write_text("x")
    pq = project / "t.parquet"
    pq.write_bytes(b"PAR1 this is not parquet")
    for args, message in [
        (("data", "add", "missing.csv"), "no such file"),
        (("data", "add", "empty"), "holds no .csv or .parquet files"),
        (("data", "add", "t.parquet"), "not a readable Parquet file"),
    ]:
        result = local_cli(*args)
        assert result.code == 1 and message in result.err, result.err


@pytest.mark.parametrize("name", ["../x", "a/b", "x" * 300, "a\nb"])
def test_bad_names_exit_2(local_cli: Cli, project: Path, name: str) -> None:
    (project / "d.csv").write_text("a\n1\n")
    result = local_cli("data", "add", "d.csv", "--name", name)
    assert result.code == 2 and "dataset name" in result.err
    assert local_cli("data", "show", name).code == 2


def test_unknown_reference_exits_1_with_a_hint(local_cli: Cli, project: Path) -> None:
    (project / "churn.csv").write_text("a\n1\n")
    local_cli("data", "add", "churn.csv", check=True)
    result = local_cli("data", "show", "chrun")
    assert result.code == 1 and "did you mean 'churn'?" in result.err


def test_validate(local_cli: Cli, project: Path) -> None:
    missing = local_cli("validate")
    assert missing.code == 2 and "file not found" in missing.err
    (project / "shipline.yaml").write_text(VALID)
    ok = local_cli("validate")
    assert ok.code == 0 and "valid (model 'churn'" in ok.out
    (project / "shipline.yaml").write_text(
        VALID.replace("target:", "targt:").replace("seed: 42", "seed: x")
    )
    bad = local_cli("validate")
    assert bad.code == 2
    assert (
        "3 problems" in bad.err
        and "did you mean 'target'?" in bad.err
        and "data.split.seed" in bad.err
    )
    as_json = json.loads(local_cli("validate", "--json").out)
    assert as_json["valid"] is False
    assert {p["path"] for p in as_json["problems"]} == {
        "data.target",
        "data.targt",
        "data.split.seed",
    }
    assert not (project / ".shipline").exists()  # validating writes nothing


def test_validate_finds_the_config_upwards_and_by_flag(local_cli: Cli, project: Path) -> None:
    (project / "shipline.yaml").write_text(VALID)
    (project / "sub").mkdir()
    nested = Cli(project / "sub", local_cli.env)
    assert nested("validate").code == 0
    other = project / "other.yaml"
    other.write_text("name: x\n")
    result = local_cli("--config", str(other), "validate")
    assert result.code == 2 and "other.yaml" in result.err


def test_bad_store_and_database_urls_exit_2(local_cli: Cli, project: Path) -> None:
    (project / "d.csv").write_text("a\n1\n")
    bad_store = Cli(project, {**local_cli.env, "SHIPLINE_STORE": "nope://x/y"})
    result = bad_store("data", "add", "d.csv")
    assert (
        result.code == 2
        and "SHIPLINE_STORE" in result.err
        and "unknown storage scheme" in result.err
    )
    bad_db = Cli(project, {**local_cli.env, "SHIPLINE_DB": "mysql://u@h/db"})
    result = bad_db("data", "list")
    assert result.code == 2 and "SHIPLINE_DB" in result.err


def test_unreachable_database_exits_1(local_cli: Cli, project: Path) -> None:
    from tests.services import free_port

    env = {**local_cli.env, "SHIPLINE_DB": f"postgresql+psycopg://u:pw@127.0.0.1:{free_port()}/x"}
    result = Cli(project, env)("data", "list")
    assert result.code == 1 and "127.0.0.1" in result.err and "pw" not in result.err


def test_audit_verify_exits_1_and_names_the_row(local_cli: Cli, project: Path) -> None:
    import sqlite3

    for index in range(3):
        (project / "d.csv").write_text(f"a\n{index}\n")
        local_cli("data", "add", "d.csv", check=True)
    with sqlite3.connect(project / ".shipline" / "shipline.db") as conn:
        conn.execute("DROP TRIGGER audit_events_no_update")
        conn.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3")
    result = local_cli("audit", "verify")
    assert result.code == 1 and "BROKEN at row 3" in result.err
    assert os.path.exists(project / ".shipline" / "shipline.db")


def test_run_shows_each_step_on_a_terminal(local_cli: Cli, project: Path) -> None:
    local_cli("init", ".", check=True)
    code, out, shown = run_on_terminal(
        [sys.executable, "-m", "shipline", "run"], project, {**local_cli.env, "COLUMNS": "100"}
    )
    assert code == 0 and "registered cancer:1" in out
    for step in ("ingest", "validate", "split", "train", "evaluate", "gate", "register"):
        assert f"{step}: succeeded (".encode() in shown, shown[-500:]
    assert b"train: running" in shown  # the live line while the step runs
    piped = local_cli("run")
    assert "ingest: cached" not in piped.err  # nothing drawn when stderr is not a terminal


def test_data_add_shows_a_progress_bar_on_a_terminal(local_cli: Cli, project: Path) -> None:
    big = project / "big.csv"
    with big.open("wb") as handle:
        handle.write(b"a,b\n" + b"1,2\n" * 30_000_000)
    code, out, shown = run_on_terminal(
        [sys.executable, "-m", "shipline", "data", "add", "big.csv"],
        project,
        {**local_cli.env, "COLUMNS": "100"},
    )
    assert code == 0
    assert "added big@v1: 30000000 rows" in out
    assert b"hashing" in shown and b"MB" in shown  # the bar with its byte counter was drawn
    piped = local_cli("data", "add", "big.csv")
    assert "hashing" not in piped.err  # no bar when stderr is not a terminal


def test_drift_between_two_files(local_cli: Cli, project: Path) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"a": rng.normal(0, 1, 3000), "b": rng.choice(["x", "y"], 3000)})
    reference.to_csv(project / "ref.csv", index=False)
    reference.sample(frac=1, random_state=1).to_parquet(project / "same.parquet")
    pd.DataFrame({"a": rng.normal(2, 1, 3000), "b": rng.choice(["x", "y", "z"], 3000)}).to_csv(
        project / "cur.csv", index=False
    )
    drifted = local_cli("drift", "ref.csv", "cur.csv", "--json")
    assert drifted.code == 1
    report = json.loads(drifted.out)
    assert report["dataset_drift"] is True and report["drifted"] == 2
    assert report["columns"][1]["unseen"] == ["z"]
    same = local_cli("drift", "ref.csv", "same.parquet")
    assert same.code == 0 and "0 of 2 columns drifted" in same.out
    reference.head(1).assign(a=9.0).to_csv(project / "one.csv", index=False)
    one = local_cli("drift", "ref.csv", "one.csv", "--json")
    assert one.code == 0, "one row gave a verdict"
    single = json.loads(one.out)
    assert single["dataset_drift"] is False and single["compared"] == 0
    assert single["not_enough_data"] == 2 and single["min_rows"] == 30
    assert single["columns"][0]["note"].startswith("not enough data: 1 current values")
    shown = local_cli("drift", "ref.csv", "one.csv")
    assert "not enough data (each column needs 30 values)" in shown.out
    assert local_cli("drift", "ref.csv", "one.csv", "--min-rows", "1").code == 1
    (project / "empty.csv").write_text("")
    pd.DataFrame({"a": [1.0]}).to_csv(project / "narrow.csv", index=False)
    for args, message in (
        (("ref.csv", "empty.csv"), "file is empty"),
        (("ref.csv", "narrow.csv"), "missing column 'b'"),
        (("ref.csv", "nope.csv"), "expected an existing .csv or .parquet"),
    ):
        result = local_cli("drift", *args)
        assert result.code == 1 and message in result.err, result.err
    psi = json.loads(local_cli("drift", "ref.csv", "cur.csv", "--column", "a=psi:5", "--json").out)
    assert psi["columns"][0]["method"] == "psi" and psi["columns"][0]["threshold"] == 5.0
    for bad in ("a=nope:1", "a", "a=psi:x"):
        result = local_cli("drift", "ref.csv", "cur.csv", "--column", bad)
        assert result.code == 2 and "--column" in result.err, result.err
