"""Cache keys cover the code that runs: shipline itself, an entrypoint and the modules it
imports, ``training.deps`` files, watched environment files. Digests are pinned, as DVC pins
its hashes, so a change to how keys are computed is a deliberate, visible one."""

from __future__ import annotations

from pathlib import Path

import pytest

import shipline
from shipline.errors import UsageError
from shipline.pipeline import runner
from shipline.pipeline.cache_explanation import explain_step
from shipline.pipeline.code_fingerprint import (
    _tree_digest,
    deps_digests,
    entrypoint_files,
    file_digests,
    package_digest,
)
from shipline.pipeline.step import cache_key
from shipline.project import Project
from tests.unit.pipeline.conftest import edit_config


def _statuses(run) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {s.step: s.status for s in run.steps}


def test_pinned_digests() -> None:
    parts = {
        "step": "train",
        "code": {"step": "a" * 64, "shipline": "b" * 64},
        "config": {"training": {"params": {"max_iter": 200}}},
        "inputs": {"train": "c" * 64},
        "environment": "d" * 64,
        "facts": {"deps": {"lookup.csv": "e" * 64}},
    }
    assert cache_key(parts) == "13c485c91ba36d645dd5491f3696a0de4697f180f3cc26bd21979ad1af61dfb5"


def test_pinned_file_and_tree_digests(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_bytes(b"x = 1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.py").write_bytes(b"y = 2\n")
    files = [tmp_path / "a.py", tmp_path / "sub" / "b.py"]
    assert file_digests(tmp_path, files) == {
        "a.py": "3ceae248eacaf486357192011806a5bf7ebc58462f64e88fa1ddffd9be3cda4b",
        "sub/b.py": "ba31bad797c8b6c2e85c68a33dfb78cafd558c7d712c3d8904015506a01b9f9b",
    }
    assert _tree_digest(tmp_path, files) == (
        "103a4cfac030c64494402413a034241dd77ec65aff0bbb1bdfb550664346837f"
    )


def test_package_digest_covers_every_shipline_source_file(tmp_path: Path) -> None:
    root = Path(shipline.__file__).parent
    files = sorted(root.rglob("*.py"))
    assert any(f.name == "estimator.py" for f in files)
    assert package_digest() == _tree_digest(root, files)
    copy = tmp_path / "shipline"
    for f in files:
        (copy / f.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
        (copy / f.relative_to(root)).write_bytes(f.read_bytes())
    edited = copy / "training" / "estimator.py"
    edited.write_bytes(edited.read_bytes() + b"\n# an edit\n")
    copied = sorted(copy.rglob("*.py"))
    assert _tree_digest(copy, copied) != package_digest()


def test_a_change_to_shipline_itself_reruns_every_step(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.run()
    monkeypatch.setattr(runner, "package_digest", lambda: "0" * 64)  # as after an upgrade
    again = project.run()
    assert set(_statuses(again).values()) == {"succeeded"}
    changed = explain_step(project.db(), again.id, "train")["changed"]
    assert {"part": "code", "key": "shipline"} in changed


def test_entrypoint_imports_and_deps_enter_the_train_key(project: Project) -> None:
    folder = project.settings.project_dir
    (folder / "features").mkdir()
    (folder / "features" / "__init__.py").write_text("")
    (folder / "features" / "scaling.py").write_text("FACTOR = 1.0\n")
    (folder / "model_helpers.py").write_text("from features.scaling import FACTOR\n")
    (folder / "train.py").write_text(
        "import json\n"
        "from pathlib import Path\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "import model_helpers\n\n"
        "def train(frame, config):\n"
        "    c = json.loads(Path(__file__).with_name('settings.json').read_text())['C']\n"
        "    x = frame.drop(columns=[config.data.target, config.data.id_column])\n"
        "    return LogisticRegression(C=c, max_iter=5000).fit(x, frame[config.data.target])\n"
    )
    (folder / "settings.json").write_text('{"C": 1.0}')
    edit_config(
        project,
        "  estimator: sklearn.ensemble.HistGradientBoostingClassifier\n"
        "  params: {max_iter: 200, learning_rate: 0.1}\n",
        "  entrypoint: train.py:train\n  deps: ['*.json']\n",
    )
    assert entrypoint_files(folder, folder / "train.py") == sorted(
        p.resolve()
        for p in (
            folder / "train.py",
            folder / "model_helpers.py",
            folder / "features" / "__init__.py",
            folder / "features" / "scaling.py",
        )
    )
    first = project.run()
    assert first.status == "succeeded", first.error
    assert _statuses(project.run())["train"] == "cached"

    # A module imported two levels down changes: train reruns and says why.
    (folder / "features" / "scaling.py").write_text("FACTOR = 2.0\n")
    rerun = project.run()
    assert _statuses(rerun)["train"] == "succeeded"
    changed = explain_step(project.db(), rerun.id, "train")["changed"]
    assert {"part": "facts", "key": "entrypoint.features/scaling.py"} in changed

    # A data file the training code loads, named in deps.
    (folder / "settings.json").write_text('{"C": 0.5}')
    rerun = project.run()
    assert _statuses(rerun)["train"] == "succeeded"
    changed = explain_step(project.db(), rerun.id, "train")["changed"]
    assert {"part": "facts", "key": "deps.settings.json"} in changed


def test_deps_that_match_nothing_or_leave_the_project_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    assert set(deps_digests(tmp_path, ["*.txt"])) == {"a.txt"}
    with pytest.raises(UsageError, match=r"training.deps: '\*.csv' matches no file"):
        deps_digests(tmp_path, ["*.csv"])
    outside = tmp_path.parent / f"{tmp_path.name}-secret.txt"
    outside.write_text("s")
    (tmp_path / "link.txt").symlink_to(outside)
    with pytest.raises(UsageError, match="outside the project folder"):
        deps_digests(tmp_path, ["link.txt"])


def test_a_changed_environment_file_retrains(project: Project) -> None:
    folder = project.settings.project_dir
    (folder / "requirements.lock").write_text("scikit-learn==1.7.2\n")
    edit_config(
        project,
        "deployment:",
        "retraining:\n  triggers: [{environment: requirements.lock}]\ndeployment:",
    )
    first = project.run()
    assert _statuses(project.run())["train"] == "cached"
    (folder / "requirements.lock").write_text("scikit-learn==1.8.0\n")
    again = project.run()
    assert _statuses(again)["train"] == "succeeded"
    changed = explain_step(project.db(), again.id, "train")["changed"]
    assert {"part": "facts", "key": "environment_files.requirements.lock"} in changed
    assert first.status == again.status == "succeeded"
