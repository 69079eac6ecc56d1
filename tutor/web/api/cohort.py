"""HTTP routes of the teacher view (docs/api.md, "Teachers"): ``GET /api/cohort`` (JSON) and
``GET /api/cohort.csv``, over ``tutor.usecases.cohort``. Only an admin key, a teacher key
(``KEY:teacher``) or no keys at all (loopback) may read them; a learner key gets 403."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from tutor.errors import Forbidden, translate_errors
from tutor.service import Tutor
from tutor.usecases.cohort import Cohort, cohort
from tutor.web.api import schemas as m
from tutor.web.api.common import Auth, Principal, TutorDep
from tutor.web.api.schemas import out

router = APIRouter(prefix="/api", tags=["teachers"], responses=m.ERROR_RESPONSES)
StuckDays = Annotated[float, Query(ge=0, le=365, description="days without a success on a topic")]
MinFailures = Annotated[int, Query(ge=1, le=100, description="failed tries in a row on a topic")]
Section = Literal["learner", "mastery", "exercise", "practice", "stuck", "due"]


def _cohort(tutor: Tutor, who: Principal, stuck_days: float, min_failures: int) -> Cohort:
    if not who.reads_all:
        raise Forbidden("the cohort is for teachers: use a teacher key (KEY:teacher) or an admin key")
    with translate_errors():
        return cohort(tutor, stuck_days=stuck_days, min_failures=min_failures)


@router.get("/cohort", **out(m.CohortOut))
def get_cohort(
    tutor: TutorDep, who: Auth, stuck_days: StuckDays = 7.0, min_failures: MinFailures = 3
) -> dict[str, Any]:
    """Every learner at once: ``{"generated", "stuck_days", "min_failures", "topics": [{"id",
    "title", "module"}], "learners": [{"learner_id", "attempts", "passed", "answers", "correct",
    "topics_started", "topics_mastered", "mean_mastery", "last_active", "due": [{"topic_id",
    "title", "due"}]}], "mastery": {learner: {topic: p}}, "exercises" / "practice": [{"item_id",
    "topic_id", "kind", "title", "attempts", "learners", "passed", "pass_rate", "failures":
    [{"label", "count"}]}], "stuck": [{"learner_id", "topic_id", "title", "failures",
    "last_success", "last_try"}]}``."""
    return _cohort(tutor, who, stuck_days, min_failures).to_dict()


@router.get("/cohort.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def get_cohort_csv(
    tutor: TutorDep,
    who: Auth,
    stuck_days: StuckDays = 7.0,
    min_failures: MinFailures = 3,
    section: Section | None = None,
) -> Response:
    """The same data as one CSV table (columns in ``tutor.usecases.cohort.CSV_COLUMNS``; the
    ``section`` column says what a row is), or only the rows of one ``section``."""
    body = _cohort(tutor, who, stuck_days, min_failures).to_csv(section)
    name = f"cohort-{section}.csv" if section else "cohort.csv"
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip
