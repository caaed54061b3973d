"""shipline.yaml: every kind of bad input gets a clear, located message and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipline.config import config_digest, load_config, parse_config
from shipline.config.schema import parse_duration
from shipline.errors import ConfigError

VALID = """\
name: churn
owner: data-science
data:
  source: data/churn.csv
  target: churned
  id_column: customer_id
  exclude: [signup_date]
  split: {test_size: 0.2, seed: 42}
  checks: {max_missing: 0.05, min_rows: 500}
training:
  task: classification
  estimator: sklearn.ensemble.HistGradientBoostingClassifier
  params: {max_iter: 200}
evaluation:
  metrics: [roc_auc, f1, accuracy]
  gates:
    - {metric: roc_auc, min: 0.80}
    - {metric: roc_auc, vs: production, max_drop: 0.01}
  bias: {sensitive: [gender], metric: demographic_parity_difference, max: 0.10}
  explain: {method: permutation, top: 10}
deployment:
  approval: {production: manual, staging: auto}
serving:
  capture: {sample: 1.0}
monitoring:
  schedule: "0 * * * *"
  drift: {share: 0.5}
  quality: {metric: roc_auc, min: 0.75}
retraining:
  triggers: [{cron: "0 3 * * 0"}, {new_data: true}, {alarm: drift}, {alarm: quality}]
  cooldown: 6h
"""


def _problems(text: str | bytes, env: dict[str, str] | None = None) -> list[str]:
    raw = text.encode() if isinstance(text, str) else text
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, "shipline.yaml", env or {})
    return [p.render("shipline.yaml") for p in caught.value.problems]


def test_the_design_example_is_valid() -> None:
    config = parse_config(VALID.encode(), environ={})
    assert config.name == "churn"
    assert config.training.params == {"max_iter": 200}
    assert config.evaluation.gates[1].vs == "production"
    assert config.retraining.triggers[1].new_data is True
    assert parse_duration(config.retraining.cooldown or "").total_seconds() == 6 * 3600
    assert config.serving.batching.max_batch_size == 64  # defaults filled in


def test_digest_is_stable_and_sensitive() -> None:
    a = parse_config(VALID.encode(), environ={})
    b = parse_config(VALID.replace("max_iter: 200", "max_iter: 200 ").encode(), environ={})
    c = parse_config(VALID.replace("max_iter: 200", "max_iter: 300").encode(), environ={})
    assert config_digest(a) == config_digest(b) != config_digest(c)


def test_every_problem_is_reported_at_once_with_line_path_and_hint() -> None:
    text = (
        VALID.replace("  target: churned", "  targt: churned")
        .replace("task: classification", "task: classifcation")
        .replace("seed: 42", "seed: forty-two")
        .replace("cooldown: 6h", "cooldown: 6 hours")
    )
    problems = _problems(text)
    assert len(problems) == 5
    assert "shipline.yaml:3: data.target: required key is missing" in problems
    assert "shipline.yaml:5: data.targt: unknown key 'targt'; did you mean 'target'?" in problems
    assert any(
        p.startswith(
            "shipline.yaml:8: data.split.seed: expected a valid integer, found 'forty-two'"
        )
        for p in problems
    )
    assert any("training.task" in p and "did you mean 'classification'?" in p for p in problems)
    assert any("retraining.cooldown" in p and "'6 hours'" in p for p in problems)


def test_unknown_key_without_a_close_match_lists_the_allowed_keys() -> None:
    problems = _problems(VALID + "colour: blue\n")
    assert len(problems) == 1
    assert "unknown key 'colour'; expected one of: name, owner" in problems[0]


def test_metric_names_are_checked_against_the_task() -> None:
    problems = _problems(
        VALID.replace("metrics: [roc_auc, f1, accuracy]", "metrics: [roc_auc, rmse, acuracy]")
    )
    assert any(
        "evaluation.metrics[1]" in p and "expected a classification metric" in p for p in problems
    )
    assert any("evaluation.metrics[2]" in p and "did you mean 'accuracy'?" in p for p in problems)


def test_gate_needs_one_kind_of_rule() -> None:
    problems = _problems(VALID.replace("{metric: roc_auc, min: 0.80}", "{metric: roc_auc}"))
    assert any("evaluation.gates[0]" in p and "either 'min'/'max'" in p for p in problems)


def test_trigger_needs_exactly_one_kind() -> None:
    problems = _problems(VALID.replace("{new_data: true}", "{new_data: true, alarm: drift}"))
    assert any("retraining.triggers[1]" in p and "exactly one" in p for p in problems)


def test_bad_cron_and_name_and_url() -> None:
    text = VALID.replace('"0 3 * * 0"', '"61 3 * * 0"').replace("name: churn", "name: ../churn")
    text += "notifications: {webhook: 'ftp://x'}\n"
    problems = _problems(text)
    assert any("retraining.triggers[0].cron" in p for p in problems)
    assert any(p.startswith("shipline.yaml:1: name:") and "'..'" in p for p in problems)
    assert any("notifications.webhook" in p and "http://" in p for p in problems)


def test_environment_interpolation() -> None:
    text = VALID.replace("data/churn.csv", "${DATA_ROOT}/churn-${STAGE:-dev}.csv")
    config = parse_config(text.encode(), environ={"DATA_ROOT": "/mnt/data"})
    assert config.data.source == "/mnt/data/churn-dev.csv"
    escaped = parse_config(VALID.replace("data-science", "cost-$$5").encode(), environ={})
    assert escaped.owner == "cost-$5"
    problems = _problems(text, env={})
    assert problems == [
        "shipline.yaml:4: data.source: environment variable 'DATA_ROOT' is not set "
        "(write ${DATA_ROOT:-default} to give a default)"
    ]


def test_interpolation_cannot_inject_yaml_structure() -> None:
    text = VALID.replace("owner: data-science", "owner: ${OWNER}")
    config = parse_config(text.encode(), environ={"OWNER": "x\ntraining: {task: regression}"})
    assert config.training.task == "classification"
    assert config.owner == "x\ntraining: {task: regression}"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", "file is empty"),
        (b"   \n\n", "file is empty"),
        (b"# only a comment\n", "holds no document"),
        (b"- a\n- b\n", "expected a mapping of keys at the top, found list"),
        (b"name: x\ndata:\n\tsource: y\n", "shipline.yaml:3: a tab is used for indentation"),
        (b"name: caf\xe9\n", "not valid UTF-8"),
        (b"name: [unclosed\n", "invalid YAML"),
        (b"name: !!python/object/apply:os.system ['echo pwned']\n", "not allowed"),
        (b"name: !!python/name:os.system\n", "not allowed"),
        (b"name: !custom x\n", "not allowed"),
    ],
)
def test_unusable_files(raw: bytes, expected: str) -> None:
    problems = _problems(raw)
    assert len(problems) == 1
    assert expected in problems[0]


def test_utf8_bom_is_accepted() -> None:
    assert parse_config(b"\xef\xbb\xbf" + VALID.encode(), environ={}).name == "churn"


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for index in range(1, 9):
        prev, cur = chr(ord("a") + index - 1), chr(ord("a") + index)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    problems = _problems("\n".join(lines) + "\n")
    assert "alias bomb" in problems[0]


def test_missing_file_directory_and_oversized(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "shipline.yaml", {})
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path, {})
    big = tmp_path / "big.yaml"
    big.write_text("name: x\ndescription: " + "y" * 300_000 + "\n")
    with pytest.raises(ConfigError, match="larger than"):
        load_config(big, {})


def test_wrong_types_name_the_expected_and_found_value() -> None:
    text = VALID.replace("test_size: 0.2", "test_size: 1.5").replace(
        "max_iter: 200}", "max_iter: 200}\n  task2: x"
    )
    problems = _problems(
        text.replace("  task2: x\n", "").replace("exclude: [signup_date]", "exclude: signup_date")
    )
    assert any(
        "data.exclude: expected a valid list, found 'signup_date' (str)" in p for p in problems
    )
    assert any("data.split.test_size: expected less than 1" in p for p in problems)


def test_a_key_given_twice_is_refused_with_both_lines() -> None:
    text = VALID.replace(
        "  approval: {production: manual, staging: auto}\n",
        "  approval:\n    production: manual\n    staging: auto\n    production: auto\n",
    )
    problems = _problems(text)
    assert len(problems) == 1
    line = text.splitlines().index("    production: auto") + 1
    assert problems[0] == (
        f"shipline.yaml:{line}: deployment.approval.production: key given twice (lines "
        f"{line - 2} and {line}); YAML would silently keep the last one: remove one"
    )
    last = len(VALID.splitlines()) + 1
    assert _problems(VALID + "name: other\n") == [
        f"shipline.yaml:{last}: name: key given twice (lines 1 and {last}); YAML would silently "
        "keep the last one: remove one"
    ]


@pytest.mark.parametrize(
    "text",
    ["x: " + "[" * 5000 + "]" * 5000, "a:\n" + "".join(" " * i + "- \n" for i in range(1, 300))],
    ids=["flow", "block"],
)
def test_deep_nesting_is_a_config_error_with_a_line(text: str) -> None:
    problems = _problems(text)
    assert len(problems) == 1 and "nested deeper than 50 levels" in problems[0]
    assert problems[0].startswith("shipline.yaml:")


def test_fifo_and_devices_are_refused_at_once(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "shipline.yaml"
    os.mkfifo(fifo)  # nobody writes to it: reading would block forever
    with pytest.raises(ConfigError, match="is not a regular file"):
        load_config(fifo)
    with pytest.raises(ConfigError, match="is not a regular file"):
        load_config(Path("/dev/zero"))
