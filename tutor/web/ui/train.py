"""The Train tab: launch GPT or scikit-learn jobs, watch the selected one live (progress bar and
loss curve, polled by a ``gr.Timer`` that runs only while a job is active), cancel and resume,
the learner's job list, and the model registry with "use this model"."""

from __future__ import annotations

import html
import json
import logging
from typing import Any

import gradio as gr
import pandas as pd

from tools.training.jobs import ACTIVE
from tutor.errors import TutorError
from tutor.web.ui.common import error_text, escape_md, learner_of

log = logging.getLogger(__name__)

JOB_HEADERS = ["job", "kind", "status", "progress", "created"]
MODEL_HEADERS = ["model", "active", "available", "base", "val_loss", "created"]
# the quality gate's figures (tutor/llm/gate.py), shown next to "Use this model"
GATE_HEADERS = ["plan valid", "leaks", "grounded", "bits/byte"]
POLL_S = 1.0


def _sklearn_choices() -> tuple[list[str], list[str]]:
    try:
        from tools.training.sklearn_job import DATASETS, ESTIMATORS

        return list(DATASETS), list(ESTIMATORS)
    except ImportError:  # the UI still builds while the training tools are missing
        return ["iris"], ["logistic_regression"]


def progress_html(job: dict[str, Any] | None) -> str:
    if not job:
        return "<div class='jobbar'><div class='jobfill' style='width:0%'></div><span>no job selected</span></div>"
    p = max(0.0, min(1.0, float(job.get("progress") or 0.0)))
    status = str(job.get("status", "?"))
    label = f"{html.escape(str(job.get('job_id')))} · {html.escape(status)} · {p:.0%}"
    return (
        f"<div class='jobbar {html.escape(status)}' role='progressbar' aria-valuenow='{p * 100:.0f}' "
        f"aria-valuemin='0' aria-valuemax='100'><div class='jobfill' style='width:{p * 100:.1f}%'></div>"
        f"<span>{label}</span></div>"
    )


# every loss frame holds these series, in this order (see loss_frame)
SERIES = ("train", "val")


def loss_frame(job: dict[str, Any] | None) -> pd.DataFrame:
    """The job's loss history in long format (step, loss, series), the shape gr.LinePlot draws
    one coloured line per series from.

    Every series is in every frame, as one row with a NaN loss while it has no point yet (Vega-Lite
    drops such rows). Gradio's plot fixes its colour scale's domain from the series in the value it
    first draws, and on later updates swaps only the data; Vega gives a series outside that domain
    no stroke. So a chart first drawn before a job had points (the empty chart on page load) drew
    axes and no lines for the rest of the session.
    """
    rows: list[dict[str, Any]] = []
    for h in ((job or {}).get("metrics") or {}).get("history") or []:
        if not isinstance(h, dict) or h.get("step") is None:
            continue
        for key, series in (("loss", "train"), ("val_loss", "val")):
            if h.get(key) is not None:
                rows.append({"step": int(h["step"]), "loss": float(h[key]), "series": series})
    first = min((r["step"] for r in rows), default=0)
    for series in set(SERIES) - {r["series"] for r in rows}:
        rows.append({"step": first, "loss": float("nan"), "series": series})
    rows.sort(key=lambda r: (SERIES.index(r["series"]), r["step"]))
    frame = pd.DataFrame(rows, columns=["step", "loss", "series"])
    # explicit dtypes: an empty frame is untyped, and Vega then treats the axes as categories
    return frame.astype({"step": "int64", "loss": "float64", "series": "str"})


def job_summary(job: dict[str, Any] | None) -> str:
    if not job:
        return "Start a job or pick one from the list."
    metrics: dict[str, Any] = {}
    for k, v in (job.get("metrics") or {}).items():  # nested dicts (per-class scores) shown flat
        if k == "history":
            continue
        if isinstance(v, dict):
            metrics.update({f"{k}.{k2}": v2 for k2, v2 in v.items() if not isinstance(v2, dict | list)})
        else:
            metrics[k] = v
    lines = [
        f"**{escape_md(str(job.get('job_id')))}** ({escape_md(str(job.get('kind')))}): {escape_md(str(job.get('status')))}"
    ]
    if metrics:
        shown = "\n".join(f"- {escape_md(str(k))}: {_fmt(v)}" for k, v in list(metrics.items())[:16])
        lines.append(f"metrics:\n{shown}")
    if job.get("model_id"):
        lines.append(f"model: `{job['model_id']}` (see the registry below)")
    if job.get("error") and job.get("status") != "cancelled":
        lines.append(f"⚠ {escape_md(str(job['error']))}")
    return "\n\n".join(lines)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return escape_md(json.dumps(v, default=str)[:80])


def _job_row(j: dict[str, Any]) -> list[Any]:
    created = str(j.get("created") or j.get("created_at") or "")[:19]
    return [j.get("job_id"), j.get("kind"), j.get("status"), f"{float(j.get('progress') or 0):.0%}", created]


def gate_cells(figures: dict[str, Any] | None) -> list[str]:
    """The gate's figures of one model as table cells (blank until it was gated)."""
    if not figures:
        return ["", "", "", ""]

    def pct(v: Any) -> str:
        return "" if v is None else f"{float(v):.0%}"

    bpb = figures.get("bits_per_byte")
    leaks = figures.get("leaks")
    return [
        pct(figures.get("plan_valid")),
        "" if leaks is None else str(leaks),
        pct(figures.get("grounding")),
        "" if bpb is None else f"{float(bpb):.3f}",
    ]


class TrainHandlers:
    def __init__(self, tutor: Any) -> None:
        self.tutor = tutor

    def submit(
        self,
        kind: str,
        data: str,
        base: str,
        max_steps: float | None,
        batch_size: float | None,
        n_layer: float | None,
        n_embd: float | None,
        lr: float | None,
        dataset: str,
        estimator: str,
        params_json: str,
        learner: str | None,
        request: gr.Request | None = None,
    ) -> tuple[str | None, str, Any]:
        """(selected job id, message, timer update) after queueing a job."""
        try:
            learner_id = learner_of(learner, request)
            if kind == "gpt":
                params: dict[str, Any] = {"data": (data or "notes").strip(), "base": base or None}
                shape = (("n_layer", n_layer), ("n_embd", n_embd)) if base == "scratch" else ()
                for key, value in (("max_steps", max_steps), ("batch_size", batch_size), *shape):
                    if value and value > 0:
                        params[key] = int(value)
                if lr:
                    params["lr"] = float(lr)
            else:
                try:
                    est_params = json.loads(params_json or "{}")
                except ValueError as e:
                    return (
                        None,
                        f'⚠ estimator params must be a JSON object, e.g. {{"C": 1.0}} ({e})',
                        gr.skip(),
                    )
                params = {"dataset": dataset, "estimator": estimator, "params": est_params}
            job = self.tutor.submit_job(kind, params, learner_id=learner_id)
        except TutorError as e:
            return None, f"⚠ {escape_md(error_text(e))}", gr.skip()
        return job["job_id"], f"Queued **{escape_md(job['job_id'])}**.", gr.Timer(active=True)

    def poll(
        self, job_id: str | None, learner: str | None, request: gr.Request | None = None
    ) -> tuple[str, pd.DataFrame, str, Any, list[list[Any]], Any]:
        """(progress bar, loss data, summary, job picker, job table, timer): the timer stops once
        nothing runs."""
        jobs = self._jobs(learner, request)
        job = None
        if job_id:
            try:  # only the learner's own jobs (the picker lists those; an event may name any id)
                job = self.tutor.job(job_id, learner_id=learner_of(learner, request))
            except TutorError:
                job = None
        active = any(j.get("status") in ACTIVE for j in jobs) or (job or {}).get("status") in ACTIVE
        choices = [(f"{j['job_id']} · {j.get('status')}", j["job_id"]) for j in jobs]
        picker = gr.update(choices=choices, value=job_id if job else None)
        rows = [_job_row(j) for j in jobs]
        return (
            progress_html(job),
            loss_frame(job),
            job_summary(job),
            picker,
            rows,
            gr.Timer(active=bool(active)),
        )

    def _jobs(self, learner: str | None, request: gr.Request | None) -> list[dict[str, Any]]:
        try:
            return self.tutor.list_jobs(learner_of(learner, request))
        except TutorError:
            return []

    def cancel(self, job_id: str | None, learner: str | None, request: gr.Request | None = None) -> str:
        return self._act(job_id, learner, request, self.tutor.cancel_job, "cancelled")

    def resume(self, job_id: str | None, learner: str | None, request: gr.Request | None = None) -> str:
        return self._act(job_id, learner, request, self.tutor.resume_job, "queued again")

    def _act(
        self, job_id: str | None, learner: str | None, request: gr.Request | None, fn: Any, done: str
    ) -> str:
        if not job_id:
            return "⚠ pick a job first"
        try:  # the ownership rule is the use case's (tutor.usecases.jobs): Forbidden otherwise
            job = fn(job_id, learner_id=learner_of(learner, request))
        except TutorError as e:
            return f"⚠ {escape_md(error_text(e))}"
        return f"{escape_md(job_id)}: {escape_md(str(job.get('status', done)))}"

    def models(self) -> tuple[list[list[Any]], Any, Any]:
        """(registry rows, "use" picker, GPT base picker)."""
        try:
            models = self.tutor.models()
        except TutorError as e:
            log.warning("model registry unavailable: %s", e)
            models = []
        rows = [
            [
                m.get("id"),
                "✓" if m.get("active") else "",
                "yes" if m.get("available", True) else "no",
                m.get("base") or "",
                _fmt((m.get("metrics") or {}).get("val_loss", "")),
                str(m.get("created") or "")[:19],
                *gate_cells(m.get("gate")),
            ]
            for m in models
        ]
        ids = [str(m.get("id")) for m in models]
        active = next((str(m.get("id")) for m in models if m.get("active")), None)
        return (
            rows,
            gr.update(choices=ids, value=active),
            gr.update(
                choices=[("active model", "")]
                + [(i, i) for i in ids]
                + [("new model from scratch", "scratch")]
            ),
        )

    def use_model(self, model_id: str | None, force: bool = False) -> str:
        if not model_id:
            return "⚠ pick a model first"
        try:
            out = self.tutor.use_model(model_id, force=bool(force))
        except TutorError as e:
            return f"⚠ {escape_md(error_text(e))}"
        msg = f"The tutor now answers with **{escape_md(model_id)}**."
        if out.get("forced"):
            reasons = "; ".join((out.get("gate") or {}).get("reasons") or [])
            msg += f" Forced past the quality gate: {escape_md(reasons)}."
        return msg


def build_train_tab(tutor: Any, learner: gr.components.Component) -> dict[str, Any]:
    h = TrainHandlers(tutor)
    datasets, estimators = _sklearn_choices()
    job_id = gr.State(None)
    timer = gr.Timer(POLL_S, active=False)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=280):
            kind = gr.Radio(["sklearn", "gpt"], value="sklearn", label="Job kind", elem_id="job-kind")
            with gr.Group(visible=True) as sk_box:
                dataset = gr.Dropdown(datasets, value=datasets[0], label="Dataset", elem_id="dataset")
                estimator = gr.Dropdown(
                    estimators, value=estimators[0], label="Estimator", elem_id="estimator"
                )
                est_params = gr.Textbox("{}", label="Estimator params (JSON)", elem_id="est-params")
            with gr.Group(visible=False) as gpt_box:
                data = gr.Textbox(
                    "notes", label="Data: notes, topic ids, or a text file path", elem_id="gpt-data"
                )
                base = gr.Dropdown([("active model", "")], value="", label="Start from", elem_id="gpt-base")
                with gr.Row():
                    max_steps = gr.Number(50, label="Steps", precision=0, minimum=1, min_width=90)
                    batch_size = gr.Number(8, label="Batch", precision=0, minimum=1, min_width=90)
                    lr = gr.Number(1e-3, label="Learning rate", minimum=0, min_width=90)
                with gr.Row():
                    # no `minimum`: an empty box is sent as 0 and was refused with "Value 0 is less than
                    # minimum value 1"; empty or 0 means the recipe's default (used only from scratch)
                    n_layer = gr.Number(
                        None, label="Layers (scratch; empty = default)", precision=0, min_width=90
                    )
                    n_embd = gr.Number(
                        None, label="Width (scratch; empty = default)", precision=0, min_width=90
                    )
            start = gr.Button("Start training", variant="primary", elem_id="start-job")
            msg = gr.Markdown(elem_id="job-msg")
        with gr.Column(scale=3, min_width=300):
            picker = gr.Dropdown(label="Job", choices=[], value=None, elem_id="job-picker")
            bar = gr.HTML(progress_html(None), elem_id="job-progress", js_on_load=None)
            summary = gr.Markdown(elem_id="job-summary")
            loss = gr.LinePlot(
                loss_frame(None),
                x="step",
                y="loss",
                color="series",
                title="Loss",
                height=240,
                elem_id="loss-plot",
            )
            with gr.Row():
                cancel = gr.Button("Cancel", variant="stop", elem_id="cancel-job", min_width=80)
                resume = gr.Button("Resume", elem_id="resume-job", min_width=80)
            jobs = gr.Dataframe(
                headers=JOB_HEADERS,
                datatype="str",
                interactive=False,
                column_count=len(JOB_HEADERS),
                label="Your jobs",
                elem_id="job-table",
                max_height=260,
            )
    with gr.Accordion("Models", open=False, elem_id="models"):
        models = gr.Dataframe(
            headers=MODEL_HEADERS + GATE_HEADERS,
            datatype="str",
            interactive=False,
            column_count=len(MODEL_HEADERS + GATE_HEADERS),
            elem_id="model-table",
        )
        with gr.Row():
            use_pick = gr.Dropdown(label="Model", choices=[], min_width=160)
            force = gr.Checkbox(
                False, label="force (skip the quality gate)", elem_id="use-force", min_width=120
            )
            use = gr.Button("Use this model", elem_id="use-model", min_width=120)
        use_msg = gr.Markdown()

    watch: dict[str, Any] = {
        "fn": h.poll,
        "inputs": [job_id, learner],
        "outputs": [bar, loss, summary, picker, jobs, timer],
    }
    private: dict[str, Any] = {"api_visibility": "private"}
    kind.change(
        lambda k: (gr.update(visible=k == "sklearn"), gr.update(visible=k == "gpt")),
        kind,
        [sk_box, gpt_box],
        queue=False,
        **private,
    )
    start.click(
        h.submit,
        [
            kind,
            data,
            base,
            max_steps,
            batch_size,
            n_layer,
            n_embd,
            lr,
            dataset,
            estimator,
            est_params,
            learner,
        ],
        [job_id, msg, timer],
        concurrency_id="train",
        concurrency_limit=4,
        **private,
    ).then(**watch, **private)
    timer.tick(**watch, concurrency_id="poll", concurrency_limit=16, show_progress="hidden", **private)
    picker.input(lambda j: j, picker, job_id, queue=False, **private).then(**watch, **private)
    cancel.click(h.cancel, [job_id, learner], msg, concurrency_id="train", **private).then(**watch, **private)
    resume.click(h.resume, [job_id, learner], msg, concurrency_id="train", **private).then(**watch, **private)
    use.click(h.use_model, [use_pick, force], use_msg, concurrency_id="train", **private).then(
        h.models, None, [models, use_pick, base], **private
    )
    return {"watch": watch, "models": (h.models, [models, use_pick, base]), "handlers": h, "job_id": job_id}
