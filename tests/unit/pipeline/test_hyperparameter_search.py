"""training.search: every trial on the run, the best by the configured metric refitted and
registered; the same result with the same seed."""

from __future__ import annotations

import io

import joblib
import pytest

from shipline.project import Project
from shipline.scaffold import create_project
from shipline.training.bundle import canonical_dump
from tests.unit.pipeline.conftest import edit_config, open_as

GRID = """  estimator: sklearn.ensemble.RandomForestClassifier
  params: {n_estimators: 20}
  search:
    method: grid
    params: {max_depth: [1, 3, 6], min_samples_leaf: [1, 20]}
    cv: 3
    metric: f1
"""


def test_a_grid_search_records_every_trial_and_keeps_the_best(project: Project) -> None:
    edit_config(
        project,
        "  estimator: sklearn.ensemble.HistGradientBoostingClassifier\n"
        "  params: {max_iter: 200, learning_rate: 0.1}\n",
        GRID,
    )
    run = project.run()
    assert run.status == "succeeded", run.error
    search = project.search_report(run.id)
    assert search is not None
    trials = search["trials"]
    assert len(trials) == 6
    assert {(t["params"]["max_depth"], t["params"]["min_samples_leaf"]) for t in trials} == {
        (d, leaf) for d in (1, 3, 6) for leaf in (1, 20)
    }
    assert all(t["fit_seconds"] > 0 and 0 <= t["score"] <= 1 for t in trials)
    best = max(trials, key=lambda t: t["score"])
    assert search["best"]["score"] == best["score"] and best["rank"] == 1
    model = project.load_model("cancer:1").estimator
    chosen = model.named_steps["model"].get_params()
    assert chosen["max_depth"] == search["best"]["params"]["max_depth"]
    assert chosen["min_samples_leaf"] == search["best"]["params"]["min_samples_leaf"]
    details = project.version("cancer:1").details["search"]
    assert details["trials"] == 6 and details["best"] == search["best"]
    # Same data, same seed: the same trials and the same version.
    again = project.run(force=frozenset({"train"}))
    assert again.model_version == 1
    repeated = project.search_report(again.id)
    assert repeated is not None

    def outcome(report: list[dict[str, object]]) -> list[tuple[object, ...]]:
        return [(t["params"], t["score"], t["rank"]) for t in report]

    assert outcome(repeated["trials"]) == outcome(trials)


def test_a_metric_where_lower_is_better_picks_the_lowest(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "houses"  # type: ignore[operator]
    create_project(folder, "regression")
    with open_as(folder, "alice", monkeypatch) as project:
        path = project.settings.config_path
        text = path.read_text()
        start = text.index("  estimator:")
        end = text.index("\n", text.index("  params:", start)) + 1
        path.write_text(
            text[:start]
            + "  estimator: sklearn.tree.DecisionTreeRegressor\n"
            + "  search: {method: random, params: {max_depth: [1, 2, 4, 8]}, n_iter: 10,"
            + " cv: 3, metric: rmse}\n"
            + text[end:]
        )
        run = project.run()
        assert run.status == "succeeded", run.error
        search = project.search_report(run.id)
        assert search is not None
        # Ten draws from four values: the four values, each once.
        assert sorted(t["params"]["max_depth"] for t in search["trials"]) == [1, 2, 4, 8]
        assert search["best"]["score"] == min(t["score"] for t in search["trials"])


def test_an_unknown_search_parameter_is_named_with_a_suggestion(project: Project) -> None:
    edit_config(
        project,
        "  params: {max_iter: 200, learning_rate: 0.1}\n",
        "  search: {method: grid, params: {max_iters: [10, 20]}, metric: f1}\n",
    )
    run = project.run()
    assert run.status == "failed"
    assert "training.search.params.max_iters" in (run.error or "")
    assert "did you mean 'max_iter'" in (run.error or "")


def test_a_bundle_depends_on_contents_not_on_shared_objects() -> None:
    # The same values, one with a shared string and one with two equal strings.
    shared = "feature"
    first = {"a": [shared, shared], "b": (shared,)}
    second = {"a": ["feat" + "ure", "".join(["fea", "ture"])], "b": ("f" + "eature",)}
    assert first == second
    assert canonical_dump(first) == canonical_dump(second)
    assert joblib.load(io.BytesIO(canonical_dump(second))) == first
