from sklearn.tree import DecisionTreeClassifier


def build_model():
    return DecisionTreeClassifier(max_depth=3, random_state=0)
