"""Trusted comparisons: run in the grader's process on plain data decoded from the sandbox."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from curriculum.exercises import show


def as_number_array(value: Any) -> np.ndarray | None:
    """``value`` as a float array, or None when it is not numeric (strings, ragged lists...)."""
    if isinstance(value, str | dict) or value is None:
        return None
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return arr


def close_one(got: Any, expected: Any, *, rtol: float, atol: float, label: str = "") -> tuple[bool, str]:
    """One numeric value or array: same shape, finite where expected is, within tolerance."""
    exp = np.asarray(expected, dtype=float)
    arr = as_number_array(got)
    what = f"{label}=" if label else ""
    if arr is None:
        return False, f"expected {what}{show(expected)}, got a {type(got).__name__}: {show(got)}"
    if arr.shape != exp.shape:
        return False, f"expected {what}shape {exp.shape}, got shape {arr.shape}: {show(got)}"
    if not np.all(np.isfinite(arr[np.isfinite(exp)])):
        return False, f"expected {what}{show(expected)}, got non-finite values (nan/inf): {show(got)}"
    if not np.allclose(arr, exp, rtol=rtol, atol=atol, equal_nan=True):
        return False, f"expected {what}{show(expected)}, got {show(got)}"
    return True, ""


def allclose(
    got: Any, expected: Any, *, rtol: float = 1e-6, atol: float = 1e-9, names: Sequence[str] = ()
) -> tuple[bool, str]:
    """``expected`` is a value or a tuple of values; ``got`` must match element by element."""
    if not isinstance(expected, tuple):
        return close_one(got, expected, rtol=rtol, atol=atol)
    if not isinstance(got, tuple | list) or len(got) != len(expected):
        shape = (
            f"a tuple of {len(expected)} ({', '.join(names)})"
            if names
            else f"a tuple of {len(expected)} values"
        )
        return False, f"expected {shape}, got {show(got)}"
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        ok, msg = close_one(g, e, rtol=rtol, atol=atol, label=names[i] if i < len(names) else f"item {i}")
        if not ok:
            return False, msg
    return True, ""


def run_check(
    reference: Any, check: dict[str, Any], args: dict[str, Any], got: Any, expected: Any
) -> tuple[bool, str]:
    """Apply a test's check; a check that trips over a strange value fails the test, never the grader."""
    options = {k: v for k, v in check.items() if k not in ("kind", "fn")}
    try:
        if check.get("kind") == "custom":
            fn = getattr(reference, f"check_{check['fn']}")
            passed, message = fn(args, got, expected, **options)
            return bool(passed), str(message)
        return allclose(got, expected, **options)
    except Exception as e:  # the value came from learner code: report it, do not crash
        return False, f"the returned value could not be checked ({type(e).__name__}: {e}); got {show(got)}"
