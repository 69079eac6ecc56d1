"""PNG plots for training jobs: the live loss curve, a confusion matrix, residuals.

matplotlib with the Agg backend (no display, thread-safe enough for one figure at a time when
each call builds its own ``Figure`` instead of using pyplot's global state).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _figure(width: float = 6.0, height: float = 4.0) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="tight")


def _save(fig: Any, path: str | Path | None) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


def loss_curve_png(
    history: Sequence[dict[str, Any]], path: str | Path | None = None, *, title: str = ""
) -> bytes:
    """Training loss (every logged step) and validation loss (every evaluation) against step.

    Returns the PNG bytes (also written to ``path`` when given). An empty history gives an empty
    plot that says so, so the UI can show something while a job starts.
    """
    fig = _figure()
    ax = fig.add_subplot()
    train = [(h["step"], h["loss"]) for h in history if h.get("loss") is not None]
    val = [(h["step"], h["val_loss"]) for h in history if h.get("val_loss") is not None]
    if train:
        ax.plot(*zip(*train, strict=True), label="train loss", linewidth=1.2)
    if val:
        ax.plot(*zip(*val, strict=True), "o-", label="val loss", linewidth=1.5)
    if not train and not val:
        ax.text(0.5, 0.5, "no steps logged yet", ha="center", va="center", transform=ax.transAxes)
    else:
        ax.legend()
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy loss")
    ax.set_title(title or "loss")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def confusion_matrix_png(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    labels: Sequence[str],
    path: str | Path | None = None,
    *,
    title: str = "",
) -> bytes:
    """Counts of (true class, predicted class) over the cross-validation predictions."""
    from sklearn.metrics import confusion_matrix

    classes = np.unique(np.concatenate([y_true, y_pred]))
    cm = confusion_matrix(y_true, y_pred, labels=classes)
    names = [labels[int(c)] if labels and 0 <= int(c) < len(labels) else str(c) for c in classes]
    size = max(4.0, 0.45 * len(classes) + 2.5)
    fig = _figure(size, size)
    ax = fig.add_subplot()
    im = ax.imshow(cm, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    threshold = cm.max() / 2 if cm.size else 0
    for (i, j), v in np.ndenumerate(cm):
        ax.text(
            j, i, str(v), ha="center", va="center", color="white" if v > threshold else "black", fontsize=8
        )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "confusion matrix")
    return _save(fig, path)


def residuals_png(
    y_true: np.ndarray, y_pred: np.ndarray, path: str | Path | None = None, *, title: str = ""
) -> bytes:
    """Residual (true - predicted) against prediction: a pattern here is what the model misses."""
    fig = _figure(7.0, 3.5)
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    resid = y_true - y_pred
    left.scatter(y_pred, resid, s=8, alpha=0.6)
    left.axhline(0.0, color="black", linewidth=0.8)
    left.set_xlabel("predicted")
    left.set_ylabel("residual (true - predicted)")
    right.scatter(y_true, y_pred, s=8, alpha=0.6)
    lo, hi = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
    right.plot([lo, hi], [lo, hi], color="black", linewidth=0.8)
    right.set_xlabel("true")
    right.set_ylabel("predicted")
    fig.suptitle(title or "residuals")
    return _save(fig, path)
