# 50 MB of output at import, then a correct answer: grading must survive the flood.
import sys

import numpy as np

sys.stdout.write("x" * 50_000_000)
sys.stderr.write("y" * 10_000_000)


def gradient_descent(X, y, lr=0.01, epochs=1000):
    X, y = np.asarray(X, float), np.asarray(y, float)
    n = len(y)
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(epochs):
        r = X @ w + b - y
        w, b = w - lr * (2 / n) * X.T @ r, b - lr * (2 / n) * r.sum()
    return w, b
