from sklearn.decomposition import PCA


def pca(X, n_components):
    model = PCA(n_components=n_components, svd_solver="full").fit(X)
    return model.transform(X), model.explained_variance_ratio_
