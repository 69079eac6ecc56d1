"""Checks of the tuning-and-ensembles lab (TRUSTED: runs outside the sandbox on the probe's facts).

Each ``check_<name>(facts) -> (passed, message)`` reads only plain JSON values and fails with a
message, never an exception, when a fact is missing or of the wrong type.
"""

from __future__ import annotations

from typing import Any

from curriculum.labs.guard import guard_checks
from curriculum.labs.guard import number as _num
from curriculum.labs.guard import probe_error as _probe_error

Verdict = tuple[bool, str]
N_TRAIN, N_TEST = 426, 143


def _same(a: float | None, b: float | None, tol: float = 0.002) -> bool:
    return a is not None and b is not None and abs(a - b) <= tol


def check_tree(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    if facts.get("rows") != [N_TRAIN, N_TEST] or facts.get("overlap") not in (0, None):
        return False, (
            f"Expected {N_TRAIN} training and {N_TEST} test rows with none shared, got {facts.get('rows')}: "
            "keep the split from the starter."
        )
    if not facts.get("fitted"):
        return False, "`tree` is not fitted: `tree.fit(X_train, y_train)`."
    if facts.get("train_samples") != N_TRAIN:
        return (
            False,
            f"`tree` was fitted on {facts.get('train_samples')} rows; fit it on the {N_TRAIN} training rows.",
        )
    tr, te = _num(facts, "true_train_acc"), _num(facts, "true_test_acc")
    if not _same(_num(facts, "tree_train_acc"), tr):
        return False, f"`tree_train_acc` should be the tree's accuracy on the training set ({tr})."
    if not _same(_num(facts, "tree_test_acc"), te):
        return False, f"`tree_test_acc` should be the tree's accuracy on the test set ({te})."
    assert tr is not None and te is not None
    return True, (
        f"The tree grew {facts.get('leaves')} leaves, {facts.get('depth')} levels deep: {tr:.1%} right on the rows "
        f"it memorised, {te:.1%} on new ones. That gap is variance."
    )


def check_grid(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    params = facts.get("params")
    if not isinstance(params, list) or not {"max_depth", "min_samples_leaf"} <= set(params):
        return False, f"The grid searches {params}; search both `max_depth` and `min_samples_leaf`."
    if facts.get("cv") != 5:
        return False, f"Use 5-fold cross-validation (`cv=5`), got cv={facts.get('cv')!r}."
    if not facts.get("fitted"):
        return False, "`grid` is not fitted: `grid.fit(X_train, y_train)`."
    n = facts.get("n_candidates")
    if not isinstance(n, int) or n < 12:
        return False, f"The grid holds {n} combinations; give it at least 12 (e.g. 4 depths x 3 leaf sizes)."
    if facts.get("estimator") != "DecisionTreeClassifier":
        return (
            False,
            f"The search tunes a {facts.get('estimator')}; tune a `DecisionTreeClassifier(random_state=0)`.",
        )
    if facts.get("train_samples") != facts.get("n_train"):
        return False, (
            f"The best tree was refitted on {facts.get('train_samples')} rows, not the {facts.get('n_train')} "
            "training rows: fit the search on `X_train, y_train` only."
        )
    te = _num(facts, "true_test_acc")
    if not _same(_num(facts, "grid_test_acc"), te):
        return False, f"`grid_test_acc` should be `grid.best_estimator_`'s test accuracy ({te})."
    best, cv = facts.get("best_params"), _num(facts, "best_cv")
    cv_txt = f"{cv:.3f}" if cv is not None else "?"
    return True, (
        f"Best of {n} combinations: {best} with CV accuracy {cv_txt}; on the test set it scores {te}. "
        "Limiting the tree cut its variance."
    )


def check_forest(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    params = facts.get("params")
    need = {"max_depth", "max_features", "min_samples_leaf"}
    if not isinstance(params, list) or not need <= set(params):
        missing = sorted(need - set(params)) if isinstance(params, list) else sorted(need)
        return False, f"`param_distributions` is missing {missing}."
    n_iter = facts.get("n_iter")
    if not isinstance(n_iter, int) or not 3 <= n_iter <= 12:
        return False, f"`n_iter` is {n_iter}; sample 5 combinations (3 to 12 keeps this step fast)."
    if not facts.get("fitted"):
        return False, "`search` is not fitted: `search.fit(X_train, y_train)`."
    if facts.get("forest_kind") != "RandomForestClassifier":
        return False, f"`forest` is {facts.get('forest_kind')}; set `forest = search.best_estimator_`."
    if not facts.get("forest_is_best"):
        return False, "`forest` is not `search.best_estimator_`; keep the search's winner."
    if facts.get("fit_on_train") is False:
        return (
            False,
            "The forest was not fitted on `X_train, y_train` alone; fit the search on the training set.",
        )
    cv = _num(facts, "best_cv")
    cv_txt = f"{cv:.3f}" if cv is not None else "?"
    return True, (
        f"{facts.get('n_candidates')} sampled combinations; the best, {facts.get('best_params')}, has CV "
        f"accuracy {cv_txt} with {facts.get('n_trees')} trees voting."
    )


def check_boosting(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    if facts.get("kind") != "GradientBoostingClassifier":
        return False, f"`gb` is {facts.get('kind')}; make it `GradientBoostingClassifier(random_state=0)`."
    if not facts.get("fitted"):
        return False, "`gb` is not fitted: `gb.fit(X_train, y_train)`."
    first, tenth = _num(facts, "train_acc_stage_1"), _num(facts, "train_acc_stage_10")
    tr, te = _num(facts, "true_train_acc"), _num(facts, "true_test_acc")
    if None in (first, tenth, tr, te):
        return False, "The boosted model could not be scored; rerun the step."
    return True, (
        f"After 1 tree the model gets {first:.1%} of the training rows right, after 10 {tenth:.1%}, after "
        f"{facts.get('n_stages')} {tr:.1%}: each shallow tree removed some of the bias left by the ones before."
    )


def check_compare(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    got, ref = facts.get("test_scores"), facts.get("ref_scores")
    keys = ("tree", "tuned_tree", "forest", "boosting")
    if not isinstance(got, dict) or not isinstance(ref, dict):
        return False, "`test_scores` should be a dict with keys tree, tuned_tree, forest, boosting."
    missing = [k for k in keys if k not in got]
    if missing:
        return False, f"`test_scores` is missing {missing}."
    for k in keys:
        want = ref.get(k)
        if not isinstance(want, int | float):
            return False, f"The model behind {k!r} could not be scored; rerun its step."
        if not _same(got.get(k) if isinstance(got.get(k), int | float) else None, float(want)):
            return False, f"`test_scores[{k!r}]` is {got.get(k)} but that model's test accuracy is {want}."
    tree, forest, boost = float(ref["tree"]), float(ref["forest"]), float(ref["boosting"])
    if forest <= tree or boost <= tree:
        return False, (
            f"The ensembles should beat the single tree ({tree:.3f}); forest {forest:.3f}, boosting {boost:.3f}. "
            "Check that they were fitted on the training set with the settings given."
        )
    table = ", ".join(f"{k} {float(ref[k]):.3f}" for k in keys)
    return True, (
        f"Test accuracy: {table}. The forest averages away the single tree's variance; boosting "
        "removes bias one small tree at a time. Both beat the tree on data none of them saw."
    )


guard_checks(globals())  # every check_* fails with a message instead of raising
