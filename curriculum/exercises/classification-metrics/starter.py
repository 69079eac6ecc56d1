def precision_recall_f1(y_true, y_pred, positive=1):
    """Return (precision, recall, f1) for the class `positive` as floats."""
    # TODO
    raise NotImplementedError
