"""Trusted reference for pca (runs in the grader only, never in a sandbox)."""

from __future__ import annotations

import numpy as np


def solution(X, n_components):
    X = np.asarray(X, dtype=float)
    Xc = X - X.mean(axis=0)
    _, s, vt = np.linalg.svd(Xc, full_matrices=False)
    Z = Xc @ vt[:n_components].T
    return Z, (s[:n_components] ** 2) / (s**2).sum()


def gen_data(n, d, n_components, seed, offset=0.0):
    """Gaussian data with clearly distinct variances along random orthogonal directions."""
    rng = np.random.default_rng(seed)
    scales = np.geomspace(6.0, 0.5, num=d)
    basis, _ = np.linalg.qr(rng.normal(size=(d, d)))
    X = (rng.normal(size=(n, d)) * scales) @ basis.T + offset + rng.normal(size=d)
    return {"args": {"X": X, "n_components": n_components}}


def check_components(args, got, expected, rtol=1e-4, atol=1e-6):
    """Z equal to the reference up to the sign of each column; ratios equal."""
    if not isinstance(got, tuple | list) or len(got) != 2:
        return False, f"expected a tuple (Z, explained_variance_ratio), got {type(got).__name__}"
    z_exp, r_exp = expected
    z, r = np.asarray(got[0], dtype=float), np.asarray(got[1], dtype=float)
    if r.shape != r_exp.shape:
        return False, f"expected explained_variance_ratio of shape {r_exp.shape}, got shape {r.shape}"
    if not np.allclose(r, r_exp, rtol=rtol, atol=atol):
        e, g = np.array2string(r_exp, precision=4), np.array2string(r, precision=4)
        return False, f"expected explained_variance_ratio={e}, got {g}"
    if z.shape != z_exp.shape:
        return False, f"expected Z of shape {z_exp.shape}, got shape {z.shape}"
    scale = atol * max(1.0, float(np.abs(z_exp).max()))
    for j in range(z_exp.shape[1]):
        if not (np.allclose(z[:, j], z_exp[:, j], rtol=rtol, atol=scale)
                or np.allclose(z[:, j], -z_exp[:, j], rtol=rtol, atol=scale)):  # fmt: skip
            e = np.array2string(z_exp[:4, j], precision=4)
            g = np.array2string(z[:4, j], precision=4)
            return False, f"column {j} of Z differs (up to sign): expected it to start {e}, got {g}"
    return True, ""
