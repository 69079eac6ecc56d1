import numpy as np


def gradient_descent(X, y, lr=0.01, epochs=1000):
    # updates w first, then b with the new w: the statement's rule read line by line
    X, y = np.asarray(X, float), np.asarray(y, float)
    n = len(y)
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(epochs):
        w -= lr * (2 / n) * X.T @ (X @ w + b - y)
        b -= lr * (2 / n) * np.sum(X @ w + b - y)
    return w, float(b)
