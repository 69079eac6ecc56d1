"""Kind ``sklearn``: a vetted estimator on a bundled dataset, cross-validated, with plots.

Only datasets that ship inside scikit-learn (no download) and a short list of estimators whose
parameters we can check before anything runs. Scale-sensitive estimators run behind a
``StandardScaler`` (fitted inside each fold, so no test data leaks into the scaling).

Each finished fold is saved to ``sklearn_state.json`` in the run dir, so a resumed job skips the
folds it already did and ends with the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

logger = logging.getLogger(__name__)

Task = Literal["classification", "regression"]

DATASETS: dict[str, Task] = {
    "digits": "classification",
    "iris": "classification",
    "wine": "classification",
    "breast_cancer": "classification",
    "diabetes": "regression",
}


@dataclass(frozen=True)
class EstimatorInfo:
    name: str
    classifier: str | None  # "module:Class" for classification datasets
    regressor: str | None  # "module:Class" for regression datasets
    scale: bool  # put a StandardScaler in front


_E = EstimatorInfo
ESTIMATORS: dict[str, EstimatorInfo] = {
    e.name: e
    for e in [
        _E("logistic_regression", "sklearn.linear_model:LogisticRegression", None, True),
        _E("linear_regression", None, "sklearn.linear_model:LinearRegression", True),
        _E("ridge", "sklearn.linear_model:RidgeClassifier", "sklearn.linear_model:Ridge", True),
        _E("lasso", None, "sklearn.linear_model:Lasso", True),
        _E(
            "random_forest",
            "sklearn.ensemble:RandomForestClassifier",
            "sklearn.ensemble:RandomForestRegressor",
            False,
        ),
        _E(
            "extra_trees",
            "sklearn.ensemble:ExtraTreesClassifier",
            "sklearn.ensemble:ExtraTreesRegressor",
            False,
        ),
        _E(
            "gradient_boosting",
            "sklearn.ensemble:GradientBoostingClassifier",
            "sklearn.ensemble:GradientBoostingRegressor",
            False,
        ),
        _E(
            "hist_gradient_boosting",
            "sklearn.ensemble:HistGradientBoostingClassifier",
            "sklearn.ensemble:HistGradientBoostingRegressor",
            False,
        ),
        _E(
            "decision_tree",
            "sklearn.tree:DecisionTreeClassifier",
            "sklearn.tree:DecisionTreeRegressor",
            False,
        ),
        _E("knn", "sklearn.neighbors:KNeighborsClassifier", "sklearn.neighbors:KNeighborsRegressor", True),
        _E("svm", "sklearn.svm:SVC", "sklearn.svm:SVR", True),
        _E("naive_bayes", "sklearn.naive_bayes:GaussianNB", None, False),
        _E("mlp", "sklearn.neural_network:MLPClassifier", "sklearn.neural_network:MLPRegressor", True),
    ]
}

# Caps that keep one job to minutes on a small machine; the rest is checked by scikit-learn itself.
PARAM_CAPS = {"n_estimators": 500, "max_iter": 5000, "n_neighbors": 200, "max_depth": 100}
MAX_HIDDEN_UNITS, MAX_HIDDEN_LAYERS = 1024, 4
# Parameters that change resources or output rather than the model: we set them ourselves.
FORBIDDEN_PARAMS = {"n_jobs", "verbose", "warm_start", "random_state"}


def estimator_class_path(estimator: str, dataset: str) -> str:
    info, task = ESTIMATORS[estimator], DATASETS[dataset]
    path = info.classifier if task == "classification" else info.regressor
    if path is None:
        kind = "regressor" if task == "classification" else "classifier"
        fits = sorted(
            n for n, e in ESTIMATORS.items() if (e.classifier if task == "classification" else e.regressor)
        )
        raise ValueError(
            f"estimator {estimator!r} is a {kind} only, but dataset {dataset!r} is a {task} task; "
            f"estimators for {task}: {', '.join(fits)}"
        )
    return path


def make_estimator(estimator: str, dataset: str, params: dict[str, Any], seed: int = 0) -> Any:
    """The (unfitted) estimator, parameters checked, behind a scaler where it needs one."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    mod_name, cls_name = estimator_class_path(estimator, dataset).split(":")
    cls = getattr(importlib.import_module(mod_name), cls_name)
    kwargs = _coerce(params)
    try:
        est = cls(**kwargs)
    except TypeError as e:
        allowed = sorted(set(cls().get_params()) - FORBIDDEN_PARAMS)
        raise ValueError(
            f"bad params for {estimator} ({cls_name}): {e}; allowed: {', '.join(allowed)}"
        ) from e
    if "random_state" in est.get_params():
        est.set_params(random_state=seed)
    try:
        est._validate_params()  # scikit-learn's own type/range checks, before any fitting
    except (ValueError, TypeError) as e:
        raise ValueError(f"bad params for {estimator} ({cls_name}): {e}") from e
    return make_pipeline(StandardScaler(), est) if ESTIMATORS[estimator].scale else est


def _coerce(params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key in FORBIDDEN_PARAMS:
            raise ValueError(f"param {key!r} is set by the job runner, not by a job spec; remove it")
        if key in PARAM_CAPS and isinstance(value, int | float) and value > PARAM_CAPS[key]:
            raise ValueError(
                f"{key}={value} is too large for a training job here (at most {PARAM_CAPS[key]})"
            )
        if key == "hidden_layer_sizes":
            sizes = [value] if isinstance(value, int) else list(value)
            if (
                not sizes
                or len(sizes) > MAX_HIDDEN_LAYERS
                or any(not isinstance(s, int) or s < 1 for s in sizes)
            ):
                raise ValueError(
                    f"hidden_layer_sizes must be 1-{MAX_HIDDEN_LAYERS} positive ints, got {value!r}"
                )
            if sum(sizes) > MAX_HIDDEN_UNITS:
                raise ValueError(
                    f"hidden_layer_sizes {value!r} has more than {MAX_HIDDEN_UNITS} units in all"
                )
            value = tuple(sizes)
        out[key] = value
    return out


def load_dataset(name: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Features, target and class names (empty for regression) of a bundled dataset."""
    import sklearn.datasets as ds

    bunch = getattr(ds, f"load_{name}")()
    names = [str(n) for n in getattr(bunch, "target_names", [])] if DATASETS[name] == "classification" else []
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target), names


def run_sklearn(
    spec: dict[str, Any],
    run_dir: Path,
    *,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Cross-validate, refit on all data, write plots; returns ``{"metrics", "artifacts", "stopped"}``."""
    from sklearn.base import clone
    from sklearn.model_selection import KFold, StratifiedKFold

    dataset, estimator, seed, folds = spec["dataset"], spec["estimator"], int(spec["seed"]), int(spec["cv"])
    task = DATASETS[dataset]
    X, y, class_names = load_dataset(dataset)
    model = make_estimator(estimator, dataset, spec.get("params") or {}, seed)
    splitter = (StratifiedKFold if task == "classification" else KFold)(
        folds, shuffle=True, random_state=seed
    )
    state_path = run_dir / "sklearn_state.json"
    state: dict[str, Any] = json.loads(state_path.read_text()) if state_path.exists() else {"folds": {}}
    oof = np.zeros(len(y), dtype=np.float64)
    for i, (tr, te) in enumerate(splitter.split(X, y)):
        key = str(i)
        if key not in state["folds"]:
            if should_stop is not None and should_stop():
                return {"metrics": _history(state), "artifacts": [], "stopped": True}
            t0 = time.perf_counter()
            fitted = clone(model).fit(X[tr], y[tr])
            pred = fitted.predict(X[te])
            state["folds"][key] = {"pred": pred.tolist(), "fit_s": round(time.perf_counter() - t0, 3)}
            state["folds"][key].update(_fold_scores(task, y[te], pred))
            state_path.write_text(json.dumps(state))
        oof[te] = state["folds"][key]["pred"]
        if on_progress is not None:
            # the final refit counts as one more step
            on_progress({"progress": (i + 1) / (folds + 1), "metrics": _history(state)})
    final = clone(model).fit(X, y)
    _save_model(final, run_dir / "model.joblib")
    metrics = {**_history(state), **_summary(task, y, oof, state), "task": task, "dataset": dataset}
    metrics.update(estimator=estimator, pipeline=_describe(model), n_samples=len(y), n_features=X.shape[1])
    artifacts = [_plot(task, y, oof, class_names, run_dir, f"{estimator} on {dataset}")]
    artifacts.append(
        {"name": "model", "path": str(run_dir / "model.joblib"), "mime_type": "application/octet-stream"}
    )
    return {"metrics": metrics, "artifacts": artifacts, "stopped": False}


def _fold_scores(task: Task, y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    from sklearn import metrics as m

    if task == "classification":
        return {
            "accuracy": float(m.accuracy_score(y, pred)),
            "f1_macro": float(m.f1_score(y, pred, average="macro")),
        }
    return {
        "r2": float(m.r2_score(y, pred)),
        "mae": float(m.mean_absolute_error(y, pred)),
        "rmse": math.sqrt(float(m.mean_squared_error(y, pred))),
    }


def _history(state: dict[str, Any]) -> dict[str, Any]:
    rows = []
    for key in sorted(state["folds"], key=int):
        fold = {k: v for k, v in state["folds"][key].items() if k != "pred"}
        rows.append({"step": int(key) + 1, **{k: round(v, 4) for k, v in fold.items()}})
    return {"history": rows}


def _summary(task: Task, y: np.ndarray, oof: np.ndarray, state: dict[str, Any]) -> dict[str, Any]:
    folds = [state["folds"][k] for k in sorted(state["folds"], key=int)]
    names = ("accuracy", "f1_macro") if task == "classification" else ("r2", "mae", "rmse")
    out: dict[str, Any] = {"cv_folds": len(folds)}
    for name in names:
        vals = np.array([f[name] for f in folds])
        out[name] = round(float(vals.mean()), 4)
        out[f"{name}_std"] = round(float(vals.std()), 4)
    if task == "classification":
        from sklearn.metrics import confusion_matrix

        out["confusion_matrix"] = confusion_matrix(y, oof.astype(y.dtype)).tolist()
    return out


def _describe(model: Any) -> str:
    steps = getattr(model, "steps", None)
    return " + ".join(type(s).__name__ for _, s in steps) if steps else type(model).__name__


def _save_model(model: Any, path: Path) -> None:
    import joblib

    # our own fitted estimator, read back only by this tutor: pickle via joblib is fine here
    joblib.dump(model, path)


def _plot(
    task: Task, y: np.ndarray, oof: np.ndarray, names: list[str], run_dir: Path, title: str
) -> dict[str, str]:
    from tools.training.plots import confusion_matrix_png, residuals_png

    if task == "classification":
        path = run_dir / "confusion_matrix.png"
        confusion_matrix_png(y, oof.astype(y.dtype), names, path, title=title)
        return {"name": "confusion_matrix", "path": str(path), "mime_type": "image/png"}
    path = run_dir / "residuals.png"
    residuals_png(y, oof, path, title=title)
    return {"name": "residuals", "path": str(path), "mime_type": "image/png"}
