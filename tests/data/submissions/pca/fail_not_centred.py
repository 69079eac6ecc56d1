import numpy as np


def pca(X, n_components):
    X = np.asarray(X, dtype=float)
    U, S, Vt = np.linalg.svd(X, full_matrices=False)
    return X @ Vt[:n_components].T, S[:n_components] ** 2 / np.sum(S**2)
