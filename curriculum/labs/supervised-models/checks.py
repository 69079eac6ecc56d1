"""Checks of the supervised-models lab (TRUSTED: runs outside the sandbox on the probe's facts).

Each ``check_<name>(facts) -> (passed, message)`` reads only plain JSON values and fails with a
message, never an exception, when a fact is missing or of the wrong type.
"""

from __future__ import annotations

from typing import Any

from curriculum.labs.guard import guard_checks
from curriculum.labs.guard import number as _num
from curriculum.labs.guard import probe_error as _probe_error

Verdict = tuple[bool, str]


def _shape(facts: dict[str, Any], key: str) -> list[int] | None:
    v = facts.get(key)
    if isinstance(v, list) and all(isinstance(d, int) and not isinstance(d, bool) for d in v):
        return v
    return None


def check_split(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    missing = facts.get("missing")
    if isinstance(missing, list) and missing:
        return False, f"Not defined yet: {', '.join(map(str, missing))}. Unpack all four parts of the split."
    xtr, xte = _shape(facts, "X_train_shape"), _shape(facts, "X_test_shape")
    ytr, yte = _shape(facts, "y_train_shape"), _shape(facts, "y_test_shape")
    if not (xtr and xte and ytr and yte):
        return False, "`X_train`, `X_test`, `y_train` and `y_test` should be pandas objects with a shape."
    if facts.get("overlap") != 0:
        return False, (
            f"{facts.get('overlap')} rows are in both the training and the test set: a test set must "
            "hold rows the model never saw. Use `train_test_split` instead of reusing `X`."
        )
    if xtr[0] + xte[0] != 442 or facts.get("covered") != 442:
        return False, f"Train ({xtr[0]} rows) and test ({xte[0]} rows) should together hold all 442 rows."
    if xte[0] != 89:
        return False, (
            f"The test set has {xte[0]} rows; with `test_size=0.2` it should have 89 "
            "(20% of 442, rounded up)."
        )
    if ytr[0] != xtr[0] or yte[0] != xte[0] or facts.get("xy_aligned") is False:
        return False, "`y_train`/`y_test` do not line up with `X_train`/`X_test`: split X and y in one call."
    if len(xtr) != 2 or xtr[1] != 10:
        return False, f"`X_train` should keep all 10 feature columns, it has shape {xtr}."
    return True, "353 training rows and 89 test rows, no row in both: the test set is ready and untouched."


def check_baseline(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    if not facts.get("has_baseline"):
        return False, "`baseline` is not defined; make it a `DummyRegressor(strategy='mean')`."
    if not facts.get("fitted"):
        return False, "`baseline` is not fitted yet: call `baseline.fit(X_train, y_train)`."
    true, mae = _num(facts, "true_mae"), _num(facts, "baseline_mae")
    const, tr_mean = _num(facts, "constant"), _num(facts, "train_mean")
    if const is not None and tr_mean is not None and abs(const - tr_mean) > 0.01:
        return False, (
            f"The baseline predicts {const:.1f} for everyone, but the training mean is {tr_mean:.1f}: "
            "fit it on the training set only (`X_train`, `y_train`)."
        )
    if mae is None:
        return (
            False,
            "`baseline_mae` should be a number: `mean_absolute_error(y_test, baseline.predict(X_test))`.",
        )
    if true is None:
        return False, "The baseline could not be scored on the test set."
    if abs(mae - true) > 0.01:
        return False, (
            f"`baseline_mae` is {mae:.2f} but the baseline's MAE on the test set is {true:.2f}: score it "
            "on `X_test`/`y_test`, and mind the argument order (true values first)."
        )
    return True, (
        f"Predicting the training mean ({tr_mean:.1f}) for everyone gives a test MAE of {true:.1f}: "
        "that is the bar to beat."
    )


def check_linear(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    if not facts.get("has_reg"):
        return False, "`reg` is not a model; make it `make_pipeline(StandardScaler(), LinearRegression())`."
    if not facts.get("fitted"):
        return False, "`reg` is not fitted yet: call `reg.fit(X_train, y_train)`."
    if facts.get("fit_on_train") is False:
        return False, (
            "`reg`'s predictions differ from the same pipeline fitted on `X_train, y_train`: "
            "it was fitted on other rows. Fit on the training set only."
        )
    true, mae, base = _num(facts, "true_mae"), _num(facts, "reg_mae"), _num(facts, "baseline_mae")
    if mae is None:
        return False, "`reg_mae` should be a number: the MAE of `reg` on the test set."
    if true is None or base is None:
        return False, "The model or the baseline could not be scored; rerun the earlier steps."
    if abs(mae - true) > 0.01:
        return False, f"`reg_mae` is {mae:.2f} but `reg`'s MAE on the test set is {true:.2f}."
    if true > 0.9 * base:
        return False, (
            f"The model's test MAE ({true:.1f}) does not beat the baseline ({base:.1f}) by 10%. "
            "Did you fit it on all the features?"
        )
    r2 = _num(facts, "r2")
    r2_txt = f" and $R^2$ = {r2:.2f}" if r2 is not None else ""
    return True, (
        f"Test MAE {true:.1f} against the baseline's {base:.1f} ({100 * (1 - true / base):.0f}% lower){r2_txt}: "
        "the model has learned something real."
    )


def check_cross_val(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    n = facts.get("n_folds")
    if not isinstance(n, int) or n == 0:
        return (
            False,
            "`cv_scores` is empty: call `cross_val_score(reg, X_train, y_train, cv=5, scoring=...)`.",
        )
    if n != 5:
        return False, f"`cv_scores` has {n} scores; ask for 5 folds with `cv=5`."
    if facts.get("matches_full_data") and not facts.get("matches_train_mae"):
        return False, (
            "These scores come from cross-validating on all of `X`, `y`: the test rows leaked into "
            "model selection. Cross-validate on `X_train`, `y_train` only."
        )
    if facts.get("matches_train_r2"):
        return False, (
            "These are $R^2$ scores (the default). Ask for `scoring='neg_mean_absolute_error'` so the "
            "folds report (negative) MAE."
        )
    if not facts.get("matches_train_mae"):
        return False, (
            "`cv_scores` do not match 5-fold negative-MAE cross-validation of `reg` on the training set; "
            "check `cv=5`, the scoring and the data."
        )
    scores = facts.get("scores")
    cv_mae = _num(facts, "cv_mae")
    if not isinstance(scores, list) or not scores or not all(isinstance(s, int | float) for s in scores):
        return False, "`cv_scores` could not be read as numbers."
    mean_mae = -sum(scores) / len(scores)
    if cv_mae is None:
        return False, "`cv_mae` should be a number: `-cv_scores.mean()`."
    if cv_mae < 0:
        return False, f"`cv_mae` is {cv_mae:.2f}, a negative error: flip the sign (`-cv_scores.mean()`)."
    if abs(cv_mae - mean_mae) > 0.01:
        return False, f"`cv_mae` is {cv_mae:.2f} but the mean MAE over your folds is {mean_mae:.2f}."
    spread = max(-s for s in scores) - min(-s for s in scores)
    return True, (
        f"Cross-validated MAE {mean_mae:.1f}; the folds range over {spread:.1f} points of MAE, "
        "which is why one split alone is a noisy judge."
    )


def check_classify(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    if facts.get("overlap") not in (0, None) or facts.get("test_rows") == 569:
        return (
            False,
            "The test set shares rows with the training set: split `Xc`, `yc` with `train_test_split`.",
        )
    tr, te = facts.get("train_rows"), facts.get("test_rows")
    if tr != 426 or te != 143:
        return False, f"Expected 426 training and 143 test rows (`test_size=0.25`), got {tr} and {te}."
    b_tr, b_te = _num(facts, "train_benign"), _num(facts, "test_benign")
    if b_tr is None or b_te is None or abs(b_tr - b_te) > 0.01:
        return False, (
            f"The benign share is {b_tr} in training but {b_te} in test: pass `stratify=yc` so both "
            "sets keep the same class mix."
        )
    if not facts.get("dummy_clf_fitted"):
        return False, "`dummy_clf` is not fitted: `dummy_clf.fit(Xc_train, yc_train)`."
    if not facts.get("clf_fitted"):
        return False, "`clf` is not fitted: `clf.fit(Xc_train, yc_train)`."
    if facts.get("fit_on_train") is False:
        return False, "`clf` was not fitted on `Xc_train, yc_train` alone; refit it on the training set."
    acc, dacc = _num(facts, "clf_acc"), _num(facts, "dummy_clf_acc")
    if acc is None or dacc is None:
        return False, "The classifiers could not be scored on the test set."
    if acc < 0.9 or acc < dacc + 0.2:
        return (
            False,
            f"`clf` scores {acc:.3f} on the test set against the baseline's {dacc:.3f}; expected > 0.9.",
        )
    rec, true = _num(facts, "recall_malignant"), _num(facts, "true_recall")
    if rec is None:
        return False, "`recall_malignant` should be a number: `recall_score(yc_test, pred, pos_label=0)`."
    if true is not None and abs(rec - true) > 0.005:
        return False, (
            f"`recall_malignant` is {rec:.3f} but `clf` catches {true:.3f} of the malignant test tumours. "
            "Malignant is label 0: pass `pos_label=0` (the default 1 measures benign)."
        )
    return True, (
        f"Accuracy {acc:.3f} against {dacc:.3f} for always saying 'benign'; {rec:.1%} of malignant tumours "
        "are caught. Accuracy alone would hide how many malignant cases slip through."
    )


def check_compare(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    n = facts.get("n_models")
    if not isinstance(n, int) or n < 3:
        return False, f"`models` holds {n} model(s); compare at least three."
    res, ref = facts.get("cv_results"), facts.get("ref_results")
    if not isinstance(res, dict) or not isinstance(ref, dict):
        return False, "`cv_results` should be a dict `{name: mean CV accuracy}`."
    if set(res) != set(ref):
        return (
            False,
            f"`cv_results` has keys {sorted(res)} but `models` has {sorted(ref)}; score every model.",
        )
    for name, want in ref.items():
        got = res.get(name)
        if not isinstance(got, int | float) or not isinstance(want, int | float):
            return False, f"`cv_results[{name!r}]` is not a number."
        if abs(got - want) > 0.005:
            return False, (
                f"`cv_results[{name!r}]` is {got:.4f} but 5-fold CV accuracy of that model on the "
                f"training set is {want:.4f}. Use `cross_val_score(model, Xc_train, yc_train, cv=5).mean()`."
            )
    best = max(ref, key=lambda k: ref[k])
    chosen = facts.get("best_name")
    if chosen not in ref:
        return False, f"`best_name` is {chosen!r}; it should be one of {sorted(ref)}."
    if ref[chosen] < ref[best] - 1e-9:
        return (
            False,
            f"`best_name` is {chosen!r} ({ref[chosen]:.4f}) but {best!r} scored higher ({ref[best]:.4f}).",
        )
    dummy = _num(facts, "dummy_cv")
    table = ", ".join(f"{k} {v:.3f}" for k, v in sorted(ref.items(), key=lambda kv: -kv[1]))
    tail = f" (majority class: {dummy:.3f})" if dummy is not None else ""
    return True, (
        f"CV accuracy: {table}{tail}. You chose {chosen!r} without looking at the test set, so its test "
        "score stays an honest estimate."
    )


guard_checks(globals())  # every check_* fails with a message instead of raising
