"""Trusted reference for digits-classifier (runs in the grader only, never in a sandbox).

The held-out labels are produced here and compared here; the sandbox only gets the training
part and the held-out pixels."""

from __future__ import annotations

import numpy as np


def solution():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    return make_pipeline(StandardScaler(), SVC(C=10, gamma="scale"))


def gen_split(seed, train_fraction=0.7, subsample=None):
    """Stratified split of load_digits; ``subsample`` keeps a quick, smaller fit."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=train_fraction, stratify=y, random_state=seed
    )
    if subsample is not None:
        X_train, y_train = X_train[:subsample], y_train[:subsample]
        X_test, y_test = X_test[: subsample // 4], y_test[: subsample // 4]
    return {"args": {"X_train": X_train, "y_train": y_train, "X_test": X_test}, "expected": y_test}


def _predictions(got, expected):
    pred = np.asarray(got)
    if pred.shape != expected.shape:
        return (
            None,
            f"expected one prediction per held-out image, shape {expected.shape}, got shape {pred.shape}",
        )
    if pred.dtype.kind not in "iuf" or not np.all(np.isin(pred, np.arange(10))):
        return None, "predictions must be digit labels 0..9"
    return pred.astype(int), ""


def check_predicts(args, got, expected):
    pred, msg = _predictions(got, expected)
    return pred is not None, msg


def check_accuracy(args, got, expected, minimum=0.95):
    pred, msg = _predictions(got, expected)
    if pred is None:
        return False, msg
    accuracy = float((pred == expected).mean())
    if accuracy < minimum:
        return False, f"expected accuracy >= {minimum:.2f} on the held-out 30%, got {accuracy:.3f}"
    return True, f"accuracy {accuracy:.3f}"
