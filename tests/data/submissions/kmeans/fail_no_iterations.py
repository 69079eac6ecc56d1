import numpy as np


def kmeans(X, k, n_iter=100, seed=0):
    X = np.asarray(X, dtype=float)
    centroids = X[:k].copy()  # first k points, never moved
    labels = ((X[:, None] - centroids[None]) ** 2).sum(-1).argmin(1)
    return centroids, labels
