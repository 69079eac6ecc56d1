import numpy as np


def _lloyd(X, centroids, n_iter):
    for _ in range(n_iter):
        labels = np.linalg.norm(X[:, None] - centroids[None], axis=2).argmin(1)
        new = centroids.copy()
        for j in range(len(centroids)):
            if np.any(labels == j):
                new[j] = X[labels == j].mean(0)
        if np.array_equal(new, centroids):
            break
        centroids = new
    labels = np.linalg.norm(X[:, None] - centroids[None], axis=2).argmin(1)
    return centroids, labels


def kmeans(X, k, n_iter=100, seed=0):
    X = np.asarray(X, dtype=float)
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(10):  # plain random starts, keep the best
        c, lab = _lloyd(X, X[rng.choice(len(X), k, replace=False)].copy(), n_iter)
        inertia = ((X - c[lab]) ** 2).sum()
        if best is None or inertia < best[0]:
            best = (inertia, c, lab)
    return best[1], best[2]
