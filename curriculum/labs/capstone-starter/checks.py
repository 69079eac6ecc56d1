"""Checks of the capstone-starter lab (TRUSTED: runs outside the sandbox on the probe's facts).

Each ``check_<name>(facts) -> (passed, message)`` reads only plain JSON values and fails with a
message, never an exception, when a fact is missing or of the wrong type. Row counts and the
churn rate are recomputed here from the lab's own ``data/customers.csv``. Until the ``final`` step,
every check fails when the probe found holdout rows among the learner's variables.
"""

from __future__ import annotations

import csv
import math
from functools import cache
from pathlib import Path
from typing import Any

from curriculum.labs.guard import guard_checks

Verdict = tuple[bool, str]
DATA = Path(__file__).resolve().parent / "data"
METRICS = ("roc_auc", "average_precision", "f1", "balanced_accuracy")
TARGET = "churned"


@cache
def _dev() -> tuple[int, float]:
    """(rows, churn rate) of the development file."""
    with (DATA / "customers.csv").open(newline="") as f:
        labels = [int(r[TARGET]) for r in csv.DictReader(f)]
    return len(labels), sum(labels) / len(labels)


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)


def _close(a: Any, b: Any, tol: float = 0.002) -> bool:
    fa, fb = _num(a), _num(b)
    return fa is not None and fb is not None and abs(fa - fb) <= tol


def _guard(facts: dict[str, Any]) -> str | None:
    """The message for a probe error or for holdout rows seen before the final step."""
    err = facts.get("error")
    if isinstance(err, str) and err:
        return f"Looking at your variables raised {err}; check that the step's code ran without errors."
    seen = facts.get("holdout_seen")
    if isinstance(seen, list) and seen:
        return (
            f"Holdout rows are in your variables ({', '.join(map(str, seen))}) before the final step. Delete them "
            "and leave `holdout.csv` closed until the end: a score you have looked at while choosing is no longer "
            "an honest estimate. Restart the kernel if you have already used them."
        )
    return None


def check_frame(facts: dict[str, Any]) -> Verdict:
    if msg := _guard(facts):
        return False, msg
    rows, rate = _dev()
    shape = facts.get("df_shape")
    if not isinstance(shape, list) or shape[:1] != [rows]:
        return (
            False,
            f"`df` should hold the {rows:,} development customers of customers.csv, got shape {shape}.",
        )
    p = facts.get("problem")
    if not isinstance(p, dict):
        return False, "`problem` should be a dict with target, task and metric."
    if p.get("target") != TARGET:
        return False, f"The target is {p.get('target')!r}; we predict whether a customer left: 'churned'."
    if p.get("task") != "classification":
        return False, f"The task is {p.get('task')!r}; predicting a yes/no outcome is classification."
    metric = p.get("metric")
    if metric == "accuracy":
        return False, (
            f"Accuracy with {rate:.0%} churners gives {1 - rate:.0%} to a model that says 'stays' for everyone. "
            f"Choose one of {', '.join(METRICS)}."
        )
    if metric not in METRICS:
        return False, f"`metric` is {metric!r}; use one of scikit-learn's scorer names {', '.join(METRICS)}."
    if not _close(facts.get("churn_rate"), rate, 1e-3):
        return (
            False,
            f"`churn_rate` should be the mean of the target column ({rate:.3f}), got {facts.get('churn_rate')}.",
        )
    return True, f"Predict `churned` (a classification) and judge by {metric}; {rate:.1%} of customers churn."


def check_split(facts: dict[str, Any]) -> Verdict:
    if msg := _guard(facts):
        return False, msg
    cols = facts.get("x_columns")
    if not isinstance(cols, list):
        return False, "`X` should be a DataFrame of features."
    if TARGET in cols:
        return False, "`X` still holds the target `churned`: a model would simply read the answer."
    if "customer_id" in cols:
        return False, "Drop `customer_id` from `X`: an identifier says nothing about a new customer."
    rows, _ = _dev()
    sizes = facts.get("sizes") or {}
    want = {"X_train": rows * 3 // 4, "X_val": rows // 4, "y_train": rows * 3 // 4, "y_val": rows // 4}
    if sizes != want:
        return False, f"Sizes are {sizes}; a 75/25 split of {rows:,} rows gives {want}."
    if facts.get("overlap") != 0:
        return False, "Training and validation rows overlap; split with `train_test_split`."
    rates = facts.get("rates")
    if not isinstance(rates, list) or len(rates) != 2 or not _close(rates[0], rates[1], 0.005):
        return (
            False,
            f"Churn rates in training and validation are {rates}; pass `stratify=y` to keep them equal.",
        )
    return (
        True,
        f"{len(cols)} features; {want['X_train']:,} rows to train on, {want['X_val']} to compare models, same churn rate in both.",
    )


def check_baseline(facts: dict[str, Any]) -> Verdict:
    if msg := _guard(facts):
        return False, msg
    ref = facts.get("ref") or {}
    if not isinstance(ref, dict) or ref.get("dummy") is None:
        return False, "`dummy` is not fitted: `dummy.fit(X_train, y_train)`."
    if ref.get("logistic") is None:
        return False, "`logistic` is not fitted: `logistic.fit(X_train, y_train)`."
    if facts.get("logistic_fit_on_train") is False:
        return (
            False,
            "`logistic` was fitted on other rows than `X_train, y_train`; fit it on the training set only.",
        )
    scores = facts.get("scores")
    if not isinstance(scores, dict):
        return False, "`scores` should be a dict of validation scores."
    for name in ("dummy", "logistic"):
        if not _close(scores.get(name), ref[name]):
            return False, (
                f"`scores[{name!r}]` is {scores.get(name)} but `{name}` scores {ref[name]} on the validation set with "
                f"{facts.get('metric')}: use `scorer({name}, X_val, y_val)`."
            )
    d, lg = float(ref["dummy"]), float(ref["logistic"])
    if lg <= d + 0.05:
        return (
            False,
            f"Logistic regression ({lg:.3f}) barely beats the dummy ({d:.3f}); check the preprocessing.",
        )
    return (
        True,
        f"Dummy {d:.3f}, logistic regression {lg:.3f} on the validation set: every later number is read against these.",
    )


def check_improve(facts: dict[str, Any]) -> Verdict:
    if msg := _guard(facts):
        return False, msg
    if not facts.get("improved_fitted"):
        return False, "`improved` is not fitted: `improved.fit(X_train, y_train)`."
    scores = facts.get("scores") or {}
    if not _close(scores.get("improved"), facts.get("ref_improved")):
        return (
            False,
            f"`scores['improved']` should be the validation score of `improved` ({facts.get('ref_improved')}).",
        )
    cv = facts.get("cv")
    if not isinstance(cv, dict) or set(cv) != {"logistic", "improved"}:
        return False, "`cv_scores` should hold the 5 fold scores of 'logistic' and 'improved'."
    for name, folds in cv.items():
        if not isinstance(folds, list) or len(folds) != 5 or not all(_num(x) is not None for x in folds):
            return False, f"`cv_scores[{name!r}]` should hold 5 fold scores (`cv=5`)."
    ref = facts.get("ref_cv_logistic")
    if (
        not isinstance(ref, list)
        or len(ref) != 5
        or not all(_close(a, b) for a, b in zip(cv["logistic"], ref, strict=True))
    ):
        return False, (
            "`cv_scores['logistic']` differs from 5-fold cross-validation of `logistic` on `X_train, y_train` with the "
            "problem's metric: `cross_val_score(logistic, X_train, y_train, cv=5, scoring=problem['metric'])`."
        )
    means = {k: sum(v) / 5 for k, v in cv.items()}
    better = max(means, key=lambda k: means[k])
    if facts.get("chosen") not in means:
        return False, "`chosen` should be 'logistic' or 'improved'."
    if facts["chosen"] != better:
        return False, (
            f"Mean CV scores: logistic {means['logistic']:.3f}, improved {means['improved']:.3f}; `chosen` should "
            f"be {better!r}, the one cross-validation favours."
        )
    verdict = (
        "Your idea wins, on both cross-validation and the validation set."
        if better == "improved" and (_num(scores.get("improved")) or 0) >= (_num(scores.get("logistic")) or 0)
        else "Keeping the simpler model when the idea does not win is a result worth reporting."
        if better == "logistic"
        else "It wins on cross-validation; the single validation split is noisier."
    )
    return True, (
        f"Mean CV: logistic {means['logistic']:.3f}, improved {means['improved']:.3f}; validation: logistic "
        f"{scores.get('logistic')}, improved {scores.get('improved')}. {verdict}"
    )


def check_final(facts: dict[str, Any]) -> Verdict:
    err = facts.get("error")
    if isinstance(err, str) and err:
        return (
            False,
            f"Looking at your variables raised {err}; check that the step's code ran without errors.",
        )
    if not facts.get("final_fitted"):
        return False, "`final_model` is not fitted: `final_model.fit(X, y)`."
    if facts.get("chosen_estimator") and facts.get("final_estimator") != facts.get("chosen_estimator"):
        return False, (
            f"`final_model` ends in {facts.get('final_estimator')}, but the chosen model ends in "
            f"{facts.get('chosen_estimator')}: refit the model you chose (`clone(...)`)."
        )
    if not facts.get("fit_on_all_dev"):
        rows, _ = _dev()
        return False, (
            f"`final_model` was not fitted on all {rows:,} development rows (`X, y`), or not reproducibly: refit a "
            "`clone` of the chosen pipeline on `X, y` (with `random_state=0` where the model has one)."
        )
    hs = facts.get("holdout_scores")
    if not isinstance(hs, dict):
        return False, "`holdout_scores` should be a dict with 'dummy' and 'final'."
    for name, key in (("dummy", "ref_dummy"), ("final", "ref_final")):
        if not _close(hs.get(name), facts.get(key)):
            return False, (
                f"`holdout_scores[{name!r}]` is {hs.get(name)}, but that model scores {facts.get(key)} on the "
                "500 holdout customers."
            )
    final, dummy = float(facts["ref_final"]), float(facts["ref_dummy"])
    if final <= dummy:
        return False, f"The final model ({final:.3f}) does not beat the dummy ({dummy:.3f}) on the holdout."
    return True, f"On 500 customers nobody looked at: final model {final:.3f}, dummy {dummy:.3f}."


def check_report(facts: dict[str, Any]) -> Verdict:
    err = facts.get("error")
    if isinstance(err, str) and err:
        return (
            False,
            f"Looking at your variables raised {err}; check that the step's code ran without errors.",
        )
    r = facts.get("report")
    if not isinstance(r, dict):
        return False, "`report` should be a dict."
    hs, scores = facts.get("holdout_scores") or {}, facts.get("scores") or {}
    if r.get("problem") != facts.get("problem") or not r.get("problem"):
        return (
            False,
            "Put the `problem` dict in the report, so a reader knows what was predicted and how it was scored.",
        )
    chosen = facts.get("chosen")
    if r.get("model") != chosen:
        return False, f"`report['model']` is {r.get('model')!r}; the model you chose is {chosen!r}."
    if not _close(r.get("baseline_holdout"), hs.get("dummy"), 1e-4):
        return (
            False,
            f"`baseline_holdout` should be the dummy's holdout score ({hs.get('dummy')}): a number without its baseline means little.",
        )
    if not _close(r.get("validation"), scores.get(str(chosen)), 1e-4):
        return (
            False,
            f"`validation` should be the chosen model's validation score ({scores.get(str(chosen))}).",
        )
    if not _close(r.get("holdout"), hs.get("final"), 1e-4):
        return False, f"`holdout` should be the final model's holdout score ({hs.get('final')})."
    lim = r.get("limitations")
    good = [x for x in lim if isinstance(x, str) and len(x.split()) >= 5] if isinstance(lim, list) else []
    if len(good) < 2:
        return False, (
            "Give at least two limitations, each a real sentence (5+ words): what the data does not cover, what "
            "could go wrong in use, what you would try next."
        )
    v, h, b = float(r["validation"]), float(r["holdout"]), float(r["baseline_holdout"])
    gap = h - v
    return True, (
        f"Report complete: {chosen} scores {h:.3f} on the holdout against a baseline of {b:.3f} "
        f"({'down' if gap < 0 else 'up'} {abs(gap):.3f} from validation), with {len(good)} limitations. "
        "This is the skeleton of your capstone's evaluation section."
    )


guard_checks(globals())  # every check_* fails with a message instead of raising
