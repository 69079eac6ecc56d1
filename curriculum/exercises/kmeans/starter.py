import numpy as np


def kmeans(X, k, n_iter=100, seed=0):
    """Cluster X (n, d) into k clusters. Returns (centroids (k, d), labels (n,))."""
    X = np.asarray(X, dtype=float)
    rng = np.random.default_rng(seed)
    centroids = X[rng.choice(len(X), size=k, replace=False)]  # TODO: a sounder start (k-means++)
    labels = np.zeros(len(X), dtype=int)
    # TODO: alternate assignment and update steps
    return centroids, labels
