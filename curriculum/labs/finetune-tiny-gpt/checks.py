"""Checks of the finetune-tiny-gpt lab (TRUSTED: runs outside the sandbox on the probe's facts).

Each ``check_<name>(facts) -> (passed, message)`` reads only plain JSON values and fails with a
message, never an exception, when a fact is missing or of the wrong type. After the ``spec`` step
(``action: train_job``) the engine adds the training job as ``facts["job"]``: ``{"job_id",
"status", "progress", "metrics": {"history": [...], ...}, "model_id", "error"}``.

The token count of the bundled notes cannot be recomputed here (stdlib only, no BPE), so it is
fixed: the two files in ``data/`` without their front matter, encoded with ``data/tokenizer.json``
(the tutor-gpt tokenizer), give 5,202 tokens, the same count the job's own corpus builder gives
(4,681 train + 521 validation). Only the model's shape and tokenizer matter here, never its weights.
"""

from __future__ import annotations

import math
from typing import Any

from curriculum.labs.guard import guard_checks
from curriculum.labs.guard import probe_error as _probe_error

Verdict = tuple[bool, str]
N_TOKENS = 5202
V, P, L, D = 4139, 512, 4, 256  # models/tutor-gpt/config.json
N_PARAMS = V * D + P * D + L * (12 * D * D + 13 * D) + 2 * D  # 4,350,208
LORA_R = 8
LORA_TRAINABLE = L * LORA_R * (D + 3 * D)  # 32,768
TOPICS = {"m6.hyperparameter-tuning", "m7.activations"}
SHAPE_KEYS = ("n_layer", "n_head", "n_embd", "vocab_size", "tokenizer")
# a 4.35M-parameter fine-tune on 2 busy CPU cores: the reference spec (30 steps of 8 x 64 tokens, 5 evaluations)
# took 27-46 s as a whole job, ~20 s of it starting and loading; these caps keep any spec near that
LIMITS = {"max_steps": (10, 40), "batch_size": (1, 8), "block_size": (16, 64), "eval_iters": (1, 5)}
EPOCHS = (2, 4)  # passes over the training tokens: fewer hardly adapt, more memorise
EVAL_POINTS = (4, 10)  # validation points on the curve: enough to read it, few enough to stay quick
OVERFIT_MARGIN = 0.02


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)


def _job_note(facts: dict[str, Any]) -> str:
    """A short line on the training job's state, for messages of the steps while it runs."""
    job = facts.get("job")
    if not isinstance(job, dict):
        return ""
    status, progress = job.get("status"), _num(job.get("progress"))
    if status == "running" and progress is not None:
        return f" Meanwhile your job is {progress:.0%} done."
    phrase = {"queued": "is queued", "running": "is running", "succeeded": "has finished",
              "failed": "has failed (the last step says why)"}.get(str(status))  # fmt: skip
    return f" Meanwhile your training job {phrase}." if phrase else ""


# --- corpus ---


def check_corpus(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    if facts.get("front_matter_left"):
        return False, (
            f"{', '.join(map(str, facts['front_matter_left']))} still carry the front matter; keep only what "
            "follows the second `---` line (`raw.split('---', 2)[2]`)."
        )
    n_tokens, n_params, ratio = (
        _num(facts.get("n_tokens")),
        _num(facts.get("n_params")),
        _num(facts.get("params_per_token")),
    )
    if n_tokens is None:
        return (
            False,
            "`n_tokens` should be a number: the length of `tok.encode(text).ids`, summed over both notes.",
        )
    if abs(n_tokens - N_TOKENS) > 0.02 * N_TOKENS:
        near_words = 2700 if n_tokens < N_TOKENS / 1.5 else None
        extra = " That looks like a word count; count the tokenizer's ids." if near_words else ""
        return (
            False,
            f"`n_tokens` is {n_tokens:.0f}; the two notes' bodies hold about {N_TOKENS:,} tokens.{extra}",
        )
    if n_params is None:
        return False, "`n_params` should be a number computed with the formula."
    if n_params != N_PARAMS:
        if n_params == N_PARAMS + V * D:
            return (
                False,
                "`n_params` counts the output layer separately; with weight tying it shares the token embeddings.",
            )
        return (
            False,
            f"`n_params` is {n_params:,.0f}; the formula gives {N_PARAMS:,} for V={V}, P={P}, L={L}, d={D}.",
        )
    if ratio is None or abs(ratio - n_params / n_tokens) > 0.01 * (n_params / n_tokens):
        return False, f"`params_per_token` should be n_params / n_tokens = {n_params / n_tokens:.1f}."
    return True, (
        f"{n_tokens:,.0f} tokens of text for {N_PARAMS:,} parameters: about {ratio:.0f} parameters per token. "
        "The model could memorise this corpus, so the run must stay short and gentle."
    )


# --- spec ---


def _epochs(params: dict[str, Any]) -> float:
    return params["max_steps"] * params["batch_size"] * params["block_size"] / (0.9 * N_TOKENS)


def check_spec(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    if facts.get("spec_not_json"):
        return False, "`job_spec` must hold plain values only (strings, numbers, lists, dicts)."
    spec = facts.get("job_spec")
    if not isinstance(spec, dict):
        return False, 'Define `job_spec = {"kind": "gpt", "params": {...}}`.'
    if spec.get("kind") != "gpt":
        return False, f"`job_spec['kind']` is {spec.get('kind')!r}; a GPT training job is kind 'gpt'."
    params = spec.get("params")
    if not isinstance(params, dict):
        return False, "`job_spec['params']` should be a dict of training options."
    base = params.get("base")
    if base == "scratch" or base is None:
        return False, (
            f"base={base!r} would train a new model from random weights; fine-tune the pre-trained one: "
            "`'base': 'tutor-gpt'`."
        )
    if base != "tutor-gpt":
        return False, f"base={base!r}; this lab fine-tunes the tutor's bundled model 'tutor-gpt'."
    given = [k for k in SHAPE_KEYS if k in params]
    if given:
        return False, f"Leave out {given}: a fine-tune keeps the base model's shape and tokenizer."
    data = params.get("data")
    if not isinstance(data, list) or set(data) != TOPICS or len(data) != len(TOPICS):
        return False, f"`data` is {data!r}; train on the two held-out notes: {sorted(TOPICS)}."
    for key, (lo, hi) in LIMITS.items():
        v = params.get(key)
        if not isinstance(v, int) or isinstance(v, bool):
            return False, f"Set `{key}` to a whole number between {lo} and {hi}, got {v!r}."
        if not lo <= v <= hi:
            why = " to keep the job well under a minute" if key != "block_size" else ""
            return False, f"`{key}` is {v}; keep it between {lo} and {hi}{why}."
    lr = _num(params.get("lr"))
    if lr is None or lr <= 0:
        return False, "Set a learning rate `lr`, e.g. 5e-4."
    if lr > 1e-3:
        return False, (
            f"lr={lr:g} is too large for fine-tuning: big steps overwrite what pre-training learned. "
            "Stay at or below 1e-3 (e.g. 5e-4)."
        )
    if lr < 1e-5:
        return (
            False,
            f"lr={lr:g} is so small that {params['max_steps']} steps would barely move the weights; try 5e-4.",
        )
    ev = params.get("eval_interval")
    if not isinstance(ev, int) or isinstance(ev, bool) or ev < 1:
        return False, "Set `eval_interval` (whole steps), so the job measures validation loss along the way."
    points = params["max_steps"] // ev
    if points < EVAL_POINTS[0]:
        return (
            False,
            f"With eval_interval={ev} the curve gets {points} validation points; use at most max_steps / "
            f"{EVAL_POINTS[0]}.",
        )
    if points > EVAL_POINTS[1]:
        return False, (
            f"With eval_interval={ev} the curve gets {points} validation points and the job spends its time "
            f"validating; use at least max_steps / {EVAL_POINTS[1]}."
        )
    if "seed" not in params or not isinstance(params.get("seed"), int):
        return False, "Set a `seed` (e.g. 0) so the run can be repeated exactly."
    if params.get("lora"):
        return (
            False,
            "Leave LoRA off for this run (`lora` False or absent); the next step works out what it would change.",
        )
    want = _epochs(params)
    epochs = _num(facts.get("epochs"))
    if epochs is None:
        return (
            False,
            f"`epochs` should be a number: max_steps x batch_size x block_size / (0.9 x n_tokens) = {want:.2f}.",
        )
    if abs(epochs - want) > 0.03 * want:
        return False, (
            f"`epochs` is {epochs:.2f}; {params['max_steps']} x {params['batch_size']} x {params['block_size']} tokens "
            f"over 0.9 x {N_TOKENS:,} training tokens make {want:.2f} passes."
        )
    if not EPOCHS[0] <= want <= EPOCHS[1]:
        return False, (
            f"This run makes {want:.1f} passes over the data; aim for {EPOCHS[0]} to {EPOCHS[1]} (change "
            "max_steps, batch_size or block_size): too few and the model hardly adapts, too many and it memorises."
        )
    return True, (
        f"A fine-tune of tutor-gpt: {params['max_steps']} steps of {params['batch_size']} x {params['block_size']} "
        f"tokens ({want:.1f} epochs) at lr {lr:g}, validated every {ev} steps."
    )


# --- lora ---


def check_lora(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    t = _num(facts.get("lora_trainable"))
    if t is None:
        return False, f"`lora_trainable` should be a number: r x (d_in + d_out) per block, times {L} blocks."
    if t != LORA_TRAINABLE:
        if t == LORA_TRAINABLE / L:
            return False, f"{t:,.0f} is one block's adapters; the model has {L} blocks."
        if t == L * LORA_R * 2 * D:
            return (
                False,
                f"`c_attn` maps d = {D} inputs to 3d = {3 * D} outputs (query, key and value together).",
            )
        return (
            False,
            f"`lora_trainable` is {t:,.0f}; expected {L} x {LORA_R} x ({D} + {3 * D}) = {LORA_TRAINABLE:,}.",
        )
    share = _num(facts.get("lora_share"))
    want = LORA_TRAINABLE / N_PARAMS
    if share is None or abs(share - want) > 0.02 * want:
        return False, f"`lora_share` should be lora_trainable / n_params = {want:.4f}."
    spec, base = facts.get("lora_spec"), facts.get("job_spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("params"), dict):
        return False, "`lora_spec` should be a copy of `job_spec` with LoRA switched on."
    p = spec["params"]
    if p.get("lora") is not True or p.get("lora_r") != LORA_R:
        return False, "In `lora_spec['params']` set `'lora': True` and `'lora_r': 8`."
    if isinstance(base, dict) and isinstance(base.get("params"), dict) and base["params"].get("lora"):
        return (
            False,
            "`job_spec` itself changed: copy it (`copy.deepcopy`) before switching LoRA on in the copy.",
        )
    if p.get("base") != "tutor-gpt":
        return False, "LoRA adapts an existing model: keep `'base': 'tutor-gpt'` in `lora_spec`."
    return True, (
        f"LoRA with r=8 would train {LORA_TRAINABLE:,} numbers, {want:.1%} of the model, and leave the "
        f"pre-trained weights untouched.{_job_note(facts)}"
    )


# --- read-curve ---


def reference_read_curve(history: Any) -> dict[str, Any]:
    """What ``read_curve`` must return (the step's text defines it)."""
    evals = [
        h
        for h in (history if isinstance(history, list) else [])
        if isinstance(h, dict) and _num(h.get("val_loss")) is not None
    ]
    if not evals:
        return {"first_val": None, "best_val": None, "best_step": None, "last_val": None, "overfitting": None}
    best = min(evals, key=lambda h: float(h["val_loss"]))  # min keeps the first of equals
    first, last = float(evals[0]["val_loss"]), float(evals[-1]["val_loss"])
    return {
        "first_val": first,
        "best_val": float(best["val_loss"]),
        "best_step": best.get("step"),
        "last_val": last,
        "overfitting": last > float(best["val_loss"]) + OVERFIT_MARGIN,
    }


# the probe's curves, kept in step with lab.yaml
CURVES: dict[str, list[dict[str, Any]]] = {
    "falling": [{"step": s, "loss": 5 - s / 50, "val_loss": 5.1 - s / 60} for s in (10, 20, 30, 40)],
    "u_shape": [
        {"step": 5, "loss": 4.8, "val_loss": 4.9},
        {"step": 10, "loss": 4.2, "val_loss": 4.5},
        {"step": 15, "loss": 3.6, "val_loss": 4.4},
        {"step": 20, "loss": 3.1, "val_loss": 4.6},
    ],
    "sparse": [
        {"step": 1, "loss": 6.0},
        {"step": 2, "loss": 5.5, "val_loss": 5.6},
        {"step": 3, "loss": 5.1},
        {"step": 4, "loss": 4.9, "val_loss": 5.2},
        {"step": 5, "loss": 4.8, "val_loss": None},
        {"step": 6, "loss": 4.6, "val_loss": 5.2},
    ],
    "no_val": [{"step": 1, "loss": 6.0}, {"step": 2, "loss": 5.0}],
}
WHY = {
    "falling": "a curve that keeps falling",
    "u_shape": "a curve whose validation loss turns up at the end",
    "sparse": "a history where only some records have a `val_loss` (two equally good ones at steps 4 and 6)",
    "no_val": "a history without any `val_loss`",
}


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(b, bool) or isinstance(a, bool):
        return a is b
    fa, fb = _num(a), _num(b)
    return fa is not None and fb is not None and abs(fa - fb) < 1e-6


def check_read_curve(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    if not facts.get("has_fn"):
        return False, "`read_curve` is not defined."
    results = facts.get("results")
    if not isinstance(results, dict):
        return False, "The check could not call `read_curve`."
    for name, hist in CURVES.items():
        got, want = results.get(name), reference_read_curve(hist)
        if not isinstance(got, dict):
            return False, f"On {WHY[name]}, `read_curve` should return a dict, got {got!r}."
        if "raised" in got:
            return False, f"On {WHY[name]}, `read_curve` raised {got['raised']}."
        for key, value in want.items():
            if key not in got:
                return (
                    False,
                    f"The result has no {key!r}; return first_val, best_val, best_step, last_val, overfitting.",
                )
            if not _same(got[key], value):
                shown = round(value, 4) if isinstance(value, float) else value
                return False, f"On {WHY[name]}, `{key}` should be {shown!r}, got {got[key]!r}."
    return (
        True,
        f"`read_curve` reads all four test curves right, including the one that overfits.{_job_note(facts)}",
    )


# --- interpret ---


def _job(facts: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    job = facts.get("job")
    if not isinstance(job, dict):
        return None, (
            "No training job is attached to this lab yet: pass the 'Write the job spec' step first; the "
            "tutor starts the job when its check passes."
        )
    status = job.get("status")
    if status in ("queued", "running"):
        progress = _num(job.get("progress"))
        done = f" ({progress:.0%} done)" if progress is not None else ""
        return None, f"Your job {job.get('job_id')} is still {status}{done}; check again in a few seconds."
    if status != "succeeded":
        err = job.get("error") or "no reason recorded"
        return (
            None,
            f"Your job {job.get('job_id')} ended {status}: {err}. Fix the spec step and run it again.",
        )
    return job, None


def check_interpret(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    job, why = _job(facts)
    if job is None:
        return False, why or "No job."
    metrics = job.get("metrics") if isinstance(job.get("metrics"), dict) else {}
    history = metrics.get("history") if isinstance(metrics, dict) else None
    curve = reference_read_curve(history)
    if curve["best_val"] is None:
        return (
            False,
            "Your job recorded no validation loss; set `eval_interval` in the spec and run it again.",
        )
    improved = curve["best_val"] < curve["first_val"] - 0.005
    train = [
        float(h["loss"]) for h in history or [] if isinstance(h, dict) and _num(h.get("loss")) is not None
    ]
    story = (
        f"Your job: validation loss {curve['first_val']:.2f} at the first evaluation, best {curve['best_val']:.2f} "
        f"at step {curve['best_step']}, {curve['last_val']:.2f} at the end"
    )
    if train:
        story += f"; training loss {train[0]:.2f} -> {train[-1]:.2f}"
    story += "."
    answer = facts.get("val_improved")
    if not isinstance(answer, bool):
        return False, f"{story} Set `val_improved` to True or False from that curve."
    if answer != improved:
        return False, (
            f"{story} So validation loss {'did' if improved else 'did not'} improve: `val_improved` should be "
            f"{improved}."
        )
    move = facts.get("next_move")
    if move not in ("a", "b", "c"):
        return False, f"{story} Now answer `next_move` with 'a', 'b' or 'c'."
    if move == "a":
        return False, (
            "More steps make it worse: past the best validation step the model is memorising the training "
            "text. Try again."
        )
    if move == "c":
        return (
            False,
            "A larger learning rate makes the model fit (and memorise) the training text faster. Try again.",
        )
    tail = (
        " It ended above its best, so early stopping at that step would have kept the better model."
        if curve["overfitting"]
        else " It had not turned up yet, so this short run stopped in time."
    )
    model = f" The fine-tuned model is registered as {job.get('model_id')}." if job.get("model_id") else ""
    return True, f"{story}{tail} Right: stop at the best validation step, or regularise.{model}"


guard_checks(globals())  # every check_* fails with a message instead of raising
