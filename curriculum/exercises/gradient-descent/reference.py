"""Trusted reference for gradient-descent (runs in the grader only, never in a sandbox)."""

from __future__ import annotations

import numpy as np


def solution(X, y, lr=0.01, epochs=1000):
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, d = X.shape
    w, b = np.zeros(d), 0.0
    for _ in range(epochs):
        r = X @ w + b - y
        w, b = w - lr * (2 / n) * (X.T @ r), b - lr * (2 / n) * r.sum()
    return w, float(b)


def _sequential(X, y, lr=0.01, epochs=1000):
    """The other reading of the update rule: b's residual uses the already-updated w."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, d = X.shape
    w, b = np.zeros(d), 0.0
    for _ in range(epochs):
        w = w - lr * (2 / n) * (X.T @ (X @ w + b - y))
        b = b - lr * (2 / n) * (X @ w + b - y).sum()
    return w, float(b)


def gen_regression(n, d, seed, noise=0.1, offset=0.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w_true = rng.uniform(-2, 2, size=d)
    y = X @ w_true + 0.5 + offset + noise * rng.normal(size=n)
    return {"args": {"X": X, "y": y}}


def check_iterates(args, got, expected, rtol=1e-5, atol=1e-7):
    """(w, b) after exactly `epochs` updates; the sequential update order is accepted too."""
    if not isinstance(got, tuple | list) or len(got) != 2:
        return False, f"expected a tuple (w, b), got {type(got).__name__}"
    w = np.asarray(got[0], dtype=float)
    b = np.asarray(got[1], dtype=float)
    w_exp, b_exp = expected
    if w.shape != w_exp.shape:
        return False, f"expected w of shape {w_exp.shape}, got shape {w.shape}"
    if b.size != 1:
        return False, f"expected b to be one number, got shape {b.shape}"
    alt = _sequential(args["X"], args["y"], args.get("lr", 0.01), args.get("epochs", 1000))
    for w_ok, b_ok in (expected, alt):
        if np.allclose(w, w_ok, rtol=rtol, atol=atol) and np.allclose(b, b_ok, rtol=rtol, atol=atol):
            return True, ""
    show_w = np.array2string(w_exp, precision=6, threshold=10)
    got_w = np.array2string(w, precision=6, threshold=10)
    return False, f"expected w={show_w}, b={b_exp:.6g}; got w={got_w}, b={float(b.reshape(-1)[0]):.6g}"
