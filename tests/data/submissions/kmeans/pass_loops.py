import random


def _d2(a, b):
    return sum((x - y) ** 2 for x, y in zip(a, b))


def kmeans(X, k, n_iter=100, seed=0):
    X = [list(map(float, row)) for row in X]
    rng = random.Random(seed)
    centroids = [X[rng.randrange(len(X))]]
    while len(centroids) < k:  # k-means++ seeding, in plain Python
        weights = [min(_d2(x, c) for c in centroids) for x in X]
        centroids.append(X[rng.choices(range(len(X)), weights=weights)[0]])
    labels = []
    for _ in range(n_iter):
        labels = [min(range(k), key=lambda j: _d2(x, centroids[j])) for x in X]
        new = []
        for j in range(k):
            members = [x for x, lab in zip(X, labels) if lab == j]
            new.append([sum(col) / len(members) for col in zip(*members)] if members else centroids[j])
        if new == centroids:
            break
        centroids = new
    labels = [min(range(k), key=lambda j: _d2(x, centroids[j])) for x in X]
    return centroids, labels
