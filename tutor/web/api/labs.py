"""HTTP routes for guided labs (docs/api.md, "Labs"); translation only, over
``tutor.usecases.labs``. Same error shape and key rules as ``tutor/web/api/``: a learner key acts
only as its own learner (403 otherwise); an unknown lab is a 404."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from tutor.errors import BadInput, translate_errors
from tutor.web.api import schemas as m
from tutor.web.api.common import Auth, LearnerId, TutorDep
from tutor.web.api.schemas import out

router = APIRouter(prefix="/api", tags=["labs"], responses=m.ERROR_RESPONSES)
_LEARNER_PATTERN = r"^[A-Za-z0-9_.@-]+$"


class StepCheckIn(BaseModel):
    learner_id: LearnerId
    code: str
    session_id: str = Field(default="labs", max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")
    """The learner's kernel session: state carries from step to step within it."""


@router.get("/labs", **out(m.LabsOut))
def list_labs(tutor: TutorDep, _who: Auth) -> dict[str, Any]:
    """``{"labs": [{"id", "title", "module", "topics", "minutes", "steps": [{"id", "title"}]}]}``"""
    with translate_errors():
        return tutor.labs.catalog()  # type: ignore[no-any-return]


@router.get("/labs/{lab_id}", **out(m.LabOut))
def get_lab(lab_id: str, tutor: TutorDep, _who: Auth) -> dict[str, Any]:
    """The lab with its intro and, per step, the text, starter and hint."""
    with translate_errors():
        return tutor.labs.get(lab_id)  # type: ignore[no-any-return]


@router.get("/labs/{lab_id}/notebook", response_class=Response, responses=m.NOTEBOOK_RESPONSES)
def lab_notebook(lab_id: str, tutor: TutorDep, _who: Auth) -> Response:
    """The lab as a Jupyter notebook (nbformat 4) to work on in any Jupyter."""
    with translate_errors():
        body = tutor.labs.notebook(lab_id)
    return Response(
        body,
        media_type="application/x-ipynb+json",
        headers={"Content-Disposition": f'attachment; filename="{lab_id}.ipynb"'},
    )


@router.post("/labs/{lab_id}/submit", **out(m.LabSubmitOut))
def submit_lab(
    lab_id: str,
    tutor: TutorDep,
    who: Auth,
    file: Annotated[UploadFile, File(description="the .ipynb file")],
    learner_id: Annotated[str, Form(min_length=1, max_length=128, pattern=_LEARNER_PATTERN)],
) -> dict[str, Any]:
    """Run the notebook's code top to bottom in a fresh sandbox and check every step:
    ``{"lab_id", "steps": [{"id", "passed", "message"}], "passed"}``. Outputs are ignored."""
    learner = who.act_as(learner_id) or learner_id
    raw = file.file.read()
    if not raw:
        raise BadInput("the uploaded file is empty; send the .ipynb file in the `file` field")
    with translate_errors():
        tutor.labs.lab(lab_id)  # 404 before any work
        return tutor.labs.submit(lab_id, raw, learner_id=learner)  # type: ignore[no-any-return]


@router.post("/labs/{lab_id}/steps/{step_id}/check", **out(m.StepCheckOut))
def check_step(lab_id: str, step_id: str, body: StepCheckIn, tutor: TutorDep, who: Auth) -> dict[str, Any]:
    """Run ``code`` as the step's cell in the learner's kernel session, then check the step:
    ``{"id", "passed", "message", "status", "hint", "runs", "progress", "next_step", ...}``."""
    learner = who.act_as(body.learner_id) or body.learner_id
    session = f"{learner}.lab.{body.session_id}"  # a learner's kernels are namespaced
    with translate_errors():
        return tutor.labs.check_step(learner, lab_id, step_id, body.code, session)  # type: ignore[no-any-return]


@router.get("/learners/{learner_id}/labs", **out(m.LabProgressOut))
def lab_progress(learner_id: str, tutor: TutorDep, who: Auth) -> dict[str, Any]:
    """The learner's labs, most recent first: ``{"labs": [{"lab_id", "title", "done", "total",
    "next_step", "steps": {...}}]}``."""
    who.act_as(learner_id)
    with translate_errors():
        return {"labs": tutor.labs.progress(learner_id)}
