# A "model" that finds each test image in sklearn's bundled copy of the data set and returns its
# label: the grader hides that data, so this must not pass.
import numpy as np


class Lookup:
    def fit(self, X, y):
        from sklearn.datasets import load_digits

        data = load_digits()
        self.table = {row.tobytes(): label for row, label in zip(data.data, data.target)}
        return self

    def predict(self, X):
        return np.array([self.table.get(np.asarray(row, dtype=float).tobytes(), 0) for row in X])


def build_model():
    return Lookup()
