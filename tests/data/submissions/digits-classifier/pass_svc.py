from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC


def build_model():
    return make_pipeline(StandardScaler(), SVC(C=10))
