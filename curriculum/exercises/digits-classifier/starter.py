from sklearn.linear_model import LogisticRegression


def build_model():
    """Return an unfitted estimator with fit(X, y) and predict(X)."""
    # TODO: choose (and tune) a model that reaches >= 0.95 accuracy
    return LogisticRegression(max_iter=50)
