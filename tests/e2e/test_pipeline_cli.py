"""The pipeline and registry through the CLI, in fresh projects, as the README shows them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import Cli

ROOT = Path(__file__).resolve().parents[2]


def test_init_run_stage_cache_approve(cli: Cli, project: Path) -> None:
    """The main job on each backend pair: SQLite + local files, PostgreSQL + S3."""
    cli("init", ".", check=True)
    first = cli("run", check=True)
    assert "registered cancer:1" in first.out
    second = json.loads(cli("run", "--json", check=True).out)
    assert [s["status"] for s in second["steps"]] == ["cached"] * 7
    staged = json.loads(cli("models", "show", "cancer@staging", "--json", check=True).out)
    assert staged["version"] == 1 and staged["lineage"]["run"] == 1
    opened = cli("promote", "cancer", "1", "--to", "production", check=True)
    assert "approval 1 opened" in opened.out
    own = cli("approve", "1")  # alice trained it
    assert own.code == 1 and "four-eyes" in own.err
    cli("approve", "1", user="bob", check=True)
    production = json.loads(cli("models", "show", "cancer@production", "--json", check=True).out)
    assert production["version"] == 1 and set(production["aliases"]) == {"production", "staging"}
    history = json.loads(cli("models", "history", "cancer", "--json", check=True).out)
    assert [(h["alias"], h["kind"], h["actor"]) for h in history] == [
        ("staging", "promote", "alice"),
        ("production", "approval", "bob"),
    ]
    assert json.loads(cli("audit", "verify", "--json", check=True).out)["ok"]


def test_regression_project(local_cli: Cli) -> None:
    local_cli("init", ".", "--task", "regression", check=True)
    result = local_cli("run", check=True)
    assert "registered diabetes:1" in result.out and "r2=" in result.out


def test_the_readme_wine_example_works_as_written(local_cli: Cli, project: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("<!-- example: wine-regression -->", 1)[1]
    shell, config = re.findall(r"```(?:bash|yaml)\n(.*?)```", section, re.DOTALL)[:2]
    command = next(line for line in shell.splitlines() if line.startswith("python -c"))
    (project / "wine" / "data").mkdir(parents=True)
    code = command.removeprefix("python -c ").strip().strip('"')
    subprocess.run([sys.executable, "-c", code], cwd=project / "wine", check=True)
    (project / "wine" / "shipline.yaml").write_text(config)
    wine = Cli(project / "wine", local_cli.env)
    assert wine("validate").code == 0
    result = wine("run", check=True)
    assert "registered wine-alcohol:1" in result.out


def test_rejected_and_failed_runs_exit_1_with_the_reason(local_cli: Cli, project: Path) -> None:
    local_cli("init", ".", check=True)
    config = project / "shipline.yaml"
    config.write_text(config.read_text().replace("min: 0.90", "min: 0.9999"))
    rejected = local_cli("run")
    assert rejected.code == 1
    assert "rejected" in rejected.err and "failed gate: roc_auc >= 0.9999" in rejected.err
    shown_rejected = local_cli("runs", "show", "1", check=True).out
    assert "failed gate: roc_auc >= 0.9999" in shown_rejected
    steps = json.loads(local_cli("runs", "show", "1", "--json", check=True).out)["steps"]
    assert {s["step"]: s["status"] for s in steps}["gate"] == "rejected"
    assert json.loads(local_cli("models", "list", "--json").out) == []
    config.write_text(
        config.read_text().replace("HistGradientBoostingClassifier", "HistGradientBoosting")
    )
    failed = local_cli("run")
    assert failed.code == 1 and "has no 'HistGradientBoosting'" in failed.err
    shown = json.loads(local_cli("runs", "show", "2", "--json", check=True).out)
    assert shown["status"] == "failed" and "Traceback" in shown["steps"][3]["error"]


def test_runs_compare_and_cache_explain(local_cli: Cli, project: Path) -> None:
    local_cli("init", ".", check=True)
    local_cli("run", check=True)
    config = project / "shipline.yaml"
    config.write_text(config.read_text().replace("learning_rate: 0.1", "learning_rate: 0.2"))
    local_cli("run", check=True)
    compared = json.loads(local_cli("runs", "compare", "1", "2", "--json", check=True).out)
    assert compared["params"]["learning_rate"] == {"a": 0.1, "b": 0.2}
    assert compared["config_changed"] is True and "roc_auc" in compared["metrics"]
    explained = local_cli("cache", "explain", "2", "train", check=True).out
    assert "differs from run 1" in explained and "training.params.learning_rate" in explained
    listed = json.loads(local_cli("runs", "list", "--json", check=True).out)
    assert [r["id"] for r in listed] == [2, 1]
    card = local_cli("models", "card", "cancer:2", check=True).out
    assert card.startswith("# Model card: cancer") and "roc_auc" in card
    assert local_cli("cache", "explain", "2", "nosuchstep").code == 1
    assert local_cli("run", "train").code == 2  # a step name without --force


def test_the_churn_example_retrains_on_its_update_once_the_schema_change_is_accepted(
    local_cli: Cli, project: Path
) -> None:
    shutil.copytree(ROOT / "examples" / "churn", project, dirs_exist_ok=True)
    first = local_cli("run")
    assert first.code == 0, first.err
    shutil.copy(project / "updates" / "churn.csv", project / "data" / "churn.csv")
    refused = local_cli("run")
    assert refused.code == 1
    assert "contract: schema: new column since the last accepted version" in refused.err
    assert "shipline data accept" in refused.err
    shown = local_cli("runs", "show", "2", check=True).out
    assert "contract: schema: new column" in shown

    missing_reason = local_cli("data", "accept", "churn@v2", "--reason", " ")
    assert missing_reason.code == 2 and "--reason" in missing_reason.err
    accepted = local_cli("data", "accept", "churn@v2", "--reason", "contract type now collected")
    assert accepted.code == 0 and "accepted the schema of churn@v2" in accepted.out
    retrained = local_cli("run", "--json")
    assert json.loads(retrained.out)["status"] == "succeeded", retrained.err
    assert "contract" in {
        c["name"]
        for c in json.loads(local_cli("models", "show", "churn:2", "--json", check=True).out)[
            "signature"
        ]["inputs"]
    }
    events = json.loads(
        local_cli("audit", "log", "--action", "dataset.schema.accept", "--json", check=True).out
    )
    assert [(e["actor"], e["after"]["reason"]) for e in events] == [
        ("alice", "contract type now collected")
    ]


def test_excluded_columns_are_not_schema_changes(local_cli: Cli, project: Path) -> None:
    shutil.copytree(ROOT / "examples" / "churn", project, dirs_exist_ok=True)
    assert local_cli("run").code == 0
    shutil.copy(project / "updates" / "churn.csv", project / "data" / "churn.csv")
    config = project / "shipline.yaml"
    config.write_text(
        config.read_text().replace("  id_column:", "  exclude: [contract]\n  id_column:")
    )
    again = local_cli("run")
    assert again.code == 0, again.err


def test_probabilities_of_a_regression_model_are_refused(local_cli: Cli, project: Path) -> None:
    local_cli("init", ".", "--task", "regression", check=True)
    local_cli("run", check=True)
    result = local_cli(
        "predict",
        "diabetes@staging",
        "--input",
        "data/diabetes.csv",
        "--output",
        "out.csv",
        "--probabilities",
    )
    assert result.code == 2 and "is a regression model" in result.err
    assert not (project / "out.csv").exists()


def test_reports_are_written_with_the_umask_mode(local_cli: Cli, project: Path) -> None:
    import pandas as pd

    pd.DataFrame({"a": [float(i) for i in range(100)]}).to_csv(project / "a.csv", index=False)
    result = subprocess.run(
        ["sh", "-c", f"umask 022 && {sys.executable} -m shipline drift a.csv a.csv --html r.html"],
        cwd=project,
        env=local_cli.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (project / "r.html").stat().st_mode & 0o777 == 0o644


def test_audit_verify_catches_state_the_chain_does_not_vouch_for(
    local_cli: Cli, project: Path, tmp_path: Path
) -> None:
    import sqlite3

    local_cli("init", ".", check=True)
    local_cli("run", check=True)
    config = project / "shipline.yaml"
    config.write_text(config.read_text().replace("max_iter: 200", "max_iter: 50"))
    local_cli("run", check=True)  # version 2 takes staging
    local_cli("promote", "cancer", "1", "--to", "production", check=True)  # approval 1
    assert local_cli("audit", "verify").code == 0
    saved = local_cli("audit", "checkpoint", "--output", str(tmp_path / "head.json"), check=True)
    assert "checkpoint: row" in saved.out

    # A read-only copy (file and folder) verifies without writing anything.
    archive = tmp_path / "archive"
    archive.mkdir()
    database = project / ".shipline" / "shipline.db"
    source, copy = sqlite3.connect(database), sqlite3.connect(archive / "copy.db")
    source.backup(copy)
    copy.execute("PRAGMA journal_mode=DELETE")  # a standalone file, as archived
    source.close()
    copy.close()
    before = sorted(p.name for p in archive.iterdir())
    (archive / "copy.db").chmod(0o444)
    archive.chmod(0o555)
    try:
        copied = Cli(project, {**local_cli.env, "SHIPLINE_DB": f"sqlite:///{archive / 'copy.db'}"})
        result = copied("audit", "verify", "--checkpoint", str(tmp_path / "head.json"))
        assert result.code == 0, result.err
        assert sorted(p.name for p in archive.iterdir()) == before == ["copy.db"]
    finally:
        archive.chmod(0o755)

    # One UPDATE moves production with no approval and no event.
    with sqlite3.connect(database) as conn:
        conn.execute(
            "INSERT INTO aliases (model_id, alias, version_id, updated_at, updated_by) "
            "SELECT model_id, 'production', id, '2026-01-01T00:00:00Z', 'mallory' "
            "FROM model_versions WHERE version = 2"
        )
        conn.execute("UPDATE approvals SET status = 'approved' WHERE id = 1")
    moved = local_cli("audit", "verify")
    assert moved.code == 1
    assert "alias cancer@production is version 2 in the tables with no audit event" in moved.err, (
        moved.err
    )
    assert "approval #1 is approved in the tables, pending in the audit chain" in moved.err
    with sqlite3.connect(database) as conn:
        conn.execute("DELETE FROM aliases WHERE alias = 'production'")
        conn.execute("UPDATE approvals SET status = 'pending' WHERE id = 1")
    assert local_cli("audit", "verify").code == 0

    # Cutting off the newest rows keeps the chain consistent, but not the checkpoint.
    local_cli("approve", "1", user="bob", check=True)
    local_cli("audit", "checkpoint", "--output", str(tmp_path / "later.json"), check=True)
    with sqlite3.connect(database) as conn:
        conn.execute("DROP TRIGGER audit_events_no_delete")
        conn.execute("DELETE FROM audit_events WHERE seq = (SELECT MAX(seq) FROM audit_events)")
    cut = local_cli("audit", "verify", "--checkpoint", str(tmp_path / "later.json"))
    assert cut.code == 1 and "the chain was cut off after it" in cut.err
