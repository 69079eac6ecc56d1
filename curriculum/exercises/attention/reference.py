"""Trusted reference for attention (runs in the grader only, never in a sandbox)."""

from __future__ import annotations

import numpy as np


def solution(Q, K, V, mask=None):
    Q, K, V = (np.asarray(a, dtype=float) for a in (Q, K, V))
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights = weights / weights.sum(axis=-1, keepdims=True)
    return weights @ V, weights


def gen_random(q_shape, k_shape, d_v, seed, scale=1.0, mask=None):
    """Random Q, K, V; ``mask`` is None, "causal", or a shape for a random mask (diagonal kept)."""
    rng = np.random.default_rng(seed)
    Q = rng.normal(size=q_shape) * scale
    K = rng.normal(size=k_shape) * scale
    V = rng.normal(size=(*k_shape[:-1], d_v))
    args = {"Q": Q, "K": K, "V": V}
    n_q, n_k = q_shape[-2], k_shape[-2]
    if mask == "causal":
        args["mask"] = np.tril(np.ones((n_q, n_k), dtype=bool))
    elif mask is not None:
        m = rng.random(size=mask) < 0.6
        m[..., 0] = True  # every row may attend to at least one key
        args["mask"] = m
    return {"args": args}


def check_attention(args, got, expected, rtol=1e-4, atol=1e-6):
    if not isinstance(got, tuple | list) or len(got) != 2:
        return False, f"expected a tuple (output, weights), got {type(got).__name__}"
    out_exp, w_exp = expected
    for name, value, exp in (("output", got[0], out_exp), ("weights", got[1], w_exp)):
        arr = np.asarray(value, dtype=float)
        if arr.shape != exp.shape:
            return False, f"expected {name} of shape {exp.shape}, got shape {arr.shape}"
        if not np.all(np.isfinite(arr)):
            return False, f"{name} contains nan or inf: the softmax is not numerically stable"
        if not np.allclose(arr, exp, rtol=rtol, atol=atol):
            e = np.array2string(exp, precision=4, threshold=12)
            g = np.array2string(arr, precision=4, threshold=12)
            return False, f"expected {name}={e}, got {g}"
    if args.get("mask") is not None:
        masked = ~np.broadcast_to(args["mask"], w_exp.shape)
        if np.any(np.asarray(got[1], dtype=float)[masked] != 0.0):
            return False, "masked positions must have a weight of exactly 0"
    return True, ""
