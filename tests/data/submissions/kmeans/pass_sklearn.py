from sklearn.cluster import KMeans


def kmeans(X, k, n_iter=100, seed=0):
    model = KMeans(n_clusters=k, n_init=10, max_iter=n_iter, random_state=seed).fit(X)
    return model.cluster_centers_, model.predict(X)
