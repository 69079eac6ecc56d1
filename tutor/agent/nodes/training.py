"""Training node: start a job from a chat request, report its progress, announce its result
(metrics, loss/confusion plot, model id) when asked or when the learner comes back."""

from __future__ import annotations

import re
from typing import Any

from tools.training.jobs import FINISHED  # one set of job states (interrupted included)
from tutor.agent import prompts as P
from tutor.agent.nodes import Services, Update, attr, emit_text, last_human_text, use_tool
from tutor.agent.nodes.confirm import ask
from tutor.agent.nodes.teach import mentioned_topics
from tutor.usecases import jobs as job_cases

CHAT_MAX_STEPS = 200  # a job started from chat should finish in minutes on a laptop CPU
_STATUS = re.compile(
    r"\b(status|progress|done|finish\w*|going|ready|metrics?|loss|results?|plot|curve|how is|how's|list|show|"
    r"which model|model id|still|cancel|stop)\b",
    re.I,
)
_START = re.compile(r"\b(start|launch|kick off|begin|train|re-?train|fine-?tune|finetune)\b", re.I)
_SKLEARN = re.compile(
    r"\b(sklearn|scikit|classifier|regressor|random forest|logistic|svm|svc|knn|nearest|decision tree|boosting|"
    r"naive bayes|mlp|iris|digits|wine|breast cancer|diabetes|ridge|lasso)\b",
    re.I,
)
_DATASETS = {
    "iris": "iris",
    "digits": "digits",
    "wine": "wine",
    "breast cancer": "breast_cancer",
    "diabetes": "diabetes",
}
_ESTIMATORS = {
    "random forest": "random_forest",
    "extra trees": "extra_trees",
    "hist gradient": "hist_gradient_boosting",
    "gradient boosting": "gradient_boosting",
    "decision tree": "decision_tree",
    "logistic": "logistic_regression",
    "linear regression": "linear_regression",
    "ridge": "ridge",
    "lasso": "lasso",
    "knn": "knn",
    "nearest": "knn",
    "svm": "svm",
    "svc": "svm",
    "naive bayes": "naive_bayes",
    "mlp": "mlp",
}
_INTS = {
    "max_steps": r"(\d+)\s*steps?",
    "n_layer": r"(\d+)\s*layers?",
    "n_head": r"(\d+)\s*heads?",
    "n_embd": r"(\d+)\s*(?:wide|width|embd|embedding)",
    "batch_size": r"batch(?: size)?\s*(?:of\s*)?(\d+)",
}


def parse_request(svc: Services, text: str) -> tuple[str, dict[str, Any]]:
    """(kind, params) from a chat request like "train a random forest on digits" or
    "fine-tune gpt on the numpy notes for 300 steps"."""
    low = text.lower().replace("_", " ")
    if _SKLEARN.search(low):
        dataset = next(
            (v for k, v in _DATASETS.items() if k in low), "diabetes" if "regress" in low else "iris"
        )
        estimator = next((v for k, v in _ESTIMATORS.items() if k in low), "logistic_regression")
        if dataset == "diabetes" and estimator == "logistic_regression":
            estimator = "ridge"
        return "sklearn", {"dataset": dataset, "estimator": estimator}
    params: dict[str, Any] = {"data": mentioned_topics(svc, text) or "notes", "max_steps": CHAT_MAX_STEPS}
    for key, pattern in _INTS.items():
        if m := re.search(pattern, low):
            params[key] = int(m.group(1))
    if "scratch" in low:
        params["base"] = "scratch"
    return "gpt", params


def train_node(svc: Services, state: dict[str, Any]) -> Update:
    text = last_human_text(state)
    if re.search(r"\b(cancel|stop|abort|kill)\b", text, re.I):
        return cancel_job(svc, state, _job_id_in(text))
    if _STATUS.search(text) and not re.match(
        r"\s*(please\s+)?(start|launch|kick off|begin|train|fine-?tune)\b", text, re.I
    ):
        return job_status(svc, state, _job_id_in(text))
    if _START.search(text):
        kind, params = parse_request(svc, text)
        if not str(state.get("intent_source") or "").startswith("rule:"):  # the classifier guessed
            return ask({"kind": "train", "job_kind": kind, "params": params}, describe_request(kind, params))
        return start_job(svc, state, kind, params)
    return job_status(svc, state, _job_id_in(text))


def describe_request(kind: str, params: dict[str, Any]) -> str:
    """ "Start a GPT fine-tune on the notes, 200 steps?" for a confirmation question."""
    if kind == "sklearn":
        return f"Train a {params['estimator'].replace('_', ' ')} on the {params['dataset'].replace('_', ' ')} dataset?"
    data = params.get("data")
    on = (
        "the notes"
        if data == "notes"
        else "the notes on " + ", ".join(data)
        if isinstance(data, list)
        else str(data)
    )
    how = "from scratch" if params.get("base") == "scratch" else "fine-tune"
    return f"Start a GPT {how} on {on}, {params.get('max_steps', CHAT_MAX_STEPS)} steps?"


def _job_id_in(text: str) -> str | None:
    m = re.search(r"\b((?:gpt|sklearn|job)-[0-9a-f]{6,})\b", text)
    return m.group(1) if m else None


def start_job(svc: Services, state: dict[str, Any], kind: str, params: dict[str, Any]) -> Update:
    calls: list[dict[str, Any]] = []
    learner_id = state.get("learner_id") or None
    job, err = use_tool(
        calls,
        "start_training",
        {"kind": kind, "params": params},
        lambda: job_cases.submit(svc.jobs, kind, params, learner_id),
    )
    if err:
        return {"reply": P.TRAIN_FAILED_START.format(error=err), "tool_calls": calls}
    job_id = job["job_id"]
    reply = P.TRAIN_STARTED.format(kind=kind, job_id=job_id, status=job.get("status", "queued"))
    pending = [j for j in state.get("pending_jobs") or [] if j != job_id] + [job_id]
    return {"reply": reply, "tool_calls": calls, "pending_jobs": pending}


def cancel_job(svc: Services, state: dict[str, Any], job_id: str | None) -> Update:
    """Cancel the named job, else the learner's newest queued or running one (only their own:
    ``tutor.usecases.jobs.is_owner``; a chat with no learner, only ownerless jobs)."""
    calls: list[dict[str, Any]] = []
    learner_id = state.get("learner_id") or None
    jobs, err = use_tool(calls, "job_status", {}, lambda: job_cases.list_jobs(svc.jobs, learner_id))
    if err:
        return {"reply": P.TRAIN_UNAVAILABLE.format(error=err), "tool_calls": calls}
    mine = [j for j in jobs or [] if job_cases.is_owner(j, learner_id)]
    target = next((j for j in mine if j["job_id"] == job_id), None) if job_id else None
    if target is None and not job_id:
        target = next((j for j in mine if j.get("status") in ("queued", "running")), None)
    if target is None:
        return {"reply": P.TRAIN_NOTHING_TO_CANCEL, "tool_calls": calls}
    done, err = use_tool(
        calls,
        "cancel_job",
        {"job_id": target["job_id"]},
        lambda: job_cases.cancel(svc.jobs, target["job_id"]),
    )
    if err:
        return {"reply": P.TRAIN_UNAVAILABLE.format(error=err), "tool_calls": calls}
    reply = P.TRAIN_CANCELLED.format(
        job_id=target["job_id"], kind=target.get("kind", "?"), status=done["status"]
    )
    return {"reply": reply, "tool_calls": calls}


def job_status(svc: Services, state: dict[str, Any], job_id: str | None) -> Update:
    """One job's state (the named one, else the newest of this learner), or the list when asked.
    A chat acts as its learner: another learner's job is refused like any forbidden one (a chat
    with no learner sees only ownerless jobs)."""
    calls: list[dict[str, Any]] = []
    learner_id = state.get("learner_id") or None
    who = learner_id or ""
    if job_id:
        job, err = use_tool(
            calls, "job_status", {"job_id": job_id}, lambda: job_cases.get(svc.jobs, job_id, who)
        )
        jobs = [job] if job else []
    else:
        jobs, err = use_tool(
            calls,
            "job_status",
            {},
            lambda: [j for j in job_cases.list_jobs(svc.jobs, learner_id) if job_cases.is_owner(j, who)],
        )
    if err and job_id and _not_visible(svc, job_id, who):
        return {"reply": P.TRAIN_NOT_YOURS.format(job_id=job_id), "tool_calls": calls}
    if err:
        return {"reply": P.TRAIN_UNAVAILABLE.format(error=err), "tool_calls": calls}
    if not jobs:
        return {"reply": P.TRAIN_NONE, "tool_calls": calls}
    text = last_human_text(state)
    shown = jobs[:5] if re.search(r"\b(list|all|jobs)\b", text, re.I) and not job_id else jobs[:1]
    done_ids = {j["job_id"] for j in shown if j["status"] in FINISHED}
    pending = [j for j in state.get("pending_jobs") or [] if j not in done_ids]
    return {"reply": jobs_text(shown), "tool_calls": calls, "pending_jobs": pending}


def jobs_text(jobs: list[dict[str, Any]]) -> str:
    """Jobs as chat text: one paragraph each, then how to use the first finished model."""
    if not jobs:
        return P.TRAIN_NONE
    lines = [describe_job(j) for j in jobs]
    finished = [j for j in jobs if j.get("status") == "succeeded" and j.get("model_id")]
    if finished:
        lines.append(P.TRAIN_NEXT_DONE.format(model_id=finished[0]["model_id"]))
    return "\n\n".join(lines)


def describe_job(job: dict[str, Any]) -> str:
    status, kind, job_id = job.get("status", "?"), job.get("kind", "?"), job.get("job_id", "?")
    metrics = job.get("metrics") or {}
    if status == "succeeded":
        shown = {
            k: metrics[k]
            for k in (
                "val_loss",
                "best_val_loss",
                "loss",
                "accuracy",
                "f1_macro",
                "r2",
                "rmse",
                "tokens_per_s",
                "steps",
                "train_s",
            )
            if isinstance(metrics.get(k), int | float)
        }
        text = ", ".join(f"{k} {v:.4g}" for k, v in shown.items()) or "no metrics recorded"
        plots = [
            a.get("path")
            for a in job.get("artifacts") or []
            if str(a.get("mime_type", "")).startswith("image/")
        ]
        model = f"; model `{job['model_id']}`" if job.get("model_id") else ""
        plot = f"; plot at {plots[0]}" if plots else ""
        return P.TRAIN_DONE.format(job_id=job_id, kind=kind, metrics=text, model=model, plot=plot)
    if status in ("failed", "cancelled"):
        return P.TRAIN_FAILED.format(
            job_id=job_id, kind=kind, status=status, error=job.get("error") or "no error recorded"
        )
    history = metrics.get("history") or []
    last = history[-1] if history else {}
    loss = (
        f", last loss {last['loss']:.3f} at step {last.get('step', '?')}"
        if isinstance(last.get("loss"), int | float)
        else ""
    )
    return P.TRAIN_STATUS.format(
        job_id=job_id, kind=kind, status=status, progress=float(job.get("progress") or 0), loss=loss
    )


def _not_visible(svc: Services, job_id: str, who: str) -> bool:
    """The job is missing or another learner's (the status call failed for that reason, not
    because the jobs are out of reach)."""
    try:
        job_cases.get(svc.jobs, job_id, who)
        return False
    except (LookupError, PermissionError):  # NotFound, Forbidden
        return True
    except Exception:  # noqa: BLE001 - unreachable jobs: the caller says so
        return False


def announce_finished(svc: Services, state: dict[str, Any]) -> Update:
    """Before any other reply: the result of jobs started in this thread that ended since."""
    pending = list(state.get("pending_jobs") or [])
    if not pending or state.get("intent") == "train":
        return {}
    notices, still = [], []
    for job_id in pending:
        try:
            job = job_cases.get(svc.jobs, job_id, state.get("learner_id") or "")
        except Exception:  # a job that vanished is not worth failing the turn over
            continue
        if attr(job, "status") in FINISHED:
            notices.append(describe_job(job))
        else:
            still.append(job_id)
    for n in notices:
        emit_text(n + "\n\n")
    return {"notices": notices, "pending_jobs": still} if notices else {}
