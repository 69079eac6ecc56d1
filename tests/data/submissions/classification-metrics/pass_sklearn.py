import warnings

from sklearn.metrics import precision_recall_fscore_support


def precision_recall_f1(y_true, y_pred, positive=1):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, r, f, _ = precision_recall_fscore_support(
            list(y_true), list(y_pred), labels=[positive], average=None, zero_division=0
        )
    return float(p[0]), float(r[0]), float(f[0])
