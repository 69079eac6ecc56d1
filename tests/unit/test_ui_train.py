"""The Train tab's loss chart: what gr.LinePlot is given must draw one line per series, train and
val, whatever the chart held when the page first drew it (a learner saw axes and no lines)."""

from __future__ import annotations

import math
from typing import Any

import gradio as gr

from tutor.web.ui.train import SERIES, TrainHandlers, build_train_tab, loss_frame

# a finished GPT job as the worker stores it: train loss every log step, val loss every eval
HISTORY = [
    {"step": 10, "loss": 3.2, "lr": 1e-3},
    {"step": 20, "loss": 2.9, "lr": 1e-3, "val_loss": 3.0},
    {"step": 30, "loss": 2.5, "lr": 1e-3},
    {"step": 40, "loss": 2.2, "lr": 1e-3, "val_loss": 2.4},
]
JOB = {
    "job_id": "gpt-1",
    "kind": "gpt",
    "status": "succeeded",
    "progress": 1.0,
    "metrics": {"history": HISTORY},
}


def _plot() -> gr.LinePlot:
    return gr.LinePlot(x="step", y="loss", color="series", render=False)


def _points(payload: Any) -> dict[str, list[tuple[Any, Any]]]:
    """(x, y) per series from what the component sends the browser, null (NaN) rows left out as
    Vega-Lite leaves them out."""
    cols = payload.columns
    out: dict[str, list[tuple[Any, Any]]] = {}
    for row in payload.data:
        rec = dict(zip(cols, row, strict=True))
        out.setdefault(rec["series"], [])
        if rec["loss"] is not None:
            out[rec["series"]].append((rec["step"], rec["loss"]))
    return out


def test_a_finished_job_sends_numeric_lines_for_train_and_val() -> None:
    payload = _plot().postprocess(loss_frame(JOB))
    assert payload is not None and payload.mark == "line"
    assert payload.datatypes == {"step": "quantitative", "loss": "quantitative", "series": "nominal"}
    points = _points(payload)
    assert points["train"] == [(10, 3.2), (20, 2.9), (30, 2.5), (40, 2.2)]
    assert points["val"] == [(20, 3.0), (40, 2.4)]
    for xy in points.values():  # numbers, not strings: a string axis would be a category axis
        assert all(isinstance(x, int) and isinstance(y, float) for x, y in xy)


def test_every_frame_names_both_series_so_the_colour_domain_never_misses_one() -> None:
    """The plot takes its colour domain from the first value it draws and keeps it; a series
    missing then has no stroke later. So even the empty chart and a train-only history name both."""
    for job in (None, {}, {"metrics": {"history": HISTORY[:1]}}, JOB):
        frame = loss_frame(job)
        assert tuple(dict.fromkeys(frame["series"])) == SERIES  # both, in a fixed order
        assert str(frame["step"].dtype) == "int64" and str(frame["loss"].dtype) == "float64"
    empty = _plot().postprocess(loss_frame(None))
    assert empty is not None and _points(empty) == {"train": [], "val": []}  # placeholders only
    early = loss_frame({"metrics": {"history": HISTORY[:1]}})
    assert math.isnan(early[early["series"] == "val"]["loss"].iloc[0])
    assert early[early["series"] == "val"]["step"].iloc[0] == 10  # inside the x range drawn


def test_the_chart_on_page_load_already_has_both_series() -> None:
    with gr.Blocks():
        build_train_tab(_Stub(), gr.State("ada"))
        plots = [b for b in gr.context.Context.root_block.blocks.values() if isinstance(b, gr.LinePlot)]  # type: ignore[union-attr]
    assert len(plots) == 1 and (plots[0].x, plots[0].y, plots[0].color) == ("step", "loss", "series")
    value = plots[0].value
    color = value["columns"].index("series")
    assert {row[color] for row in value["data"]} == set(SERIES)


def test_the_timer_tick_returns_the_lines_of_the_selected_job() -> None:
    out = TrainHandlers(_Stub()).poll("gpt-1", "ada")
    payload = _plot().postprocess(out[1])
    assert payload is not None
    points = _points(payload)
    assert len(points["train"]) == 4 and len(points["val"]) == 2
    assert out[5].active is False  # the job is finished: the timer stops


class _Stub:
    """The few Tutor methods the Train tab calls."""

    def job(self, job_id: str, learner_id: str | None = None) -> dict[str, Any]:
        assert learner_id == "ada"  # the tab asks as its learner: the use case checks the owner
        return {**JOB, "learner_id": "ada"}

    def list_jobs(self, learner_id: str | None = None) -> list[dict[str, Any]]:
        return [{**JOB, "learner_id": "ada"}]

    def models(self) -> list[dict[str, Any]]:
        return []
