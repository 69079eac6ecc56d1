"""The Labs picker in the Code tab: pick a guided lab, walk its steps in the learner's own kernel
(the same session as Run, so state carries from step to step), Check each step, see progress
(saved per learner). The step's starter goes into the editor; Check runs the editor's code as
the step's cell, then the lab's probe and check, and shows the output like Run does.

``build_labs_panel`` places the components (inside the Code tab's left column) and
``wire_labs`` connects them once the editor and the output components exist.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import gradio as gr

from tutor.errors import TutorError
from tutor.web.ui.common import LATEX, error_text, escape_md, images_of, learner_of

log = logging.getLogger(__name__)


@dataclass
class LabsPanel:
    lab: Any
    step: Any
    text: Any
    progress: Any
    check: Any
    verdict: Any


def _session(learner_id: str, tab_id: str | None) -> str:
    from tutor.web.ui.code import session_id

    return session_id(learner_id, tab_id)


def _step_choices(lab: dict[str, Any], progress: dict[str, Any] | None) -> list[tuple[str, str]]:
    steps = (progress or {}).get("steps") or {}
    out = []
    for n, s in enumerate(lab["steps"], 1):
        mark = "✓ " if steps.get(s["id"], {}).get("ever_passed") else ""
        out.append((f"{mark}{n}. {s['title']}", s["id"]))
    return out


def _step_md(lab: dict[str, Any], step_id: str) -> str:
    for n, s in enumerate(lab["steps"], 1):
        if s["id"] == step_id:
            md = f"#### Step {n} of {len(lab['steps'])}: {escape_md(s['title'])}\n\n{s['text']}"
            return md + (f"\n\n*Hint: {s['hint']}*" if s.get("hint") else "")
    return ""


def _progress_md(progress: dict[str, Any] | None) -> str:
    if not progress:
        return ""
    done, total = progress.get("done", 0), progress.get("total", 0)
    tail = " · lab complete! 🎉" if total and done == total else ""
    return f"**Progress:** {done}/{total} steps passed{tail}"


class LabHandlers:
    def __init__(self, tutor: Any) -> None:
        self.tutor = tutor

    def choices(self) -> list[tuple[str, str]]:
        try:
            return [(f"{x['module']} · {x['title']}", x["id"]) for x in self.tutor.labs.catalog()["labs"]]
        except Exception:  # a broken lab folder must not take the Code tab down
            log.warning("labs unavailable", exc_info=True)
            return []

    def open_lab(
        self, lab_id: str | None, learner: str | None, tab_id: str | None, request: gr.Request | None = None
    ) -> tuple[Any, str, Any, str, str]:
        """(step dropdown, step text, editor, progress, verdict) for a picked lab; the lab's data
        go into the learner's kernel so Run works on the starter right away."""
        if not lab_id:
            return gr.update(choices=[], value=None), "", gr.update(), "", ""
        try:
            learner_id = learner_of(learner, request)
            started = self.tutor.labs.start(learner_id, lab_id)
            self.tutor.labs.prepare_kernel(lab_id, _session(learner_id, tab_id))
        except TutorError as e:
            return gr.update(), "", gr.update(), "", f"⚠ {escape_md(error_text(e))}"
        lab, step = started["lab"], started["step"]
        intro = f"### {escape_md(lab['title'])}\n\n{lab['intro']}\n\n---\n\n"
        return (
            gr.update(choices=_step_choices(lab, started["progress"]), value=step["id"]),
            intro + _step_md(lab, step["id"]),
            gr.update(value=step["starter"]),
            _progress_md(started["progress"]),
            "",
        )

    def open_step(self, lab_id: str | None, step_id: str | None) -> tuple[str, Any, str]:
        """(step text, editor with the starter, cleared verdict) for a picked step."""
        if not lab_id or not step_id:
            return "", gr.update(), ""
        try:
            lab = self.tutor.labs.get(lab_id)
        except TutorError as e:
            return f"⚠ {escape_md(error_text(e))}", gr.update(), ""
        starter = next((s["starter"] for s in lab["steps"] if s["id"] == step_id), None)
        return _step_md(lab, step_id), gr.update(value=starter) if starter is not None else gr.update(), ""

    def check(
        self,
        lab_id: str | None,
        step_id: str | None,
        code: str,
        learner: str | None,
        tab_id: str | None,
        request: gr.Request | None = None,
    ) -> tuple[str, Any, str, str, str, str, Any]:
        """(verdict, step dropdown, progress, status, stdout, stderr, plots) after checking a step."""
        keep = gr.update()
        if not lab_id or not step_id:
            return "⚠ Pick a lab and a step first.", keep, "", "", "", "", keep
        try:
            learner_id = learner_of(learner, request)
            res = self.tutor.labs.check_step(
                learner_id, lab_id, step_id, code or "", _session(learner_id, tab_id)
            )
            lab = self.tutor.labs.get(lab_id)
        except TutorError as e:
            return f"⚠ {escape_md(error_text(e))}", keep, "", "", "", "", keep
        verdict = ("✓ **Step passed.** " if res["passed"] else "✗ **Not yet.** ") + escape_md(res["message"])
        if not res["passed"] and res.get("hint"):
            verdict += f"\n\n**Hint:** {escape_md(res['hint'])}"
        if res["passed"] and res.get("next_step"):
            verdict += "\n\nPick the next step when you are ready."
        runs = res.get("runs") or []
        stdout = "".join(str(r.get("stdout") or "") for r in runs)
        texts = [
            str(o.get("data", ""))
            for r in runs
            for o in r.get("outputs") or []
            if o.get("mime_type") == "text/plain"
        ]
        stdout += "".join(f"\n{t}" for t in texts if t)
        errors = []
        for r in runs:
            err = r.get("error") or {}
            errors.append(str(r.get("stderr") or ""))
            if err:
                errors.append(str(err.get("traceback") or f"{err.get('name')}: {err.get('message')}"))
        images = [p for r in runs for p in images_of(r.get("outputs"))]
        status = "checked " + ("✓" if res["passed"] else "✗")
        return (
            verdict,
            gr.update(choices=_step_choices(lab, res.get("progress")), value=step_id),
            _progress_md(res.get("progress")),
            status,
            stdout.strip("\n"),
            "\n".join(e for e in errors if e),
            gr.update(value=images, visible=bool(images)),
        )


def build_labs_panel(tutor: Any) -> LabsPanel:
    """The picker's components, in an accordion (call inside the Code tab's layout)."""
    h = LabHandlers(tutor)
    with gr.Accordion("Labs: guided, checked practicals", open=False, elem_id="labs"):
        lab = gr.Dropdown(label="Lab", choices=h.choices(), value=None, elem_id="lab")
        step = gr.Dropdown(label="Step", choices=[], value=None, elem_id="lab-step")
        progress = gr.Markdown(elem_id="lab-progress")
        text = gr.Markdown(latex_delimiters=LATEX, elem_id="lab-text")
        check = gr.Button("Check step", variant="primary", elem_id="lab-check", min_width=80)
        verdict = gr.Markdown(elem_id="lab-verdict")
    panel = LabsPanel(lab, step, text, progress, check, verdict)
    panel.handlers = h  # type: ignore[attr-defined]
    return panel


def wire_labs(
    panel: LabsPanel, learner: Any, tab_id: Any, editor: Any, outputs: tuple[Any, Any, Any, Any]
) -> None:
    """Connect the picker to the editor and the Run outputs (status, stdout, stderr, plots)."""
    h: LabHandlers = panel.handlers  # type: ignore[attr-defined]
    status, stdout, stderr, plots = outputs
    panel.lab.change(
        h.open_lab,
        [panel.lab, learner, tab_id],
        [panel.step, panel.text, editor, panel.progress, panel.verdict],
        concurrency_id="code",
        api_visibility="private",
    )
    panel.step.input(
        h.open_step, [panel.lab, panel.step], [panel.text, editor, panel.verdict], api_visibility="private"
    )
    panel.check.click(
        h.check,
        [panel.lab, panel.step, editor, learner, tab_id],
        [panel.verdict, panel.step, panel.progress, status, stdout, stderr, plots],
        concurrency_id="code",
        concurrency_limit=12,
        api_visibility="private",
    )
