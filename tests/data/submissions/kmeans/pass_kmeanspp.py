import numpy as np


def kmeans(X, k, n_iter=100, seed=0):
    X = np.asarray(X, dtype=float)
    rng = np.random.default_rng(seed)
    centroids = X[[rng.integers(len(X))]]
    while len(centroids) < k:  # k-means++: far points are likelier next centres
        d2 = ((X[:, None] - centroids[None]) ** 2).sum(-1).min(1)
        centroids = np.vstack([centroids, X[rng.choice(len(X), p=d2 / d2.sum())]])
    for _ in range(n_iter):
        labels = ((X[:, None] - centroids[None]) ** 2).sum(-1).argmin(1)
        new = np.array([X[labels == j].mean(0) if np.any(labels == j) else centroids[j] for j in range(k)])
        if np.allclose(new, centroids):
            break
        centroids = new
    labels = ((X[:, None] - centroids[None]) ** 2).sum(-1).argmin(1)
    return centroids, labels
