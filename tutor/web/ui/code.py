"""The Code tab: a Python editor, the exercise picker (statement + starter code), Run in the
learner's own kernel session (output, traceback, plots) with a reset, and Grade (per-test table,
score, hint). Learner output is shown only in text components and image files."""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from tutor.errors import TutorError
from tutor.web.ui.common import LATEX, error_text, escape_md, images_of, learner_of
from tutor.web.ui.labs import build_labs_panel, wire_labs

log = logging.getLogger(__name__)

STARTER = "import numpy as np\nimport matplotlib.pyplot as plt\n\nx = np.linspace(0, 6, 100)\nplt.plot(x, np.sin(x))\nplt.show()\n"
TEST_HEADERS = ["test", "ok", "message"]
RunOut = tuple[str, str, str, Any]
GradeOut = tuple[str, list[list[Any]], str]


def session_id(learner_id: str, tab_id: str | None) -> str:
    """One kernel per learner and browser tab; characters the kernel manager may not like go."""
    safe = "".join(c if c.isalnum() or c in "_.-" else "_" for c in learner_id)
    return f"ui.{safe}.{tab_id or 'main'}"


def _traceback(error: dict[str, Any] | None) -> str:
    if not error:
        return ""
    tb = error.get("traceback") or ""
    if isinstance(tb, list):
        tb = "\n".join(map(str, tb))
    head = f"{error.get('name', 'Error')}: {error.get('message', '')}"
    return f"{tb}\n{head}".strip() if head not in str(tb) else str(tb)


def _show_test(test: Any) -> str:
    """A public test as Python-looking text: its name and description as comments, then the call
    and the expected value (or the test's code, for exercises that give one)."""
    if not isinstance(test, dict):
        return str(test)
    lines = [f"# {test.get('name', 'test')}"]
    if test.get("description"):
        lines.append(f"#   {test['description']}")
    if isinstance(test.get("code"), str):
        lines.append(test["code"])
    if test.get("call"):
        lines.append(str(test["call"]))
    if test.get("expected") is not None:
        lines.append(f"# expected: {test['expected']}")
    return "\n".join(lines)


class CodeHandlers:
    def __init__(self, tutor: Any) -> None:
        self.tutor = tutor

    def exercise_choices(self) -> list[tuple[str, str]]:
        try:
            return [(f"{e['title']} ({e['id']})", e["id"]) for e in self.tutor.list_exercises()]
        except TutorError:
            log.warning("exercises unavailable", exc_info=True)
            return []

    def load_exercise(self, exercise_id: str | None) -> tuple[str, str, str]:
        """(statement Markdown, starter code, public tests) of an exercise."""
        if not exercise_id:
            return (
                "Pick an exercise to see its statement, or write any Python below and press Run.",
                STARTER,
                "",
            )
        try:
            ex = self.tutor.exercise(exercise_id)
        except TutorError as e:
            raise gr.Error(error_text(e)) from e
        statement = str(ex.get("statement") or "")
        if not statement.lstrip().startswith("#"):  # statements usually open with their own title
            statement = f"### {escape_md(str(ex.get('title', exercise_id)))}\n\n{statement}"
        tests = ex.get("public_tests") or []
        shown = "\n\n".join(_show_test(t) for t in tests)
        return statement, str(ex.get("starter_code") or ""), shown

    def run(
        self, code: str, learner: str | None, tab_id: str | None, request: gr.Request | None = None
    ) -> RunOut:
        """(status Markdown, stdout, stderr + traceback, plots update) of one run in the session;
        the plot gallery shows only when the run drew something."""
        try:
            learner_id = learner_of(learner, request)
            result = self.tutor.run(code or "", session_id=session_id(learner_id, tab_id))
        except TutorError as e:
            return f"⚠ {escape_md(error_text(e))}", "", "", gr.update(value=[], visible=False)
        status = str(result.get("status", "error"))
        icon = {"ok": "✓", "error": "✗", "timeout": "⌛", "killed": "■"}.get(status, "❔")
        line = f"{icon} **{status}** in {float(result.get('duration_s') or 0):.2f} s"
        notices = [escape_md(str(n)) for n in result.get("notices") or []]
        texts = [
            str(o.get("data", "")) for o in result.get("outputs") or [] if o.get("mime_type") == "text/plain"
        ]
        stdout = str(result.get("stdout") or "") + "".join(f"\n{t}" for t in texts if t)
        stderr = "\n".join(s for s in (str(result.get("stderr") or ""), _traceback(result.get("error"))) if s)
        status_md = "\n\n".join([line, *notices])
        images = images_of(result.get("outputs"))
        return status_md, stdout.strip("\n"), stderr, gr.update(value=images, visible=bool(images))

    def grade(
        self, exercise_id: str | None, code: str, learner: str | None, request: gr.Request | None = None
    ) -> GradeOut:
        """(verdict Markdown, per-test rows, hint Markdown); the attempt counts for the learner."""
        if not exercise_id:
            return "⚠ Pick an exercise to grade against.", [], ""
        try:
            learner_id = learner_of(learner, request)
            report = self.tutor.grade(exercise_id, code or "", learner_id=learner_id)
        except TutorError as e:
            return f"⚠ {escape_md(error_text(e))}", [], ""
        passed, score = bool(report.get("passed")), float(report.get("score") or 0.0)
        tests = report.get("tests") or []
        n_ok = sum(1 for t in tests if t.get("passed"))
        verdict = "✓ **Passed**" if passed else "✗ **Not yet**"
        status = report.get("status", "ok")
        head = f"{verdict} · score **{score:.0%}** · {n_ok}/{len(tests)} tests"
        if status != "ok":
            head += f" · run status: {escape_md(str(status))}"
        feedback = escape_md(str(report.get("feedback") or ""))
        rows = [
            [
                ("(hidden) " if t.get("hidden") else "") + str(t.get("name", "")),
                "✓" if t.get("passed") else "✗",
                str(t.get("message") or ""),
            ]
            for t in tests
        ]
        hint = str(report.get("hint") or "")
        hint_md = f"**Hint:** {escape_md(hint)}" if hint and not passed else ""
        return "\n\n".join(p for p in (head, feedback) if p), rows, hint_md

    def reset(self, learner: str | None, tab_id: str | None, request: gr.Request | None = None) -> str:
        try:
            self.tutor.reset_session(session_id(learner_of(learner, request), tab_id))
        except TutorError as e:
            return f"⚠ {escape_md(error_text(e))}"
        return "↻ Fresh kernel: variables and imports are gone."


def build_code_tab(tutor: Any, learner: gr.components.Component, tab_id: gr.State) -> dict[str, Any]:
    h = CodeHandlers(tutor)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=280):
            exercise = gr.Dropdown(
                label="Exercise", choices=h.exercise_choices(), value=None, elem_id="exercise"
            )
            statement = gr.Markdown(
                "Pick an exercise, or write any Python and press Run.",
                latex_delimiters=LATEX,
                elem_id="statement",
            )
            with gr.Accordion("Public tests", open=False):
                public = gr.Code(language="python", interactive=False, show_label=False, lines=3)
            labs_panel = build_labs_panel(tutor)  # tutor/web/ui/labs.py
        with gr.Column(scale=3, min_width=300):
            editor = gr.Code(
                value=STARTER,
                language="python",
                lines=16,
                max_lines=40,
                label="Your code",
                interactive=True,
                elem_id="editor",
            )
            with gr.Row():
                run = gr.Button("Run", variant="primary", elem_id="run", min_width=80)
                grade = gr.Button("Grade", variant="secondary", elem_id="grade", min_width=80)
                reset = gr.Button("Reset kernel", size="sm", elem_id="reset", min_width=80)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            status = gr.Markdown(elem_id="run-status")
            stdout = gr.Textbox(label="Output", lines=4, max_lines=20, interactive=False, elem_id="stdout")
            stderr = gr.Textbox(
                label="Errors and traceback", lines=2, max_lines=20, interactive=False, elem_id="stderr"
            )
            plots = gr.Gallery(
                label="Plots",
                visible=False,
                columns=2,
                height=320,
                object_fit="contain",
                elem_id="plots",
                interactive=False,
                buttons=["download", "fullscreen"],
            )
        with gr.Column(scale=2, min_width=280):
            verdict = gr.Markdown(elem_id="verdict")
            tests = gr.Dataframe(
                headers=TEST_HEADERS,
                column_widths=["38%", "10%", "52%"],
                datatype="str",
                label="Tests",
                interactive=False,
                wrap=True,
                elem_id="tests",
                column_count=3,
            )
            hint = gr.Markdown(elem_id="hint")

    exercise.change(h.load_exercise, exercise, [statement, editor, public], api_visibility="private")
    run.click(
        h.run,
        [editor, learner, tab_id],
        [status, stdout, stderr, plots],
        concurrency_id="code",
        concurrency_limit=12,
        api_visibility="private",
    )
    grade.click(
        h.grade,
        [exercise, editor, learner],
        [verdict, tests, hint],
        concurrency_id="grade",
        concurrency_limit=4,
        api_visibility="private",
    )
    reset.click(h.reset, [learner, tab_id], status, concurrency_id="code", api_visibility="private")
    wire_labs(labs_panel, learner, tab_id, editor, (status, stdout, stderr, plots))
    return {"exercise": exercise, "editor": editor, "handlers": h}
