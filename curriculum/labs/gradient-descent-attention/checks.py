"""Checks of the gradient-descent-attention lab. Every expected number is recomputed here in
plain Python from the bundled CSV or from the probe's fixed inputs."""

from __future__ import annotations

import csv
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "regression.csv"
Verdict = tuple[bool, str]
Matrix = list[list[float]]


@lru_cache(maxsize=1)
def _data() -> tuple[Matrix, list[float]]:
    with DATA.open(newline="", encoding="utf-8") as f:
        rows = [[float(v) for v in r] for r in list(csv.reader(f))[1:] if r]
    return [[1.0, r[0], r[1]] for r in rows], [r[2] for r in rows]


def _mse(w: list[float], X: Matrix, y: list[float]) -> float:
    return sum(
        (sum(a * b for a, b in zip(row, w, strict=True)) - t) ** 2 for row, t in zip(X, y, strict=True)
    ) / len(y)


def _grad(w: list[float], X: Matrix, y: list[float]) -> list[float]:
    r = [sum(a * b for a, b in zip(row, w, strict=True)) - t for row, t in zip(X, y, strict=True)]
    return [2 / len(y) * sum(row[j] * ri for row, ri in zip(X, r, strict=True)) for j in range(len(w))]


def _solve(A: Matrix, b: list[float]) -> list[float]:
    n = len(b)
    M = [row[:] + [b[i]] for i, row in enumerate(A)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(M[r][c]))
        M[c], M[p] = M[p], M[c]
        for r in range(n):
            if r != c:
                f = M[r][c] / M[c][c]
                M[r] = [a - f * b for a, b in zip(M[r], M[c], strict=True)]
    return [M[i][n] / M[i][i] for i in range(n)]


@lru_cache(maxsize=1)
def _optimum() -> tuple[float, ...]:
    X, y = _data()
    XtX = [[sum(row[i] * row[j] for row in X) for j in range(3)] for i in range(3)]
    Xty = [sum(row[i] * t for row, t in zip(X, y, strict=True)) for i in range(3)]
    return tuple(_solve(XtX, Xty))


@lru_cache(maxsize=4)
def _gd_final(lr: float, steps: int) -> float:
    X, y = _data()
    w = [0.0, 0.0, 0.0]
    for _ in range(steps):
        g = _grad(w, X, y)
        w = [a - lr * b for a, b in zip(w, g, strict=True)]
        if any(abs(v) > 1e12 for v in w):
            return math.inf
    return _mse(w, X, y)


def _nums(x: Any) -> list[float] | None:
    if isinstance(x, list) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in x):
        return [float(v) for v in x]
    return None


def _matrix(x: Any) -> Matrix | None:
    if isinstance(x, list) and x and all(_nums(r) is not None for r in x):
        return [[float(v) for v in r] for r in x]
    return None


def _close(a: Matrix, b: Matrix, tol: float = 1e-4) -> bool:
    return len(a) == len(b) and all(
        len(r) == len(s) and all(abs(u - v) <= tol for u, v in zip(r, s, strict=True))
        for r, s in zip(a, b, strict=True)
    )


def _attention(
    q: Matrix, k: Matrix, v: Matrix, mask: list[list[bool]] | None = None
) -> tuple[Matrix, Matrix]:
    d = len(k[0])
    weights = []
    for i, qi in enumerate(q):
        s = [sum(a * b for a, b in zip(qi, kj, strict=True)) / math.sqrt(d) for kj in k]
        if mask is not None:
            s = [x if mask[i][j] else -math.inf for j, x in enumerate(s)]
        m = max(s)
        e = [math.exp(x - m) for x in s]
        weights.append([x / sum(e) for x in e])
    out = [[sum(w * v[j][c] for j, w in enumerate(row)) for c in range(len(v[0]))] for row in weights]
    return out, weights


def check_design_matrix(facts: dict[str, Any]) -> Verdict:
    X, y = _data()
    for name in ("y", "Xb"):
        if facts.get(f"{name}_type") == "NoneType":
            return False, f"`{name}` is still None: build it from `data` (see the task)."
    if facts.get("y_shape") != [len(y)]:
        return (
            False,
            f"`y` should be the target column, shape ({len(y)},); it has shape {facts.get('y_shape')} ({facts.get('y_type')}).",
        )
    if facts.get("Xb_shape") != [len(X), 3]:
        return (
            False,
            f"`Xb` should have shape ({len(X)}, 3): a column of ones, x1, x2; it has {facts.get('Xb_shape')} ({facts.get('Xb_type')}).",
        )
    want = [round(sum(row[j] for row in X), 4) for j in range(3)]
    got = _nums(facts.get("Xb_colsums")) or []
    if len(got) != 3 or abs(got[0] - len(X)) > 1e-6:
        return False, "The first column of `Xb` should be all ones (it carries the intercept)."
    if any(abs(a - b) > 1e-3 for a, b in zip(got, want, strict=True)):
        return (
            False,
            "The columns of `Xb` should be [1, x1, x2] in that order (x1 and x2 are the first two columns of the file).",
        )
    ys = _nums(facts.get("y_colsums"))
    if not ys or abs(ys[0] - sum(y)) > 1e-3:
        return False, "`y` should be the last column of the file, `y`."
    return True, f"`Xb` is ({len(X)}, 3) with an intercept column of ones, and `y` has {len(y)} targets."


def check_loss_and_gradient(facts: dict[str, Any]) -> Verdict:
    X, y = _data()
    ws = [[0.0, 0.0, 0.0], [1.0, 2.0, -1.0], [4.0, 3.0, -2.0]]
    if not facts.get("mse_defined") or not facts.get("grad_defined"):
        return False, "Define both functions `mse(w, X, y)` and `grad(w, X, y)`."
    mses, grads = facts.get("mse") or [], facts.get("grad") or []
    for i, w in enumerate(ws):
        want = _mse(w, X, y)
        got = mses[i] if i < len(mses) else None
        if not isinstance(got, int | float) or isinstance(got, bool):
            return (
                False,
                f"`mse` at w={w} returned {got!r}; it should return one number. {facts.get('mse_error', '')}".strip(),
            )
        if abs(got - want) > 1e-4 * max(1.0, abs(want)):
            hint = " (did you forget to square, or divide by n?)" if got else ""
            return False, f"`mse` at w={w} gives {got:.6g}; the mean squared error there is {want:.6g}{hint}."
    for i, w in enumerate(ws):
        want_g = _grad(w, X, y)
        got_g = _nums(grads[i] if i < len(grads) else None)
        if got_g is None or len(got_g) != 3:
            return (
                False,
                f"`grad` at w={w} should return 3 numbers; got {grads[i] if i < len(grads) else None!r}. {facts.get('grad_error', '')}".strip(),
            )
        if any(abs(a - b) > 1e-4 * max(1.0, abs(b)) for a, b in zip(got_g, want_g, strict=True)):
            if all(abs(a + b) <= 1e-4 * max(1.0, abs(b)) for a, b in zip(got_g, want_g, strict=True)):
                return (
                    False,
                    "`grad` has the wrong sign: it should point uphill, $\\frac{2}{n}X^\\top(Xw - y)$.",
                )
            return (
                False,
                f"`grad` at w={w} gives {[round(v, 4) for v in got_g]}; expected {[round(v, 4) for v in want_g]}.",
            )
    return True, "Both are exact: the gradient at w=0 is " + str(
        [round(v, 3) for v in _grad(ws[0], X, y)]
    ) + "."


def check_descend(facts: dict[str, Any]) -> Verdict:
    X, y = _data()
    opt = _optimum()
    w = _nums(facts.get("w"))
    if w is None or len(w) != 3:
        return False, f"`w` should hold 3 weights after the loop; it is {facts.get('w')!r}."
    n = facts.get("n_losses")
    if n != 1000:
        return False, f"`losses` should have one value per step (1000); it has {n}."
    if not isinstance(facts.get("increases"), int) or facts["increases"] > 0:
        return (
            False,
            f"The loss went up {facts.get('increases')} times; with lr=0.1 it should only go down. Check the sign of the update.",
        )
    gap = max(abs(a - b) for a, b in zip(w, opt, strict=True))
    if gap > 1e-3:
        return (
            False,
            f"`w` = {[round(v, 4) for v in w]} is not yet the least-squares optimum {[round(v, 4) for v in opt]}.",
        )
    return (
        True,
        f"`w` = {[round(v, 3) for v in w]} matches the exact solution; the loss fell from {facts.get('first_loss')} to {facts.get('last_loss')}.",
    )


def check_learning_rate(facts: dict[str, Any]) -> Verdict:
    fl = facts.get("final_loss")
    rates = [0.01, 0.1, 0.5]
    if not isinstance(fl, dict) or sorted(fl) != sorted(str(r) for r in rates):
        return False, f"`final_loss` should have the keys 0.01, 0.1 and 0.5; it is {fl!r}."
    for r in rates:
        want, got = _gd_final(r, 200), fl.get(str(r))
        if math.isinf(want):
            if not (got == "inf" or (isinstance(got, int | float) and (math.isnan(got) or got > 1e6))):
                return (
                    False,
                    f"With lr={r} the loss should blow up after 200 steps, but `final_loss[{r}]` is {got}.",
                )
        elif not isinstance(got, int | float) or abs(got - want) > 1e-4 * max(1.0, want):
            return False, f"`final_loss[{r}]` is {got}; 200 steps from w=0 give {want:.6f}."
    best = min(rates, key=lambda r: _gd_final(r, 200))
    if facts.get("best_lr") != best:
        return False, f"`best_lr` is {facts.get('best_lr')}, but lr={best} ended with the lowest loss."
    return (
        True,
        f"lr=0.01 is still far away ({_gd_final(0.01, 200):.3f}), lr=0.1 converged, lr=0.5 diverged: it is above 2/4.45.",
    )


def _attention_case(facts: dict[str, Any], name: str, q: Matrix, k: Matrix, v: Matrix) -> str | None:
    case = facts.get(name)
    if not isinstance(case, dict) or "error" in case:
        err = case.get("error") if isinstance(case, dict) else "no result"
        return f"`attention` failed on a {name} example: {err}"
    want_out, want_w = _attention(q, k, v)
    got_w, got_out = _matrix(case.get("weights")), _matrix(case.get("out"))
    if got_w is None or got_out is None:
        return "`attention` should return two arrays, `(out, weights)`."
    if any(abs(sum(r) - 1) > 1e-4 for r in got_w):
        return f"The rows of `weights` sum to {[round(sum(r), 3) for r in got_w]}; a softmax over each row makes them sum to 1."
    if not _close(got_w, want_w):
        unscaled = _attention([[x * math.sqrt(len(k[0])) for x in r] for r in q], k, v)[1]
        if _close(got_w, unscaled):
            return "The weights are a softmax of $QK^\\top$ without the $1/\\sqrt{d_k}$ scaling."
        return f"On the {name} example `weights` is {[[round(x, 3) for x in r] for r in got_w]}; expected {[[round(x, 3) for x in r] for r in want_w]}."
    if not _close(got_out, want_out):
        return "The weights are right but `out` is not `weights @ V`."
    return None


CASES = {
    "small": ([[1.0, 0.0, 1.0, 0.0], [0.0, 2.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]],
              [[0.5, 1.0, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 2.0]],
              [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]),
    "wide": ([[0.3 * i - 0.1 * j for j in range(9)] for i in range(2)],
             [[0.2 * j - 0.05 * i * j for j in range(9)] for i in range(4)],
             [[float(i), float(-i)] for i in range(4)]),
}  # fmt: skip


def check_attention(facts: dict[str, Any]) -> Verdict:
    if not facts.get("defined"):
        return False, "Define `attention(Q, K, V, mask=None)`."
    for name, (q, k, v) in CASES.items():
        problem = _attention_case(facts, name, q, k, v)
        if problem:
            return False, problem
    return (
        True,
        "Exact on both examples: each row of `weights` is a distribution over the keys, scaled by $1/\\sqrt{d_k}$.",
    )


def check_causal_mask(facts: dict[str, Any]) -> Verdict:
    want_mask = [[1 if j <= i else 0 for j in range(4)] for i in range(4)]
    if facts.get("mask") != want_mask:
        return (
            False,
            f"`causal_mask(4)` is {facts.get('mask') or facts.get('mask_error')}; expected True on and below the diagonal: {want_mask}.",
        )
    if facts.get("mask_dtype") != "bool":
        return False, f"`causal_mask` should return booleans (dtype bool), not {facts.get('mask_dtype')}."
    q = [[1.0, 0.0, 1.0, 0.0], [0.0, 2.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0], [0.5, -1.0, 0.0, 1.0]]
    v = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, -1.0]]
    got_w, got_out = _matrix(facts.get("weights")), _matrix(facts.get("out"))
    if got_w is None or got_out is None:
        return False, f"`attention(Q, K, V, mask=...)` failed: {facts.get('attention_error', 'no result')}."
    if any(got_w[i][j] > 1e-9 for i in range(4) for j in range(4) if j > i):
        return (
            False,
            "With the causal mask, weights above the diagonal must be exactly 0: set masked scores to -inf before the softmax.",
        )
    want_out, want_w = _attention(q, q, v, [[j <= i for j in range(4)] for i in range(4)])
    if not _close(got_w, want_w) or not _close(got_out, want_out):
        return (
            False,
            f"The masked weights are {[[round(x, 3) for x in r] for r in got_w]}; expected {[[round(x, 3) for x in r] for r in want_w]}.",
        )
    return True, "The first token attends only to itself (weight 1.0), and no row looks ahead."
