"""HTTP routes for practice items (docs/api.md, "Practice"); translation only, over
``tutor.usecases.practice``. Same error shape and key rules as ``tutor/web/api/``: a learner key
acts only as its own learner."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from tutor.errors import translate_errors
from tutor.web.api import schemas as m
from tutor.web.api.common import Auth, LearnerId, TutorDep
from tutor.web.api.schemas import out

router = APIRouter(prefix="/api", tags=["practice"], responses=m.ERROR_RESPONSES)


class AnswerIn(BaseModel):
    learner_id: LearnerId
    answer: str | int | float | None = None
    """Multiple choice: the option's text or its 0-based index; numeric: a number; short answer:
    words; code: Python source."""


@router.get("/topics/{topic_id}/practice", **out(m.TopicPracticeOut))
def topic_practice(topic_id: str, tutor: TutorDep, _who: Auth) -> dict[str, Any]:
    """The topic's items without answers, feedback, solutions or tests."""
    with translate_errors():
        return tutor.practice.topic_items(topic_id)  # type: ignore[no-any-return]


@router.get("/learners/{learner_id}/practice/next", **out(m.NextPracticeOut))
def next_practice(
    learner_id: str,
    tutor: TutorDep,
    who: Auth,
    topic_id: Annotated[str | None, Query(max_length=128)] = None,
) -> dict[str, Any]:
    """Due review first, then the given topic or the learner's weakest topic."""
    who.act_as(learner_id)
    with translate_errors():
        return tutor.practice.next_item(learner_id, topic_id or None)  # type: ignore[no-any-return]


@router.post("/practice/{item_id}/answer", **out(m.AnswerOut))
def answer_practice(item_id: str, body: AnswerIn, tutor: TutorDep, who: Auth) -> dict[str, Any]:
    """Check one answer and record it: ``{"correct", "feedback", "explanation", "mastery":
    {"topic_id", "before", "after"}, "next_review", ...}``."""
    learner = who.act_as(body.learner_id) or body.learner_id
    with translate_errors():
        return tutor.practice.answer(learner, item_id, body.answer).to_dict()  # type: ignore[no-any-return]
