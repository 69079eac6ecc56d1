"""Plain-data wire format between the grading sandbox and the trusted grader.

Values are JSON; arrays travel as ``.npy`` bytes (base64) and are always loaded with
``allow_pickle=False``, tuples and dicts are tagged. Nothing here can build an object with
behaviour: decoding gives only None, bool, int, float, str, list, tuple, dict[str, ...] and
numeric/bool/str ndarrays, so a learner's object whose ``__eq__`` always says True never
reaches a comparison. This module runs on both sides (it is bound into the sandbox): standard
library and numpy only.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

MAX_DEPTH = 8
MAX_ITEMS = 100_000
_ARRAY_KINDS = "biufU"  # bool, int, uint, float, unicode; never object ("O") or void


class WireError(ValueError):
    """A value that cannot cross the sandbox boundary."""


def encode(value: Any, depth: int = 0) -> Any:
    """Learner value -> JSON-able plain data. Raises WireError for anything else."""
    if depth > MAX_DEPTH:
        raise WireError("the returned value is nested too deeply")
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, bool | int | float | str):  # subclasses: keep only the plain value
        for base in (bool, int, float, str):
            if isinstance(value, base):
                return base(value)
    if isinstance(value, np.generic):
        return encode(value.item(), depth + 1)
    if isinstance(value, np.ndarray):
        return _encode_array(value)
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        return _encode_array(np.asarray(value.detach().cpu().numpy()))
    if isinstance(value, tuple | list):
        if len(value) > MAX_ITEMS:
            raise WireError(f"the returned sequence has more than {MAX_ITEMS} items")
        items = [encode(v, depth + 1) for v in value]
        return {"t": "tuple", "items": items} if isinstance(value, tuple) else items
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise WireError("only dicts with string keys can be returned")
        return {"t": "dict", "items": {str(k): encode(v, depth + 1) for k, v in value.items()}}
    raise WireError(
        f"returned a {type(value).__name__}, which cannot be graded: return numbers, strings, "
        "lists, tuples or numpy arrays"
    )


def _encode_array(arr: np.ndarray) -> dict[str, str]:
    arr = np.asarray(arr)
    if arr.dtype.kind not in _ARRAY_KINDS:
        raise WireError(f"returned an array of dtype {arr.dtype}; use numbers, not Python objects")
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return {"t": "nd", "npy": base64.b64encode(buf.getvalue()).decode("ascii")}


def decode(obj: Any, depth: int = 0) -> Any:
    """Plain data -> values (the inverse of ``encode``), strict about what it accepts."""
    if depth > MAX_DEPTH + 1:
        raise WireError("value nested too deeply")
    if obj is None or type(obj) in (bool, int, float, str):
        return obj
    if type(obj) is list:
        return [decode(v, depth + 1) for v in obj]
    if type(obj) is dict:
        tag = obj.get("t")
        if tag == "nd" and type(obj.get("npy")) is str:
            try:
                arr = np.load(io.BytesIO(base64.b64decode(obj["npy"], validate=True)), allow_pickle=False)
            except Exception as e:  # malformed bytes from the sandbox: report, never crash
                raise WireError(f"malformed array: {e}") from None
            if not isinstance(arr, np.ndarray) or arr.dtype.kind not in _ARRAY_KINDS:
                raise WireError("array of an unsupported dtype")
            return arr
        if tag == "tuple" and type(obj.get("items")) is list:
            return tuple(decode(v, depth + 1) for v in obj["items"])
        if tag == "dict" and type(obj.get("items")) is dict:
            return {str(k): decode(v, depth + 1) for k, v in obj["items"].items()}
    raise WireError(f"unexpected value on the wire: {type(obj).__name__}")
