"""The Learn tab's practice panel: pick a topic and press **Practice**, or **Review now** for the
due queue; answer (options, a number, words or code), get the verdict, the explanation and the
mastery change, and the curriculum colours refresh. Handlers call ``tutor.practice`` only; the
question shown is the item's public form (no answers before an attempt)."""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from tutor.errors import TutorError
from tutor.web.ui.common import LATEX, error_text, escape_md, learner_of

log = logging.getLogger(__name__)
Shown = tuple[dict[str, Any] | None, str, Any, Any, Any, str]  # item, question, radio, text, code, result


def _hidden() -> tuple[Any, Any, Any]:
    return gr.update(visible=False, value=None), gr.update(visible=False, value=""), gr.update(visible=False)


class PracticeHandlers:
    def __init__(self, tutor: Any) -> None:
        self.tutor = tutor

    def topic_choices(self) -> list[tuple[str, str]]:
        have = self.tutor.practice.topics_with_items()
        return [(f"{m['id']} · {t['title']}", t["id"]) for m in self.tutor.curriculum().get("modules", [])
                for t in m.get("topics", []) if t["id"] in have]  # fmt: skip

    def queue_md(self, learner: str | None, request: gr.Request | None = None) -> str:
        try:
            due = self.tutor.practice.due_queue(learner_of(learner, request))
        except TutorError:
            return ""
        if not due:
            return "No reviews due."
        titles = {t["id"]: t["title"] for m in self.tutor.curriculum()["modules"] for t in m["topics"]}
        return "**Review now:** " + " · ".join(escape_md(titles.get(t, t)) for t in due)

    def start(self, learner: str | None, topic: str | None, request: gr.Request | None = None) -> Shown:
        """The learner's next item on ``topic`` (or the due/weakest one when None)."""
        try:
            item = self.tutor.practice.next_item(learner_of(learner, request), topic or None)
        except TutorError as e:
            return None, f"⚠ {escape_md(error_text(e))}", *_hidden(), ""
        return self.show(item)

    def review(self, learner: str | None, request: gr.Request | None = None) -> Shown:
        try:
            due = self.tutor.practice.due_queue(learner_of(learner, request))
        except TutorError as e:
            return None, f"⚠ {escape_md(error_text(e))}", *_hidden(), ""
        if not due:
            return None, "No reviews due: pick a topic and press **Practice**.", *_hidden(), ""
        return self.start(learner, due[0], request)

    def show(self, item: dict[str, Any]) -> Shown:
        kind = item["kind"]
        head = f"**{escape_md(item['topic_id'])}** · difficulty {item['difficulty']}"
        if item.get("reason") == "review":
            head += " · review"
        question = f"{head}\n\n{item['prompt']}"
        radio = gr.update(visible=kind == "multiple_choice", value=None, choices=item.get("choices") or [])
        label = {"numeric": "Your number", "short_answer": "Your answer, in a sentence or two"}.get(kind, "")
        text = gr.update(visible=kind in ("numeric", "short_answer"), value="", label=label or "Answer")
        code = gr.update(visible=kind == "code", value=item.get("starter", ""))
        return {**item, "hinted": False}, question, radio, text, code, ""

    def check(self, learner: str | None, item: dict[str, Any] | None, choice: str | None, text: str,
              code: str, request: gr.Request | None = None) -> tuple[dict[str, Any] | None, str]:  # fmt: skip
        if not item:
            return item, "Press **Practice** first."
        answer: Any = {"multiple_choice": None, "code": code}.get(item["kind"], text)
        if item["kind"] == "multiple_choice":
            choices = item.get("choices") or []
            answer = choices.index(choice) if choice in choices else None
        if answer is None or (isinstance(answer, str) and not answer.strip()):
            return item, "Give an answer first (or press **I don't know**)."
        try:
            result = self.tutor.practice.answer(learner_of(learner, request), item["id"], answer,
                                                hinted=bool(item.get("hinted")))  # fmt: skip
        except TutorError as e:
            return item, f"⚠ {escape_md(error_text(e))}"
        return None, result_md(result.to_dict())

    def give_up(self, learner: str | None, item: dict[str, Any] | None, request: gr.Request | None = None) -> tuple[dict[str, Any] | None, str]:  # fmt: skip
        if not item:
            return item, "Press **Practice** first."
        try:
            result = self.tutor.practice.give_up(learner_of(learner, request), item["id"])
        except TutorError as e:
            return item, f"⚠ {escape_md(error_text(e))}"
        return None, result_md(result.to_dict())

    def hint(self, item: dict[str, Any] | None) -> tuple[dict[str, Any] | None, str]:
        if not item:
            return item, "Press **Practice** first."
        return {**item, "hinted": True}, f"💡 {self.tutor.practice.hint(item['id'])}"


def result_md(r: dict[str, Any]) -> str:
    head = "✅ **Right!**" if r["correct"] else "❌ **Not quite.**"
    parts = [f"{head} {r['feedback']}"]
    if not r["correct"] and r.get("right_answer"):
        parts.append(f"**Answer:** {r['right_answer']}")
    m = r["mastery"]
    due = f" · next review {str(r['next_review'])[:10]}" if r.get("next_review") else ""
    parts += [
        r["explanation"],
        f"Mastery: {m['before']:.0%} → **{m['after']:.0%}**{due}. Press **Practice** for another.",
    ]
    return "\n\n".join(parts)


def build_practice_panel(
    tutor: Any, learner: gr.components.Component, refresh: tuple[Any, list[Any]]
) -> dict[str, Any]:
    """The panel; ``refresh`` is the Learn tab's (view function, outputs), re-run after each answer
    so the mastery colours move."""
    h = PracticeHandlers(tutor)
    view, outs = refresh
    private: dict[str, Any] = {"api_visibility": "private"}
    with gr.Accordion("Practice", open=True, elem_id="practice"):
        with gr.Row():
            topic = gr.Dropdown(
                label="Topic", choices=h.topic_choices(), value=None, elem_id="practice-topic", scale=3
            )
            go = gr.Button("Practice", variant="primary", elem_id="practice-start", scale=1)
            review = gr.Button("Review now", elem_id="practice-review", scale=1)
        queue = gr.Markdown(elem_id="practice-queue")
        item = gr.State(None)
        question = gr.Markdown(latex_delimiters=LATEX, elem_id="practice-question")
        radio = gr.Radio(choices=[], label="Your answer", visible=False, elem_id="practice-choices")
        text = gr.Textbox(label="Answer", visible=False, elem_id="practice-text")
        code = gr.Code(language="python", visible=False, lines=8, elem_id="practice-code")
        with gr.Row():
            check = gr.Button("Check", variant="primary", elem_id="practice-check")
            hint = gr.Button("Hint", size="sm")
            idk = gr.Button("I don't know", size="sm")
        result = gr.Markdown(latex_delimiters=LATEX, elem_id="practice-result")
    shown = [item, question, radio, text, code, result]
    go.click(h.start, [learner, topic], shown, **private).then(h.queue_md, learner, queue, **private)
    review.click(h.review, learner, shown, **private)
    check.click(h.check, [learner, item, radio, text, code], [item, result], concurrency_id="practice",
                concurrency_limit=8, **private).then(view, learner, outs, **private).then(
        h.queue_md, learner, queue, **private)  # fmt: skip
    idk.click(h.give_up, [learner, item], [item, result], **private).then(view, learner, outs, **private)
    hint.click(h.hint, item, [item, result], **private)
    return {"handlers": h, "queue": (h.queue_md, queue)}
