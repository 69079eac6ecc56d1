import numpy as np


def kmeans(X, k, n_iter=100, seed=0):
    """Cluster X (n, d) into k clusters. Returns (centroids (k, d), labels (n,))."""
    X = np.asarray(X, dtype=float)
    rng = np.random.default_rng(seed)
    # TODO: initialise the centroids, then alternate assignment and update steps
    raise NotImplementedError
