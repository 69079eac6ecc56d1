import numpy as np


def gradient_descent(X, y, lr=0.01, epochs=1000):
    """Fit X @ w + b to y by full-batch gradient descent on the mean squared error.

    Returns (w, b): w of shape (d,), b a float.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, d = X.shape
    w = np.zeros(d)
    b = 0.0
    # TODO: exactly `epochs` updates of w and b
    return w, b
