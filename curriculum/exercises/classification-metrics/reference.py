"""Trusted reference for classification-metrics (runs in the grader only, never in a sandbox)."""

from __future__ import annotations

import random


def solution(y_true, y_pred, positive=1):
    pairs = list(zip(y_true, y_pred, strict=True))
    tp = sum(1 for t, p in pairs if t == positive and p == positive)
    fp = sum(1 for t, p in pairs if t != positive and p == positive)
    fn = sum(1 for t, p in pairs if t == positive and p != positive)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return float(precision), float(recall), float(f1)


def gen_labels(n, classes, positive, seed, accuracy=0.7):
    rng = random.Random(seed)
    y_true = [rng.choice(classes) for _ in range(n)]
    y_pred = [t if rng.random() < accuracy else rng.choice(classes) for t in y_true]
    return {"args": {"y_true": y_true, "y_pred": y_pred, "positive": positive}}
