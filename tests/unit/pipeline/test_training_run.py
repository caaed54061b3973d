"""The pipeline through the Python API: caching, gates, lineage, failures, resume."""

from __future__ import annotations

import pandas as pd
import pytest

from shipline.audit import list_events, verify_chain
from shipline.errors import ConflictError, DigestMismatchError, UsageError
from shipline.pipeline.cache_explanation import explain_step
from shipline.project import Project
from tests.unit.pipeline.conftest import edit_config


def _statuses(run) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {s.step: s.status for s in run.steps}


def test_first_run_trains_gates_registers_and_stages(project: Project) -> None:
    run = project.run()
    assert run.status == "succeeded", run.error
    assert set(_statuses(run).values()) == {"succeeded"}
    assert run.metrics["roc_auc"] > 0.95
    version = project.version("cancer@staging")
    assert (version.version, version.run_id, version.created_by) == (1, run.id, "alice")
    lineage = version.details["lineage"]
    assert lineage["dataset"] == "cancer@v1" and lineage["config_digest"] == run.config_digest
    assert lineage["environment"]["packages"]["scikit-learn"]
    assert "git_commit" in lineage and "git_dirty" in lineage
    assert [c["name"] for c in version.details["signature"]["inputs"]][:2] == [
        "mean radius",
        "mean texture",
    ]
    assert "sample_id" not in {c["name"] for c in version.details["signature"]["inputs"]}
    assert version.details["explain"]["features"], "explanations were computed"
    actions = [e.action for e in list_events(project.db(), limit=1000)]
    assert "model.version.register" in actions and "model.alias.promote" in actions
    assert verify_chain(project.db()).ok


def test_second_run_reuses_every_step(project: Project) -> None:
    first = project.run()
    second = project.run()
    assert second.status == "succeeded"
    assert [s.status for s in second.steps] == ["cached"] * 7
    assert {s.cached_from for s in second.steps} == {first.id}
    assert second.model_version == first.model_version == 1
    assert len(project.versions("cancer")) == 1


def test_an_unchanged_rerun_does_not_move_aliases_back(project: Project) -> None:
    project.run()
    edit_config(project, "max_iter: 200", "max_iter: 120")
    project.run()  # version 2 takes staging
    project.rollback("cancer", "staging", "version 2 misbehaves")
    edit_config(project, "max_iter: 120", "max_iter: 200")
    again = project.run()  # identical to run 1: everything cached, staging stays on 1
    assert [s.status for s in again.steps] == ["cached"] * 7
    assert project.version("cancer@staging").version == 1


def test_forced_retraining_on_the_same_inputs_gives_the_same_version(project: Project) -> None:
    first = project.run()
    again = project.run(force=frozenset({"train"}))
    assert _statuses(again)["train"] == "succeeded"
    train_outputs = [
        next(s for s in r.steps if s.step == "train").outputs["model"] for r in (first, again)
    ]
    assert train_outputs[0] == train_outputs[1], "same data and config, different bundle bytes"
    assert again.model_version == first.model_version == 1
    assert project.version("cancer:1").details["seed"] == 42


def test_editing_the_data_reruns_ingest_and_same_bytes_keep_the_version(project: Project) -> None:
    first = project.run()
    source = project.settings.project_dir / "data" / "breast_cancer.csv"
    source.write_bytes(source.read_bytes())  # touched: new mtime, same bytes
    touched = project.run()
    assert _statuses(touched)["ingest"] == "succeeded"
    assert [s.status for s in touched.steps[1:]] == ["cached"] * 6
    assert touched.model_version == first.model_version


def test_changing_a_param_reruns_only_train_and_later(project: Project) -> None:
    project.run()
    edit_config(project, "max_iter: 200", "max_iter: 120")
    third = project.run()
    statuses = _statuses(third)
    assert (statuses["validate"], statuses["split"]) == ("cached", "cached")
    assert (statuses["train"], statuses["evaluate"], statuses["gate"]) == ("succeeded",) * 3
    answer = explain_step(project.db(), third.id, "train")
    assert {"part": "config", "key": "training.params.max_iter"} in answer["changed"]
    assert "differs from run" in answer["reason"]
    assert explain_step(project.db(), third.id, "split")["reason"].startswith(
        "reused the outputs of run"
    )


def test_force_reruns_the_named_step(project: Project) -> None:
    project.run()
    forced = project.run(force=frozenset({"split"}))
    assert _statuses(forced)["split"] == "succeeded"
    assert explain_step(project.db(), forced.id, "split")["reason"].startswith(
        "ran because it was forced"
    )
    with pytest.raises(UsageError, match="no step 'trian'"):
        project.run(force=frozenset({"trian"}))


def test_a_failed_gate_rejects_and_registers_nothing(project: Project) -> None:
    edit_config(project, "{metric: roc_auc, min: 0.90}", "{metric: roc_auc, min: 0.9999}")
    run = project.run()
    assert run.status == "rejected"
    assert _statuses(run)["gate"] == "rejected" and "register" not in _statuses(run)
    assert project.versions() == []
    gate = next(s for s in run.steps if s.step == "gate")
    assert project.store().exists(gate.outputs["gate"])  # the verdict stays inspectable
    model = next(s for s in run.steps if s.step == "train")
    assert project.store().exists(model.outputs["model"])  # and so does the candidate


def test_champion_challenger_against_production(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.unit.pipeline.conftest import open_as

    champion = project.run()
    approval = project.promote("cancer", champion.model_version or 0, "production").approval
    assert approval is not None
    reviewer = open_as(project.settings.project_dir, "bob", monkeypatch)
    reviewer.approve(approval.id)
    edit_config(
        project,
        "sklearn.ensemble.HistGradientBoostingClassifier",
        "sklearn.tree.DecisionTreeClassifier",
    )
    edit_config(project, "params: {max_iter: 200, learning_rate: 0.1}", "params: {max_depth: 1}")
    edit_config(project, "{metric: roc_auc, min: 0.90}", "{metric: roc_auc, min: 0.5}")
    challenger = open_as(project.settings.project_dir, "alice", monkeypatch).run()
    assert challenger.status == "rejected"
    gate = next(s for s in challenger.steps if s.step == "gate")
    from shipline.pipeline.step import decode

    rules = decode("json", project.store(), gate.outputs["gate"])["rules"]
    failed = [r for r in rules if not r["passed"]]
    assert len(failed) == 1 and failed[0]["vs"] == "production" and failed[0]["drop"] > 0.01


def test_bad_estimator_and_params_fail_the_run_naming_them(project: Project) -> None:
    edit_config(project, "HistGradientBoostingClassifier", "HistGradientBoostingClasifier")
    run = project.run()
    assert (
        run.status == "failed"
        and "did you mean sklearn.ensemble.HistGradientBoostingClassifier" in (run.error or "")
    )
    edit_config(project, "HistGradientBoostingClasifier", "HistGradientBoostingClassifier")
    edit_config(project, "max_iter: 200", "max_iterations: 200")
    run = project.run()
    assert run.status == "failed" and "training.params.max_iterations" in (run.error or "")
    assert "did you mean 'max_iter'" in (run.error or "")


@pytest.mark.parametrize(
    "estimator",
    ["os.system", "subprocess.Popen", "builtins.eval", "sklearn.pipeline.make_pipeline"],
)
def test_estimator_must_be_an_estimator_class_and_is_never_called_otherwise(
    project: Project, estimator: str
) -> None:
    marker = project.settings.project_dir / "pwned"
    edit_config(
        project,
        "  estimator: sklearn.ensemble.HistGradientBoostingClassifier\n"
        "  params: {max_iter: 200, learning_rate: 0.1}\n",
        f"  estimator: {estimator}\n  params: {{command: 'touch {marker}', args: 'x'}}\n",
    )
    run = project.run()
    assert run.status == "failed"
    assert f"training.estimator: {estimator} is" in (run.error or "")
    assert "not a scikit-learn-compatible estimator class" in (run.error or "")
    assert not marker.exists(), "the configured callable was called"


def test_an_entrypoint_that_raises_stores_its_traceback_and_resume_continues(
    project: Project,
) -> None:
    folder = project.settings.project_dir
    (folder / "train.py").write_text(
        "from pathlib import Path\n"
        "from sklearn.linear_model import LogisticRegression\n\n"
        "def train(frame, config):\n"
        "    if not Path(__file__).with_name('ready').exists():\n"
        "        raise RuntimeError('feature store unavailable')\n"
        "    x = frame.drop(columns=[config.data.target, config.data.id_column])\n"
        "    return LogisticRegression(max_iter=5000).fit(x, frame[config.data.target])\n"
    )
    edit_config(
        project,
        "  estimator: sklearn.ensemble.HistGradientBoostingClassifier\n"
        "  params: {max_iter: 200, learning_rate: 0.1}\n",
        "  entrypoint: train.py:train\n",
    )
    failed = project.run()
    assert failed.status == "failed"
    train = next(s for s in failed.steps if s.step == "train")
    assert train.status == "failed" and "RuntimeError: feature store unavailable" in (
        train.error or ""
    )
    assert "Traceback" in (train.error or "") and "train.py" in (train.error or "")
    (folder / "ready").write_text("")
    resumed = project.run(resume=failed.id)
    assert resumed.status == "succeeded" and resumed.resumed_from == failed.id
    assert _statuses(resumed)["split"] == "cached" and _statuses(resumed)["train"] == "succeeded"
    with pytest.raises(ConflictError, match="nothing to resume"):
        project.run(resume=resumed.id)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda f: f.drop(columns=["benign"]), "target column 'benign' is not in the data"),
        (lambda f: f.assign(benign=1), "found 1 class(es)"),
        (
            lambda f: f.assign(**{"mean radius": float("nan")}),
            "mean radius: not_empty: every value is missing",
        ),
    ],
    ids=["target-missing", "one-class", "all-nan-feature"],
)
def test_bad_data_fails_validation_naming_column_and_rule(  # type: ignore[no-untyped-def]
    project: Project, change, expected: str
) -> None:
    path = project.settings.project_dir / "data" / "breast_cancer.csv"
    change(pd.read_csv(path)).to_csv(path, index=False)
    run = project.run()
    assert run.status == "failed" and _statuses(run)["validate"] == "failed"
    assert "split" not in _statuses(run)
    from shipline.pipeline.step import decode

    validation = next(s for s in run.steps if s.step == "validate")
    problems = decode("json", project.store(), validation.outputs["validation"])["problems"]
    assert any(expected in f"{p['column']}: {p['rule']}: {p['message']}" for p in problems), (
        problems
    )


def test_schema_change_against_the_last_accepted_version(project: Project) -> None:
    assert project.run().status == "succeeded"
    path = project.settings.project_dir / "data" / "breast_cancer.csv"
    pd.read_csv(path).drop(columns=["worst area"]).to_csv(path, index=False)
    run = project.run()
    assert run.status == "failed"
    from shipline.pipeline.step import decode

    validation = next(s for s in run.steps if s.step == "validate")
    problems = decode("json", project.store(), validation.outputs["validation"])["problems"]
    assert {
        "column": "worst area",
        "rule": "schema",
        "message": "column disappeared since the last accepted version (exclude it in "
        "data.exclude, or accept the change: shipline data accept DATASET@vN)",
    } in problems


def test_a_model_is_loaded_only_when_its_bytes_match(project: Project) -> None:
    run = project.run()
    bundle = project.load_model(f"cancer:{run.model_version}")
    assert bundle.task == "classification" and hasattr(bundle.model, "predict_proba")
    location = project.store().object_path(project.version("cancer:1").bundle_digest)
    with open(location, "r+b") as handle:
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(DigestMismatchError):
        project.load_model("cancer:1")


def test_only_blobs_recorded_as_models_reach_the_model_loader(project: Project) -> None:
    import pickle

    from shipline.errors import NotAModelError
    from shipline.pipeline.step import decode
    from shipline.registry import register_version
    from shipline.store.blob_kinds import has_kind, record_kinds

    run = project.run()
    marker = project.settings.project_dir / "pwned"

    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (marker.write_text, ("x",))

    evil = project.store().put_bytes(pickle.dumps(Evil())).digest
    with project.db().write("mallory") as tx:
        record_kinds(tx.conn, {evil: "dataset"})  # stored as data, as `data add` records it
    with pytest.raises(NotAModelError, match="not recorded as a model bundle"):
        decode("model", project.store(), evil, project.db())
    with pytest.raises(NotAModelError), project.db().write("mallory") as tx:
        register_version(tx, "cancer", run.id, evil, evil, {})
    assert not marker.exists(), "the pickle was loaded"
    bundle = next(s for s in run.steps if s.step == "train").outputs["model"]
    with project.db().read() as conn:
        assert has_kind(conn, bundle, "model")
    assert decode("model", project.store(), bundle, project.db()).task == "classification"
