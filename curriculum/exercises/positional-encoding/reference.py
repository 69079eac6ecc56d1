"""Trusted reference for positional-encoding (runs in the grader only, never in a sandbox)."""

from __future__ import annotations

import numpy as np


def solution(n_positions, d_model):
    p = np.arange(n_positions, dtype=float)[:, None]
    j = np.arange(d_model)[None, :]
    angle = p / 10000 ** (2 * (j // 2) / d_model)
    return np.where(j % 2 == 0, np.sin(angle), np.cos(angle))
