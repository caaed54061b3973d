"""deployment.rollout: phases and guardrails per alias, every mistake named at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipline.config import config_digest, load_config
from shipline.config.schema import ModelConfig
from shipline.errors import ConfigError

BASE = """name: m
data: {source: d.csv, target: y}
training:
  task: classification
"""
ISSUE_EXAMPLE = """deployment:
  rollout:
    production:
      shadow: {share: 1.0, duration: 30m}
      canary: {steps: [10, 50, 100], bake: 15m}
      guardrails:
        error_rate: {max: 0.01}
        latency_p99: {max_ratio: 1.5}
        agreement: {min: 0.95}
        prediction_drift: {max_share: 0.0}
        quality: {metric: f1, max_drop: 0.02}
"""


def _load(tmp_path: Path, extra: str) -> ModelConfig:
    path = tmp_path / "shipline.yaml"
    path.write_text(BASE + extra)
    return load_config(path)


def _problems(tmp_path: Path, extra: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, extra)
    return str(caught.value)


def test_the_issue_example_parses(tmp_path: Path) -> None:
    plan = _load(tmp_path, ISSUE_EXAMPLE).deployment.rollout["production"]
    assert plan.shadow is not None and plan.shadow.duration == "30m"
    assert plan.canary is not None and plan.canary.steps == [10, 50, 100]
    guardrails = plan.guardrails
    assert guardrails.agreement is not None and guardrails.agreement.min == 0.95
    assert guardrails.quality is not None and guardrails.quality.metric == "f1"
    assert guardrails.min_requests == 100  # the minimum sample a verdict needs


def test_no_rollout_leaves_the_document_and_its_digest_as_before(tmp_path: Path) -> None:
    plain = _load(tmp_path, "")
    assert "rollout" not in plain.model_dump(mode="json")["deployment"]
    assert config_digest(plain) == config_digest(_load(tmp_path, "deployment: {rollout: {}}\n"))
    assert config_digest(plain) != config_digest(_load(tmp_path, ISSUE_EXAMPLE))


def test_every_mistake_is_named_at_once(tmp_path: Path) -> None:
    shown = _problems(
        tmp_path,
        """deployment:
  rollout:
    production:
      shadow: {share: 1.5, duration: 30x}
      canary: {steps: [10, 5, 90], bake: 15m}
      guardrails:
        latency_p99: {max_ratio: 0.5}
        quality: {metric: f2, max_drop: 0.02}
        agrement: {min: 0.9}
    staging: {}
    "bad alias": {canary: {steps: [100]}}
""",
    )
    assert "8 problems" in shown
    assert "deployment.rollout.production.shadow.duration: expected a duration" in shown
    assert "deployment.rollout.production.shadow.share: expected less than or equal to 1" in shown
    assert "canary.steps: expected rising percentages, got [10, 5, 90]" in shown
    assert "latency_p99.max_ratio: expected greater than or equal to 1" in shown
    assert "guardrails.quality.metric: expected a classification metric" in shown
    assert "unknown key 'agrement'; did you mean 'agreement'?" in shown
    assert "deployment.rollout.staging: give a shadow phase, canary steps, or both" in shown
    assert "bad alias" in shown


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ("[]", "at least 1 item"),
        ("[0, 100]", "from 1 to 100"),
        ("[50, 101]", "from 1 to 100"),
        ("[10, 50]", "the last step must be 100"),
    ],
)
def test_canary_steps_rise_to_100(tmp_path: Path, steps: str, message: str) -> None:
    extra = f"deployment: {{rollout: {{production: {{canary: {{steps: {steps}}}}}}}}}\n"
    assert message in _problems(tmp_path, extra)
