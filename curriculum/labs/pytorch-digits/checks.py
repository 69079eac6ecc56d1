"""Checks of the pytorch-digits lab (TRUSTED: runs outside the sandbox on the probe's facts).

Each ``check_<name>(facts) -> (passed, message)`` reads only plain JSON values and fails with a
message, never an exception, when a fact is missing or of the wrong type.
"""

from __future__ import annotations

import math
from typing import Any

from curriculum.labs.guard import guard_checks
from curriculum.labs.guard import number as _num
from curriculum.labs.guard import probe_error as _probe_error

Verdict = tuple[bool, str]
LN10 = math.log(10)


def check_tensors(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    want = {
        "X_train": ([1347, 64], "float32"),
        "X_test": ([450, 64], "float32"),
        "y_train": ([1347], "int64"),
        "y_test": ([450], "int64"),
    }
    for name, (shape, dtype) in want.items():
        t = facts.get(name)
        if not isinstance(t, dict):
            return False, f"`{name}` is not a torch tensor; wrap it with `torch.tensor(...)`."
        if t.get("shape") != shape:
            return False, f"`{name}` has shape {t.get('shape')}; expected {shape}."
        if t.get("dtype") != dtype:
            hint = "`dtype=torch.float32`" if dtype == "float32" else "`dtype=torch.long`"
            return False, (
                f"`{name}` is {t.get('dtype')}; it must be {dtype} ({hint}). "
                + (
                    "Layers hold float32 weights, and NumPy's default float64 would not multiply with them."
                    if dtype == "float32"
                    else "Cross-entropy wants class indices as int64."
                )
            )
    for name in ("X_train", "X_test"):
        t = facts[name]
        lo, hi = t.get("min"), t.get("max")
        if not isinstance(lo, int | float) or not isinstance(hi, int | float) or lo < 0 or hi > 1.0001:
            return False, f"`{name}` ranges from {lo} to {hi}; divide the pixels by 16 so they lie in [0, 1]."
        if hi < 0.5:
            return False, f"`{name}` tops out at {hi}; divide by 16 (the largest pixel value), not more."
    return (
        True,
        "Float32 pixels in [0, 1] and int64 labels: 1,347 digits to learn from, 450 kept for testing.",
    )


def check_model(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    if not facts.get("is_module"):
        return False, "`model` is not an `nn.Module`; create it with `model = MLP()`."
    acts = facts.get("activations") or []
    if not isinstance(acts, list):
        acts = []
    if "Softmax" in acts or "LogSoftmax" in acts or facts.get("rows_sum_to_one"):
        return False, (
            "The model ends in a softmax: `nn.CrossEntropyLoss` applies log-softmax itself, so return the "
            "raw logits from `forward`."
        )
    n_linear = facts.get("n_linear")
    if not isinstance(n_linear, int) or n_linear < 2:
        return False, (
            f"The model has {n_linear} Linear layer(s): that is a linear classifier. Add a hidden layer "
            "(64 -> hidden -> 10)."
        )
    if not acts:
        return False, (
            "There is no non-linearity between the Linear layers, so they collapse into one linear map; "
            "put an `nn.ReLU()` between them."
        )
    if facts.get("out_shape") != [5, 10]:
        return (
            False,
            f"For 5 images the model returns shape {facts.get('out_shape')}; expected (5, 10): one logit per digit.",
        )
    return True, f"An MLP with {facts.get('n_params')} parameters that maps 64 pixels to 10 logits."


def check_loss(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    if facts.get("loss_fn") != "CrossEntropyLoss":
        return False, f"`loss_fn` is {facts.get('loss_fn')}; use `nn.CrossEntropyLoss()`."
    v, ref = _num(facts, "initial_loss"), _num(facts, "ref_loss")
    if v is None:
        return False, "`initial_loss` should be a number: `loss.item()` of the loss on the training set."
    if ref is not None and abs(v - ref) > 0.05:
        return False, (
            f"`initial_loss` is {v:.3f} but the model's loss on `X_train`, `y_train` is {ref:.3f}. "
            "Compute it before any training, on the whole training set."
        )
    if not 1.9 <= v <= 2.7:
        return (
            False,
            f"A fresh 10-class network should start near ln 10 = {LN10:.2f}; yours starts at {v:.2f}.",
        )
    n, with_grad = facts.get("n_tensors"), facts.get("with_grad")
    if not isinstance(n, int) or with_grad != n:
        return False, f"{with_grad} of {n} parameter tensors have a gradient: call `loss.backward()`."
    return True, (
        f"Initial loss {v:.3f}, close to ln 10 = {LN10:.3f}: the untrained network guesses uniformly, as it "
        "should. Every parameter now holds a gradient."
    )


def check_train(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    losses = facts.get("losses")
    if not isinstance(losses, list) or not losses:
        return False, "`losses` is empty: append each epoch's mean training loss."
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in losses):
        return False, "`losses` should hold numbers (use `loss.item()`)."
    vals = [float(v) for v in losses]
    if any(not math.isfinite(v) for v in vals):
        return (
            False,
            "The loss became NaN or infinite: the learning rate is too high or the inputs are not scaled.",
        )
    if len(vals) < 10:
        return False, f"`losses` has {len(vals)} epochs; train for at least 10."
    first, last = vals[0], vals[-1]
    if last > 0.5 * first:
        return False, (
            f"The loss went from {first:.3f} to {last:.3f}: it should fall below half. Are you calling "
            "`opt.zero_grad()`, `loss.backward()` and `opt.step()` for every batch?"
        )
    acc = _num(facts, "train_acc")
    acc_txt = f"; training accuracy {acc:.1%}" if acc is not None else ""
    return (
        True,
        f"The mean training loss fell from {first:.3f} to {last:.3f} over {len(vals)} epochs{acc_txt}.",
    )


def check_evaluate(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    v, true = _num(facts, "test_acc"), _num(facts, "true_test_acc")
    if v is None:
        return (
            False,
            "`test_acc` should be a number: `(logits.argmax(dim=1) == y_test).float().mean().item()`.",
        )
    if true is None:
        return False, "The check could not run the model on `X_test`; rerun the earlier steps."
    if v > 1.0:
        return (
            False,
            f"`test_acc` is {v}: a fraction lies in [0, 1]; divide the count of correct answers by 450.",
        )
    if abs(v - true) > 0.003:
        return False, f"`test_acc` is {v:.4f} but the model classifies {true:.4f} of `X_test` correctly."
    if not 0.9 <= true <= 1.0:
        return False, f"Test accuracy {true:.1%} is low; an MLP trained as in the last step reaches over 90%."
    tr = _num(facts, "true_train_acc")
    gap = f" (training: {tr:.1%})" if tr is not None else ""
    return True, f"{true:.1%} of the 450 unseen digits are read correctly{gap}."


def check_dropout(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    if not facts.get("is_module"):
        return False, "`drop_model` is not an `nn.Module`."
    ps = facts.get("dropout_p")
    if not isinstance(ps, list) or not ps:
        return False, "`drop_model` has no `nn.Dropout` layer; add `nn.Dropout(p=0.3)` after the ReLU."
    if not all(isinstance(p, int | float) and 0 < p < 1 for p in ps):
        return False, f"Dropout probabilities {ps} should lie strictly between 0 and 1."
    if facts.get("training_mode"):
        return False, (
            "`drop_model` is still in training mode, so dropout is randomly silencing units while you "
            "evaluate: call `drop_model.eval()` before measuring."
        )
    v, true = _num(facts, "drop_test_acc"), _num(facts, "true_test_acc")
    if v is None or true is None:
        return False, "`drop_test_acc` should be a number: the test accuracy of `drop_model` in eval mode."
    if abs(v - true) > 0.003:
        return False, (
            f"`drop_test_acc` is {v:.4f} but `drop_model` in eval mode scores {true:.4f}: was dropout still "
            "on when you measured?"
        )
    if true < 0.9:
        return (
            False,
            f"`drop_model` reaches only {true:.1%}; train it (a fresh Adam on its parameters) before evaluating.",
        )
    base = _num(facts, "test_acc")
    cmp = f" against {base:.1%} without dropout" if base is not None else ""
    differ = (
        " In training mode the same input gives different outputs each time;"
        if facts.get("train_mode_outputs_differ")
        else ""
    )
    return True, (
        f"With dropout the wider network scores {true:.1%}{cmp}.{differ} in eval mode dropout is off and "
        "predictions are deterministic."
    )


guard_checks(globals())  # every check_* fails with a message instead of raising
