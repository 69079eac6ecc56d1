"""The Learn tab: the curriculum as modules and topics coloured by mastery (with prerequisites and
due reviews), a mastery chart, the current lesson plan, practice questions per topic with a
"review now" queue (``tutor/web/ui/practice.py``), and a note viewer that renders maths."""

from __future__ import annotations

import html
import logging
from typing import Any

import gradio as gr
import pandas as pd

from tutor.errors import NotFound, TutorError
from tutor.web.ui.common import LATEX, error_text, escape_md, learner_of, note_link
from tutor.web.ui.notes import note_markdown
from tutor.web.ui.practice import build_practice_panel

log = logging.getLogger(__name__)

PLAN_HEADERS = ["topic", "activity", "minutes", "why"]
LEVELS = [(0.8, "mastered", "#2e7d32"), (0.5, "getting there", "#f9a825"), (0.0, "started", "#e65100")]
UNSEEN = ("not started", "#9aa5b1")
LearnOut = tuple[str, pd.DataFrame, str, list[list[Any]], str]


def level(p: float | None) -> tuple[str, str]:
    """(label, colour) of a mastery probability; None = no graded attempt yet."""
    if p is None:
        return UNSEEN
    for floor, label, colour in LEVELS:
        if p >= floor:
            return label, colour
    return LEVELS[-1][1:]


def legend_html() -> str:
    items = [(label, colour) for _, label, colour in LEVELS] + [UNSEEN]
    return "".join(f"<span class='chip' style='--c:{c}'>{html.escape(lbl)}</span>" for lbl, c in items)


def curriculum_html(curriculum: dict[str, Any], mastery: dict[str, float], due: list[str]) -> str:
    """Modules as collapsible sections; each topic a chip linking to its note, coloured by mastery,
    with its prerequisites and a ↻ when a review is due. Every text is escaped."""
    titles = {t["id"]: t["title"] for m in curriculum.get("modules", []) for t in m.get("topics", [])}
    parts = [f"<div class='legend'>{legend_html()} <span class='due'>↻ review due</span></div>"]
    for m in curriculum.get("modules", []):
        topics = m.get("topics", [])
        done = sum(1 for t in topics if (mastery.get(t["id"]) or 0) >= LEVELS[0][0])
        head = f"{html.escape(str(m.get('title', m.get('id'))))} <small>· phase {html.escape(str(m.get('phase', '')))}"
        head += f" · {done}/{len(topics)} mastered</small>"
        rows = []
        for t in topics:
            p = mastery.get(t["id"])
            label, colour = level(p)
            pre = ", ".join(titles.get(x, x) for x in t.get("prerequisites", []))
            tip = f"{t['title']}: {label}" + (f" ({p:.0%})" if p is not None else "")
            mark = " ↻" if t["id"] in due else ""
            rows.append(
                f"<div class='topic'><a class='chip' style='--c:{colour}' href='{html.escape(note_link(t['id']))}'"
                f" target='_blank' title='{html.escape(tip)}' data-topic='{html.escape(t['id'])}'>"
                f"{html.escape(t['title'])}{mark}</a>"
                + (f"<span class='pre'>needs {html.escape(pre)}</span>" if pre else "")
                + "</div>"
            )
        parts.append(
            f"<details class='module' open><summary>{head}</summary><div class='topics'>{''.join(rows)}</div></details>"
        )
    return f"<div class='curriculum'>{''.join(parts)}</div>"


def mastery_frame(curriculum: dict[str, Any], mastery: dict[str, float]) -> pd.DataFrame:
    """Average mastery per module (topics without attempts count 0): the chart's data."""
    rows = []
    for m in curriculum.get("modules", []):
        topics = [t["id"] for t in m.get("topics", [])]
        avg = sum(mastery.get(t, 0.0) for t in topics) / max(1, len(topics))
        rows.append({"module": str(m.get("id")), "mastery": round(avg, 3), "title": str(m.get("title"))})
    return pd.DataFrame(rows, columns=["module", "mastery", "title"])


class LearnHandlers:
    def __init__(self, tutor: Any) -> None:
        self.tutor = tutor

    def topic_choices(self) -> list[tuple[str, str]]:
        cur = self.tutor.curriculum()
        return [
            (f"{m['id']} · {t['title']}", t["id"])
            for m in cur.get("modules", [])
            for t in m.get("topics", [])
        ]

    def view(self, learner: str | None, request: gr.Request | None = None) -> LearnOut:
        """(curriculum HTML, chart data, due reviews Markdown, plan rows, plan Markdown)."""
        curriculum = self.tutor.curriculum()
        try:
            learner_id = learner_of(learner, request)
        except TutorError:
            empty = curriculum_html(curriculum, {}, [])
            return empty, mastery_frame(curriculum, {}), "Pick your name to see your progress.", [], ""
        try:
            progress = self.tutor.progress(learner_id)
        except TutorError as e:
            log.warning("progress unavailable: %s", e)
            progress = {"mastery": {}, "due_reviews": []}
        mastery = {k: float(v) for k, v in (progress.get("mastery") or {}).items()}
        due = list(progress.get("due_reviews") or [])
        plan_rows, plan_md = self._saved_plan(learner_id)
        return (
            curriculum_html(curriculum, mastery, due),
            mastery_frame(curriculum, mastery),
            self._due_md(due),
            plan_rows,
            plan_md,
        )

    def _due_md(self, due: list[str]) -> str:
        if not due:
            return "No reviews due."
        titles = {t["id"]: t["title"] for m in self.tutor.curriculum()["modules"] for t in m["topics"]}
        return "**Reviews due:** " + " · ".join(
            f"[{escape_md(titles.get(t, t))}]({note_link(t)})" for t in due
        )

    def _saved_plan(self, learner_id: str) -> tuple[list[list[Any]], str]:
        try:
            return self._plan_view(self.tutor.saved_plan(learner_id))
        except NotFound:
            return [], "No plan yet: choose the hours and press **Make a plan**."
        except TutorError as e:
            return [], f"⚠ {escape_md(error_text(e))}"

    def _plan_view(self, plan: dict[str, Any]) -> tuple[list[list[Any]], str]:
        titles = {t["id"]: t["title"] for m in self.tutor.curriculum()["modules"] for t in m["topics"]}
        items = plan.get("items") or []
        rows = [
            [titles.get(i.get("topic_id"), i.get("topic_id")), i.get("activity"), i.get("minutes"),
             i.get("reason") or ""]
            for i in items
        ]  # fmt: skip
        total = sum(int(i.get("minutes") or 0) for i in items)
        md = f"**Plan** ({total} min, by {escape_md(str(plan.get('model', '?')))}): {escape_md(str(plan.get('rationale', '')))}"
        if plan.get("distance"):  # how far the goal is (tutor.usecases.planning)
            md += f"\n\n{escape_md(str(plan['distance']))}"
        return rows, md

    def make_plan(
        self, learner: str | None, hours: float, goal: str, request: gr.Request | None = None
    ) -> tuple[list[list[Any]], str]:
        try:
            plan = self.tutor.plan(learner_of(learner, request), hours=float(hours or 3), goal=(goal or None))
        except TutorError as e:
            return [], f"⚠ {escape_md(error_text(e))}"
        return self._plan_view(plan)

    def note(self, topic_id: str | None) -> str:
        if not topic_id:
            return "Pick a topic to read its note."
        try:
            body = note_markdown(self.tutor.settings.notes_dir, topic_id)
        except (TutorError, ValueError, OSError) as e:
            return f"⚠ {escape_md(error_text(e))}"
        return body + f"\n\n---\n[Open this note on its own page]({note_link(topic_id)})"


def build_learn_tab(tutor: Any, learner: gr.components.Component) -> dict[str, Any]:
    h = LearnHandlers(tutor)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            refresh = gr.Button("Refresh", size="sm", elem_id="learn-refresh")
            cur = gr.HTML(elem_id="curriculum", js_on_load=None)
        with gr.Column(scale=2, min_width=280):
            chart = gr.BarPlot(
                None,  # an empty untyped frame here would make Vega treat later data as nominal
                x="module",
                y="mastery",
                y_lim=[0, 1],
                title="Mastery by module",
                tooltip=["title", "mastery"],
                height=240,
                elem_id="mastery-chart",
                sort=[
                    str(m["id"]) for m in tutor.curriculum().get("modules", [])
                ],  # m1..m11, not m1, m10, m2
            )
            due = gr.Markdown(elem_id="due")
            with gr.Group():
                with gr.Row():
                    hours = gr.Slider(0.5, 8, value=3, step=0.5, label="Hours", min_width=140)
                    goal = gr.Textbox(
                        label="Goal (optional)", placeholder="e.g. fine-tune a GPT", min_width=160
                    )
                make = gr.Button("Make a plan", variant="primary", elem_id="make-plan")
            plan_md = gr.Markdown(elem_id="plan")
            plan = gr.Dataframe(
                headers=PLAN_HEADERS,
                datatype="str",
                interactive=False,
                column_count=len(PLAN_HEADERS),
                wrap=True,
                elem_id="plan-table",
            )
    practice = build_practice_panel(tutor, learner, (h.view, [cur, chart, due, plan, plan_md]))
    with gr.Accordion("Course notes", open=True, elem_id="notes"):
        topic = gr.Dropdown(label="Topic", choices=h.topic_choices(), value=None, elem_id="note-topic")
        note = gr.Markdown(
            "Pick a topic to read its note.", latex_delimiters=LATEX, elem_id="note", header_links=True
        )

    outs = [cur, chart, due, plan, plan_md]
    refresh.click(h.view, learner, outs, api_visibility="private")
    make.click(
        h.make_plan,
        [learner, hours, goal],
        [plan, plan_md],
        concurrency_id="plan",
        concurrency_limit=4,
        api_visibility="private",
    ).then(h.view, learner, outs, api_visibility="private")
    topic.change(h.note, topic, note, api_visibility="private")
    return {"view": (h.view, outs), "topic": topic, "handlers": h, "practice": practice}
