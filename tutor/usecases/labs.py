"""Guided labs for the UI, API, CLI and chat: list and show labs, hand out notebooks, check a step
in the learner's own kernel, grade an uploaded notebook, keep progress per learner, and count
passed steps as evidence for the lab's topics.

Evidence: the FIRST pass of each step records one passed attempt (``exercise_id`` =
``lab:<lab_id>/<step_id>``) for each of the step's topics in the learner model, like a passed
exercise; failed checks are not recorded as evidence (working a step out by trial is what a
guided lab is for), but they are kept as the step's progress.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar

from curriculum.labs import Lab, get_lab, load_labs
from curriculum.labs.notebook import Segment, generate_json, parse_submission
from tools.lab_runner import LabContext, LabRunner, StepResult, check_job_spec
from tutor.errors import BadInput

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
SUBMIT_JOB_WAIT_S = 180.0  # a notebook submission waits this long for a lab's training job


def _translated(fn: F) -> F:
    """Lower-layer errors (LookupError, ValueError, ...) leave as TutorErrors (404, 400, ...)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from tutor.errors import translate_errors

        with translate_errors():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


class LabService:
    """Built once per ``Tutor`` (``tutor.labs``)."""

    def __init__(self, tutor: Any) -> None:
        self.tutor = tutor

    @cached_property
    def labs(self) -> dict[str, Lab]:
        return load_labs(strict=False, known_topics=set(self.tutor.catalog.topics))

    @_translated
    def lab(self, lab_id: str) -> Lab:
        return get_lab(self.labs, lab_id)

    # --- reading ---
    def catalog(self) -> dict[str, Any]:
        """``{"labs": [{"id", "title", "module", "topics", "minutes", "steps": [{"id", "title"}]}]}``"""
        return {"labs": [lab.summary() for lab in self.labs.values()]}

    @_translated
    def get(self, lab_id: str) -> dict[str, Any]:
        """The lab with its intro, step texts, starters and hints (never probes or checks)."""
        return self.lab(lab_id).to_public_dict()

    @_translated
    def notebook(self, lab_id: str) -> str:
        return generate_json(self.lab(lab_id))

    def for_topic(self, topic_id: str) -> list[str]:
        return [lab.id for lab in self.labs.values() if topic_id in lab.topics]

    def find(self, text: str) -> str | None:
        """The lab a message names: its id, a word of its title or id ("the pandas lab"), or a topic."""
        low = text.lower()
        for lab in self.labs.values():
            if lab.id in low:
                return lab.id
        words = set(re.findall(r"[a-z0-9]+", low)) - _COMMON
        best, score = None, 0
        for lab in self.labs.values():
            names = set(re.findall(r"[a-z0-9]+", f"{lab.id} {lab.title}".lower())) - _COMMON
            names |= {t.split(".", 1)[1] for t in lab.topics} | {
                p for t in lab.topics for p in t.split(".", 1)[1].split("-")
            }
            hit = len(words & names)
            if hit > score:
                best, score = lab.id, hit
        if best is None and (m := re.search(r"\b(?:module\s*|m)(\d{1,2})\b", low)):
            return next((lab.id for lab in self.labs.values() if lab.module == f"m{m.group(1)}"), None)
        return best

    # --- progress ---
    @_translated
    def progress(self, learner_id: str, lab_id: str | None = None) -> list[dict[str, Any]]:
        """The learner's labs, most recent first, each with ``done``/``total`` and ``next_step``."""
        out = []
        for run in self.tutor.store.lab_progress(learner_id, lab_id):
            lab = self.labs.get(run["lab_id"])
            if lab is None:
                continue
            done = [s.id for s in lab.steps if run["steps"].get(s.id, {}).get("ever_passed")]
            nxt = next((s.id for s in lab.steps if s.id not in done), None)
            out.append(
                {**run, "title": lab.title, "done": len(done), "total": len(lab.steps), "next_step": nxt}
            )
        return out

    def open_by_topic(self, learner_id: str) -> dict[str, str]:
        """``{topic_id: lab_id}`` of the labs this learner has not finished (for the planner);
        empty when labs cannot be read, so planning never fails because of a lab."""
        try:
            done = {r["lab_id"] for r in self.progress(learner_id) if r["done"] == r["total"]}
            out: dict[str, str] = {}
            for lab in self.labs.values():
                if lab.id not in done:
                    for topic in lab.topics:
                        out.setdefault(topic, lab.id)
            return out
        except Exception:
            log.warning("labs unavailable for planning", exc_info=True)
            return {}

    @_translated
    def start(self, learner_id: str, lab_id: str) -> dict[str, Any]:
        """Start (or resume) a lab: ``{"lab", "progress", "step"}`` with the step to do next."""
        lab = self.lab(lab_id)
        runs = self.progress(learner_id, lab.id)
        step_id = (runs[0]["next_step"] if runs else None) or lab.steps[0].id
        self.tutor.store.touch_lab(learner_id, lab.id, current_step=step_id)
        return {"lab": lab.to_public_dict(), "progress": self.progress(learner_id, lab.id)[0],
                "step": lab.step(step_id).to_public_dict()}  # fmt: skip

    @_translated
    def resume(self, learner_id: str) -> dict[str, Any] | None:
        """The most recently worked-on lab that is not finished (or the last one), as ``start``."""
        runs = self.progress(learner_id)
        if not runs:
            return None
        run = next((r for r in runs if r["next_step"]), runs[0])
        return self.start(learner_id, run["lab_id"])

    # --- running ---
    @_translated
    def prepare_kernel(self, lab_id: str, session_id: str) -> None:
        """Copy the lab's data files into the kernel of ``session_id`` (only missing ones)."""
        self._runner(None).install_data(self.lab(lab_id), session_id)

    def _runner(self, learner_id: str | None, job_wait_s: float = 0.0) -> LabRunner:
        def submit_job(spec: dict[str, Any]) -> dict[str, Any]:
            kind, params = check_job_spec(spec)
            if kind == "gpt":
                _confine_gpt_data(self.tutor, params)
            return dict(self.tutor.submit_job(kind, params, learner_id=learner_id))

        return LabRunner(
            self.tutor.kernels, job_hook=submit_job, job_getter=self.tutor.job, job_wait_s=job_wait_s
        )

    def _record(self, learner_id: str, lab: Lab, res: StepResult) -> None:
        first = self.tutor.store.record_lab_step(learner_id, lab.id, res.id, res.passed, res.message)
        if res.job_id:
            self.tutor.store.touch_lab(learner_id, lab.id, job_id=res.job_id)
        if first:
            for topic in lab.step_topics(lab.step(res.id)):
                try:
                    self.tutor.learner_model.record_attempt(
                        learner_id, f"lab:{lab.id}/{res.id}", topic, True, 1.0
                    )
                except LookupError:
                    log.warning("lab %s names unknown topic %s", lab.id, topic)

    @_translated
    def check_step(
        self, learner_id: str, lab_id: str, step_id: str, code: str, session_id: str
    ) -> dict[str, Any]:
        """Run ``code`` as the step's cell in the learner's kernel ``session_id`` (state carries
        over from earlier runs), then the probe and the check. Returns the StepResult dict plus
        ``progress`` and ``next_step``."""
        lab = self.lab(lab_id)
        step = lab.step(step_id)
        if len(code) > self.tutor.settings.max_code_chars:
            raise BadInput(
                f"code is {len(code)} characters; the limit is {self.tutor.settings.max_code_chars}"
            )
        run = (self.tutor.store.lab_progress(learner_id, lab.id) or [{}])[0]
        ctx = LabContext(job_id=run.get("job_id"))
        res = self._runner(learner_id).run_step(lab, step, [code] if code.strip() else [], session_id, ctx)
        self._record(learner_id, lab, res)
        prog = self.progress(learner_id, lab.id)[0]
        if res.passed and prog["next_step"]:
            self.tutor.store.touch_lab(learner_id, lab.id, current_step=prog["next_step"])
        return {**res.to_dict(), "progress": prog, "next_step": prog["next_step"]}

    @_translated
    def submit(self, lab_id: str, notebook: bytes | str, learner_id: str | None = None) -> dict[str, Any]:
        """Grade an uploaded notebook top to bottom in a fresh sandboxed kernel:
        ``{"lab_id", "steps": [{"id", "passed", "message"}], "passed"}``."""
        lab = self.lab(lab_id)
        segments = parse_submission(notebook, lab)
        size = sum(len(c) for seg in segments for c in seg.cells)
        if size > self.tutor.settings.max_code_chars:
            raise BadInput(
                f"the notebook's code is {size} characters; the limit is {self.tutor.settings.max_code_chars}"
            )
        on_step = (lambda res: self._record(learner_id, lab, res)) if learner_id else None
        return self._runner(learner_id, SUBMIT_JOB_WAIT_S).run_segments(lab, segments, on_step=on_step)

    @_translated
    def run_solution(self, lab_id: str, steps: dict[str, str]) -> dict[str, Any]:
        """Run given code per step (tests and tooling), like a submission, without a learner."""
        lab = self.lab(lab_id)
        return self._runner(None, SUBMIT_JOB_WAIT_S).run_segments(
            lab, [Segment(s.id, (steps.get(s.id, ""),)) for s in lab.steps]
        )


_COMMON = {"the", "a", "an", "lab", "labs", "start", "open", "begin", "do", "let", "s", "me", "my", "with", "and",
           "of", "in", "on", "to", "by", "i", "want", "please", "resume", "continue", "then", "your", "own"}  # fmt: skip


def _confine_gpt_data(tutor: Any, params: dict[str, Any]) -> None:
    """A lab's gpt job reads "notes", topic ids, or a file in the data dir's datasets/ folder."""
    data = params.get("data", "notes")
    if data == "notes" or isinstance(data, list):
        return
    if not isinstance(data, str):
        raise BadInput('data must be "notes", a list of topic ids, or a file name in the datasets folder')
    root = tutor.settings.datasets_dir.resolve()
    path = (root / data).resolve()
    if not path.is_relative_to(root):
        raise BadInput(f"training files must be inside {root}; got {data!r}")
    params["data"] = str(path)
