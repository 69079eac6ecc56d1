"""curriculum/exercises.py and the exercise folders: specs load, ids and signatures are the
issue's, public views hide hidden tests, and each trusted reference passes its own tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from curriculum.catalog import load_catalog
from curriculum.exercises import EXERCISES_DIR, get_exercise, load_exercises, split_args
from tools.grading.checks import run_check

SIGNATURES = {
    "gradient-descent": ("m2.calculus", "gradient_descent", "X, y, lr=0.01, epochs=1000"),
    "attention": ("m2.attention-math", "scaled_dot_product_attention", "Q, K, V, mask=None"),
    "positional-encoding": (
        "m8.transformer-architecture",
        "sinusoidal_positional_encoding",
        "n_positions, d_model",
    ),
    "classification-metrics": ("m4.evaluation", "precision_recall_f1", "y_true, y_pred, positive=1"),
    "kmeans": ("m5.clustering", "kmeans", "X, k, n_iter=100, seed=0"),
    "pca": ("m5.dimensionality-reduction", "pca", "X, n_components"),
    "digits-classifier": ("m4.classification", "build_model", ""),
    "mlp-forward": ("m7.neural-networks", "mlp_forward", "x, W1, b1, W2, b2"),
}


@pytest.fixture(scope="module")
def exercises() -> dict[str, Any]:
    return load_exercises()


def test_the_eight_exercises_have_the_issues_ids_and_signatures(exercises: dict[str, Any]) -> None:
    assert set(SIGNATURES) <= set(exercises)
    for ex_id, (topic, entry, signature) in SIGNATURES.items():
        ex = exercises[ex_id]
        assert (ex.topic_id, ex.entry, ex.signature) == (topic, entry, signature)
        assert ex.statement.startswith("# ") and entry in ex.starter_code
        assert any(t.hidden for t in ex.tests) or ex.call == "fit_predict"
        assert any(not t.hidden for t in ex.tests)


def test_topics_exist_in_the_curriculum(exercises: dict[str, Any]) -> None:
    catalog = load_catalog()
    for ex in exercises.values():
        assert ex.topic_id in catalog.topics, ex.id


def test_public_view_never_shows_hidden_tests(exercises: dict[str, Any]) -> None:
    for ex in exercises.values():
        d = ex.to_public_dict()
        text = json.dumps(d)
        assert set(d) >= {"id", "topic_id", "title", "statement", "starter_code", "public_tests"}
        assert d["hidden_tests"] == sum(t.hidden for t in ex.tests)
        for t in ex.tests:
            if t.hidden:
                assert t.name not in text


def test_public_tests_show_the_call_and_expected_value(exercises: dict[str, Any]) -> None:
    first = exercises["gradient-descent"].public_tests[0]
    assert first["call"] == "gradient_descent([[1, 2], [3, 4]], [1, 2], lr=0.1, epochs=1)"
    assert first["expected"] == "([0.7, 1. ], 0.3)"


@pytest.mark.parametrize("ex_id", sorted(SIGNATURES))
def test_reference_passes_every_test_of_its_exercise(exercises: dict[str, Any], ex_id: str) -> None:
    """The trusted side is self-consistent: inputs, reference and checks agree."""
    from tools.grader import _make_case

    ex = exercises[ex_id]
    for spec in ex.tests:
        case = _make_case(ex, spec)
        if ex.call == "fit_predict":
            model = ex.reference.solution().fit(case.args["X_train"], case.args["y_train"])
            got = model.predict(case.args["X_test"])
        else:
            pos, kw = split_args(ex.required, case.args)
            got = ex.reference.solution(*pos, **kw)
        passed, message = run_check(ex.reference, spec.check, case.args, got, case.expected)
        assert passed, f"{ex_id} / {spec.name}: {message}"


@pytest.mark.parametrize("ex_id", sorted(SIGNATURES))
def test_the_starter_code_does_not_pass(exercises: dict[str, Any], ex_id: str) -> None:
    from tools.grader import _make_case

    ex = exercises[ex_id]
    ns: dict[str, Any] = {}
    exec(compile(ex.starter_code, "starter.py", "exec"), ns)
    results = []
    for spec in ex.tests:
        case = _make_case(ex, spec)
        try:
            if ex.call == "fit_predict":
                got = (
                    ns[ex.entry]()
                    .fit(case.args["X_train"], case.args["y_train"])
                    .predict(case.args["X_test"])
                )
            else:
                pos, kw = split_args(ex.required, case.args)
                got = ns[ex.entry](*pos, **kw)
        except NotImplementedError:
            results.append(False)
            continue
        results.append(run_check(ex.reference, spec.check, case.args, got, case.expected)[0])
    assert not all(results)


def test_get_exercise_suggests_a_close_id(exercises: dict[str, Any]) -> None:
    assert get_exercise(exercises, "pca").id == "pca"
    with pytest.raises(LookupError, match=r"'kmean' not found; did you mean 'kmeans'\? `tutor exercises`"):
        get_exercise(exercises, "kmean")
    with pytest.raises(LookupError, match="not found"):
        get_exercise(exercises, "zzzz")


def _copy_one(tmp_path: Path, ex_id: str = "pca") -> Path:
    dst = tmp_path / ex_id
    shutil.copytree(EXERCISES_DIR / ex_id, dst)
    return dst


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.replace("topic_id: m5.dimensionality-reduction", "topic_id: pca"), "topic_id"),
        (lambda s: s.replace("id: pca", "id: PCA"), "folder name"),
        (lambda s: s.replace("points: 2", "points: -1"), "points"),
        (lambda s: s.replace("fn: components", "fnx: components"), "custom check needs 'fn'"),
        (lambda s: s.replace('signature: "X, n_components"', 'signature: "X,, n"'), "signature"),
        (lambda s: s + "\n  - name: a small example\n    args: {}\n", "unique names"),
        (lambda s: s.replace("tests:", "tests: [\n"), "YAML"),
    ],
)
def test_malformed_specs_fail_loudly(tmp_path: Path, edit: Any, message: str) -> None:
    folder = _copy_one(tmp_path)
    spec = folder / "spec.yaml"
    spec.write_text(edit(spec.read_text()))
    with pytest.raises(ValueError, match=message) as err:
        load_exercises(tmp_path)
    assert "spec.yaml" in str(err.value)


def test_missing_files_and_folders_are_reported(tmp_path: Path) -> None:
    (_copy_one(tmp_path) / "reference.py").unlink()
    with pytest.raises(ValueError, match="lacks reference.py"):
        load_exercises(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        load_exercises(tmp_path / "nowhere")


def test_split_args_passes_required_positionally() -> None:
    assert split_args(("X", "y"), {"X": 1, "y": 2, "lr": 0.1}) == ([1, 2], {"lr": 0.1})
    assert split_args((), {"a": 1}) == ([], {"a": 1})


def test_array_args_become_arrays_of_the_declared_dtype(exercises: dict[str, Any]) -> None:
    ex = exercises["attention"]
    args = ex.materialize(ex.tests[1].args)
    assert args["Q"].dtype == np.float64 and args["mask"].dtype == np.bool_
