"""Build the model to train: automatic preprocessing plus an estimator by dotted path, or a
bring-your-own training function from the project (``entrypoint: train.py:train``)."""

from __future__ import annotations

__all__ = ["TrainingError", "feature_columns", "train_model"]

import contextlib
import difflib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from shipline.config.schema import ModelConfig
from shipline.errors import ShiplineError
from shipline.training.model_flavour import (
    GENERIC_FLAVOUR,
    MODEL_FLAVOURS,
    ModelFlavour,
    flavour_for,
)

_DEFAULTS = {
    "classification": "sklearn.ensemble.HistGradientBoostingClassifier",
    "regression": "sklearn.ensemble.HistGradientBoostingRegressor",
}
# Estimators whose fit is insensitive to feature scale: no scaler in front of them.
_SCALE_FREE = ("sklearn.ensemble", "sklearn.tree", "xgboost", "lightgbm", "catboost")


class TrainingError(ShiplineError):
    """The training configuration or the training code cannot produce a model."""


def feature_columns(config: ModelConfig, columns: list[str]) -> list[str]:
    """The columns the model learns from: all but the target, id column and excluded ones."""
    dropped = {config.data.target, *config.data.exclude}
    if config.data.id_column:
        dropped.add(config.data.id_column)
    return [c for c in columns if c not in dropped]


Fit = Callable[[Any, pd.DataFrame, pd.Series], Any]


def train_model(
    config: ModelConfig, train: pd.DataFrame, project_dir: Path, fit: Fit | None = None
) -> tuple[Any, ModelFlavour]:
    """Fit the model on the training frame: the model and the flavour that claims it.

    ``fit(model, x, y)`` replaces the plain ``model.fit(x, y)`` of a configured estimator (a
    hyperparameter search returns the refitted best model).
    """
    if not config.training.entrypoint:
        return _fit_estimator(config, train, fit), MODEL_FLAVOURS.get(GENERIC_FLAVOUR)
    _seed_global_generators(config.data.split.seed)
    model = _train_entrypoint(config, train, project_dir)
    flavour = flavour_for(model)
    if flavour is None:
        raise TrainingError(
            f"training.entrypoint: {config.training.entrypoint} returned "
            f"{type(model).__name__}, expected a fitted estimator with predict() or a model "
            f"of an installed flavour ({', '.join(MODEL_FLAVOURS.names())})"
        )
    return model, flavour


def _fit_estimator(config: ModelConfig, train: pd.DataFrame, fit: Fit | None) -> Any:
    features = feature_columns(config, list(train.columns))
    x, y = train[features], train[config.data.target]
    seed = config.data.split.seed
    path = config.training.estimator or _DEFAULTS[config.training.task]
    estimator = _build_estimator(path, config.training.params)
    _seed_estimator(estimator, seed)
    model = _with_preprocessing(estimator, x, scale=not path.startswith(_SCALE_FREE))
    try:
        fitted = model.fit(x, y) if fit is None else fit(model, x, y)
    except (ValueError, TypeError) as error:
        raise TrainingError(f"training.estimator {path}: fit failed: {error}") from None
    _forget_thread_counts(fitted)
    return fitted


def _forget_thread_counts(model: Any, depth: int = 0) -> None:
    """Reset thread counts fitted estimators remember (HistGradientBoosting's bin mapper keeps
    the machine's OpenMP thread count) to their default "use what the machine has".

    The count is how the fit ran, not what it learnt: without this the same data and seed
    give different bundle bytes on a 2-core laptop and on a 1-thread Dask worker.
    """
    if depth > 12:
        return
    values = vars(model).values() if hasattr(model, "__dict__") else ()
    if isinstance(model, (list, tuple)):
        values = model
    elif isinstance(model, dict):
        values = model.values()
    for value in values:
        if hasattr(value, "get_params") or isinstance(value, (list, tuple, dict)):
            _forget_thread_counts(value, depth + 1)
    if hasattr(model, "get_params") and getattr(model, "n_threads", None) is not None:
        default = _parameters_defaults(type(model)).get("n_threads", 0)
        if default is None:
            model.n_threads = None


def _parameters_defaults(factory: Any) -> dict[str, Any]:
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return {}
    return {name: p.default for name, p in signature.parameters.items()}


def _build_estimator(path: str, params: dict[str, Any]) -> Any:
    module_name, _, attribute = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise TrainingError(
            f"training.estimator: cannot import module {module_name!r} ({error})"
        ) from None
    factory = getattr(module, attribute, None)
    if factory is None:
        known = [n for n in dir(module) if n[:1].isupper()]
        close = difflib.get_close_matches(attribute, known, n=1)
        hint = f"; did you mean {module_name}.{close[0]}?" if close else ""
        raise TrainingError(f"training.estimator: {module_name} has no {attribute!r}{hint}")
    _require_estimator_class(path, factory)
    accepted = _parameters(factory)
    for name in params:
        if accepted is not None and name not in accepted:
            close = difflib.get_close_matches(name, sorted(accepted), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise TrainingError(
                f"training.params.{name}: {attribute} has no parameter {name!r}{hint}"
            )
    try:
        estimator = factory(**params)
    except (TypeError, ValueError) as error:
        raise TrainingError(f"training.params: {attribute}({params}) failed: {error}") from None
    return estimator


def _seed_estimator(estimator: Any, seed: int) -> None:
    """Give ``random_state`` the project seed where the user set none: same inputs, same model."""
    params = estimator.get_params(deep=True)
    unseeded = {
        name: seed % 2**32
        for name, value in params.items()
        if (name == "random_state" or name.endswith("__random_state")) and value is None
    }
    if unseeded:
        estimator.set_params(**unseeded)


def _seed_global_generators(seed: int) -> None:
    """Seed Python's and numpy's global generators before bring-your-own training code."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)


def _require_estimator_class(path: str, factory: Any) -> None:
    """Refuse anything but a scikit-learn-compatible estimator class, before it is called.

    The config names code to run: a function such as ``os.system`` must never be called with
    the config's params, so the check looks at the class itself, not at what calling it gives.
    """
    is_estimator = inspect.isclass(factory) and all(
        callable(getattr(factory, m, None)) for m in ("fit", "predict", "get_params")
    )
    if not is_estimator:
        kind = "a class" if inspect.isclass(factory) else type(factory).__name__
        raise TrainingError(
            f"training.estimator: {path} is {kind}, not a scikit-learn-compatible estimator "
            "class (expected a class with fit, predict and get_params, such as "
            "sklearn.ensemble.RandomForestClassifier)"
        )


def _parameters(factory: Any) -> set[str] | None:
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()):
        return None
    return set(signature.parameters)


def _with_preprocessing(estimator: Any, x: pd.DataFrame, scale: bool) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from shipline.timestamps import is_datetime_dtype
    from shipline.training.date_features import DateFeatures

    dates = [c for c in x.columns if is_datetime_dtype(x[c].dtype)]
    numeric = [
        c
        for c in x.columns
        if pd.api.types.is_numeric_dtype(x[c]) and not pd.api.types.is_bool_dtype(x[c])
    ]
    categorical = [c for c in x.columns if c not in numeric and c not in dates]
    numeric_steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))]
    if scale:
        numeric_steps.append(("scale", StandardScaler()))
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        transformers.append(("numeric", Pipeline(numeric_steps), numeric))
    if dates:
        # Dates are points in time plus calendar parts, never one category per distinct date.
        date_steps: list[tuple[str, Any]] = [
            ("parts", DateFeatures()),
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
        ]
        if scale:
            date_steps.append(("scale", StandardScaler()))
        transformers.append(("dates", Pipeline(date_steps), dates))
    if categorical:
        categorical_steps = Pipeline(
            [
                ("impute", SimpleImputer(strategy="most_frequent")),
                ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
            ]
        )
        transformers.append(("categorical", categorical_steps, categorical))
    features = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
    return Pipeline([("features", features), ("model", estimator)])


def _train_entrypoint(config: ModelConfig, train: pd.DataFrame, project_dir: Path) -> Any:
    entrypoint = config.training.entrypoint or ""
    file_name, _, function_name = entrypoint.partition(":")
    path = (project_dir / file_name).resolve()
    if not path.is_relative_to(project_dir.resolve()) or not path.is_file():
        raise TrainingError(f"training.entrypoint: {file_name} not found in {project_dir}")
    with _project_importable(project_dir.resolve()):
        spec = importlib.util.spec_from_file_location(f"shipline_entrypoint_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise TrainingError(f"training.entrypoint: cannot load {file_name}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        function = getattr(module, function_name, None)
        if not callable(function):
            raise TrainingError(
                f"training.entrypoint: {file_name} has no function {function_name!r}"
            )
        takes_config = len(inspect.signature(function).parameters) >= 2
        return function(train.copy(), config) if takes_config else function(train.copy())


@contextlib.contextmanager
def _project_importable(project_dir: Path) -> Iterator[None]:
    """Let the entrypoint import the project's own modules, and forget them afterwards, so a
    long-lived process (the controller) trains with the code as it is on disk next time."""
    before = set(sys.modules)
    sys.path.insert(0, str(project_dir))
    try:
        yield
    finally:
        sys.path.remove(str(project_dir))
        for name in set(sys.modules) - before:
            origin = getattr(sys.modules[name], "__file__", None) or ""
            if Path(origin).resolve().is_relative_to(project_dir):
                del sys.modules[name]
