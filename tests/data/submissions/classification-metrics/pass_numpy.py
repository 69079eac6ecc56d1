import numpy as np


def precision_recall_f1(y_true, y_pred, positive=1):
    t = np.asarray(y_true) == positive
    p = np.asarray(y_pred) == positive
    tp = np.sum(t & p)
    precision = tp / p.sum() if p.sum() else 0.0
    recall = tp / t.sum() if t.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return float(precision), float(recall), float(f1)
