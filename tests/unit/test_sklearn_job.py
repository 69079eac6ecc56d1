"""The sklearn job kind: cross-validated metrics, plots, resume from finished folds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.training.sklearn_job import make_estimator, run_sklearn

PNG = b"\x89PNG\r\n\x1a\n"


def spec(**kw: object) -> dict:
    return {"dataset": "iris", "estimator": "logistic_regression", "params": {}, "cv": 3, "seed": 0, **kw}


def test_classification_metrics_and_confusion_matrix(tmp_path: Path) -> None:
    progress: list[float] = []
    out = run_sklearn(spec(), tmp_path, on_progress=lambda e: progress.append(e["progress"]))
    m = out["metrics"]
    assert out["stopped"] is False
    assert (
        0.85 < m["accuracy"] <= 1.0
        and m["cv_folds"] == 3
        and m["pipeline"] == "StandardScaler + LogisticRegression"
    )
    assert [h["step"] for h in m["history"]] == [1, 2, 3]
    assert sum(map(sum, m["confusion_matrix"])) == 150  # every sample predicted once, out of fold
    assert progress == pytest.approx([0.25, 0.5, 0.75])
    [plot, model] = out["artifacts"]
    assert plot["name"] == "confusion_matrix" and Path(plot["path"]).read_bytes().startswith(PNG)
    assert Path(model["path"]).stat().st_size > 0


def test_regression_metrics_and_residuals(tmp_path: Path) -> None:
    out = run_sklearn(spec(dataset="diabetes", estimator="ridge", params={"alpha": 1.0}), tmp_path)
    m = out["metrics"]
    assert m["task"] == "regression" and 0.3 < m["r2"] < 0.6 and m["rmse"] > m["mae"] > 0
    assert "confusion_matrix" not in m
    assert out["artifacts"][0]["name"] == "residuals"
    assert Path(out["artifacts"][0]["path"]).read_bytes().startswith(PNG)


def test_stop_then_resume_gives_the_uninterrupted_result(tmp_path: Path) -> None:
    s = spec(dataset="wine", estimator="random_forest", params={"n_estimators": 10}, cv=4)
    (tmp_path / "full").mkdir()
    full = run_sklearn(s, tmp_path / "full")["metrics"]
    run = tmp_path / "run"
    run.mkdir()
    calls = {"n": 0}

    def stop_after_two() -> bool:
        calls["n"] += 1
        return calls["n"] > 2

    stopped = run_sklearn(s, run, should_stop=stop_after_two)
    assert stopped["stopped"] is True and len(stopped["metrics"]["history"]) == 2
    resumed = run_sklearn(s, run)["metrics"]
    assert resumed["accuracy"] == full["accuracy"] and resumed["confusion_matrix"] == full["confusion_matrix"]


def test_hidden_layer_sizes_list_becomes_a_tuple() -> None:
    est = make_estimator("mlp", "iris", {"hidden_layer_sizes": [8, 4], "max_iter": 50})
    assert est.steps[-1][1].hidden_layer_sizes == (8, 4)
    with pytest.raises(ValueError, match="1-4 positive ints"):
        make_estimator("mlp", "iris", {"hidden_layer_sizes": [0]})
