import numpy as np


def pca(X, n_components):
    X = np.asarray(X, dtype=float)
    Xc = X - X.mean(axis=0)
    U, S, Vt = np.linalg.svd(Xc, full_matrices=False)
    Z = U[:, :n_components] * S[:n_components]
    return Z, S[:n_components] ** 2 / np.sum(S**2)
