import numpy as np


def gradient_descent(X, y, lr=0.01, epochs=1000):
    X, y = np.asarray(X, float), np.asarray(y, float)
    n = len(y)
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(epochs + 1):
        r = X @ w + b - y
        w, b = w - lr * (2 / n) * X.T @ r, b - lr * (2 / n) * r.sum()
    return w, b
