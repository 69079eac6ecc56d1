import numpy as np


def gradient_descent(X, y, lr=0.01, epochs=1000):
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, d = X.shape
    w = np.zeros(d)
    b = 0.0
    for _ in range(epochs):
        r = X @ w + b - y
        w = w - lr * (2 / n) * X.T @ r
        b = b - lr * (2 / n) * r.sum()
    return w, b
