"""Response models of every ``/api`` and ``/v1`` route, so ``/docs`` (OpenAPI) shows each shape.

They describe what the service returns; they do not reshape it. Routes use them through
``out(Model)``, which also sets ``response_model_exclude_unset``: a key the service leaves out stays
out (a practice item has ``choices`` only for multiple choice), and no default is ever added. Shapes
that grow (jobs, models, plans, lab progress, ...) allow extra keys, so a new field in the service
reaches clients without a change here; the contract (``docs/contract.md``) names the stable keys.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def out(model: Any) -> dict[str, Any]:
    """Route keyword arguments for a response model: ``@router.get(path, **out(Model))``."""
    return {"response_model": model, "response_model_exclude_unset": True}


class Open(BaseModel):
    """A shape that may carry more keys than it names."""

    model_config = ConfigDict(extra="allow")


# --- errors: one shape for every 4xx/5xx (``tutor/web/api/``) ---
class ErrorDetail(BaseModel):
    code: str = Field(description="stable code: bad_input, not_found, unauthorized, forbidden, conflict, ...")
    message: str = Field(description="what went wrong and what to do about it")
    details: Any = Field(default=None, description="only some errors: e.g. the model gate's figures on a 409")
    id: str | None = Field(
        default=None, description="only 500 internal: the id the server logged the traceback under"
    )


class ErrorOut(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "bad input (bad_input, bad_json)"},
    401: {"model": ErrorOut, "description": "no or unknown API key (unauthorized)"},
    403: {"model": ErrorOut, "description": "the key may not do this (forbidden)"},
    404: {"model": ErrorOut, "description": "unknown id (not_found)"},
    409: {"model": ErrorOut, "description": "refused in the current state (conflict)"},
    413: {"model": ErrorOut, "description": "request body too large (too_large)"},
    422: {"model": ErrorOut, "description": "request does not match the schema (invalid_request)"},
    500: {"model": ErrorOut, "description": "a bug on our side (internal, with error.id)"},
    503: {"model": ErrorOut, "description": "a part is not available (unavailable)"},
}


# --- chat and threads ---
class Citation(Open):
    topic_id: str | None = None
    source: str | None = Field(default=None, description="note path and section anchor")


class ChatOut(Open):
    thread_id: str
    reply: str
    citations: list[Citation]
    tool_calls: list[dict[str, Any]]


class Message(Open):
    role: str = Field(description="user | assistant")
    content: str


CHAT_STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`text/event-stream`: `token` events (reply text, in order; data a JSON string), "
        "`tool` events (a tool call and its status), then one `done` event whose data is the ChatOut "
        "of `POST /api/chat`; a failure after the stream began ends it with one `error` event whose "
        'data is the error body (`{"error": {"code", "message", "id"?}}`) instead of `done`',
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


class ThreadOut(Open):
    thread_id: str
    learner_id: str | None = None
    title: str | None = None
    messages: list[Message]


class ThreadSummary(Open):
    thread_id: str
    title: str | None = None
    created: str | None = None


# --- knowledge and curriculum ---
class Passage(Open):
    topic_id: str
    title: str
    source: str = Field(description='e.g. "knowledge/notes/m1.numpy.md#broadcasting-rules"')
    heading: str | None = None
    text: str
    score: float = Field(description="fused relevance in 0..1")


class CurriculumTopic(Open):
    id: str
    title: str
    prerequisites: list[str]
    practicals: list[Any] = []
    must_cover: list[str] = []
    minutes: int | None = None


class CurriculumModule(Open):
    id: str
    title: str
    phase: int
    duration: str | None = None
    resources: list[Any] = []
    topics: list[CurriculumTopic]


class CurriculumOut(Open):
    modules: list[CurriculumModule]


class ExerciseSummary(Open):
    id: str
    topic_id: str
    title: str


class ExerciseOut(Open):
    """The statement, starter code and public tests; hidden tests only as a count."""

    id: str
    topic_id: str
    title: str
    statement: str
    starter_code: str | None = None
    function: str | None = None
    public_tests: list[dict[str, Any]] = []
    hidden_tests: int | None = None
    timeout_s: float | None = None


# --- code ---
class RunOut(Open):
    status: str = Field(description="ok | error | timeout | killed")
    stdout: str
    stderr: str
    outputs: list[dict[str, Any]] = Field(description='rich outputs: [{"mime_type", "data"}]')
    error: dict[str, Any] | None = Field(description='{"name", "message", "traceback"} or null')
    duration_s: float
    notices: list[str] = []


class GradeOut(Open):
    exercise_id: str
    passed: bool
    score: float = Field(description="0..1")
    tests: list[dict[str, Any]] = Field(description='[{"name", "passed", "hidden", "message"}]')
    feedback: str
    status: str = Field(description="ok | error | timeout | killed")
    duration_s: float
    hint: str = ""
    notices: list[str] = []
    load_error: dict[str, Any] | None = Field(
        default=None,
        description='{"name", "message", "traceback"} when the code failed to load (a syntax error, '
        "an exception at import); null otherwise",
    )


# --- learners ---
class Attempt(Open):
    exercise_id: str
    topic_id: str
    passed: bool
    score: float
    at: str


class ProgressOut(Open):
    learner_id: str
    mastery: dict[str, float] = Field(description="topic_id -> 0..1, topics with evidence only")
    attempts: list[Attempt]
    due_reviews: list[str] = Field(description="topic ids due for review")


class PlanItem(Open):
    topic_id: str
    activity: str = Field(description="learn | practice | review | project | lab")
    minutes: int
    reason: str | None = Field(default=None, description="why it is in the plan (curriculum/plan_reasons.py)")


class PlanOut(Open):
    learner_id: str
    items: list[PlanItem]
    rationale: str
    model: str | None = None
    repaired: bool | None = None
    repairs: list[str] | None = None
    goal_topics: list[str] | None = None
    hours: float | None = None
    goal: str | None = None
    constraint: str | None = Field(default=None, description="decoder held to: ids | strict | none")
    reasons_replaced: int | None = Field(default=None, description="GPT reasons replaced as untrue")
    distance: str | None = Field(default=None, description="how far the goal is, as a sentence")
    plan_id: str | None = None


# --- jobs and models ---
class JobOut(Open):
    job_id: str
    kind: str
    status: str = Field(description="queued | running | succeeded | failed | cancelled | interrupted")
    progress: float = Field(description="0..1")
    metrics: dict[str, Any] = Field(description='{"history": [{"step", "loss", "val_loss"?}], ...}')
    model_id: str | None = None
    error: str | None = None


class ModelOut(Open):
    id: str
    path: str | None = None
    active: bool
    available: bool | None = None


class ActiveModelOut(Open):
    active: str = Field(description="the model id now in use")


# --- practice ---
class PracticeItem(Open):
    """A practice item before an attempt: never its answer, feedback, solution or tests."""

    id: str
    topic_id: str
    kind: str = Field(description="multiple_choice | numeric | short_answer | code")
    prompt: str
    difficulty: Any = None
    choices: list[str] | None = Field(default=None, description="multiple choice only")
    starter: str | None = Field(default=None, description="code only")
    function: str | None = Field(default=None, description="code only")


class TopicPracticeOut(Open):
    topic_id: str
    items: list[PracticeItem]


class NextPracticeOut(PracticeItem):
    reason: str = Field(description="review | topic | weakest")
    mastery: float | None = None


class MasteryChange(Open):
    topic_id: str
    before: float | None = None
    after: float | None = None


class AnswerOut(Open):
    item_id: str
    topic_id: str
    correct: bool
    feedback: str
    explanation: str
    right_answer: str | None = Field(description="null for code items: a solution is never sent")
    mastery: MasteryChange
    next_review: str | None = None


# --- labs ---
NOTEBOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the lab as a Jupyter notebook (nbformat 4), an attachment `<lab_id>.ipynb`",
        "content": {"application/x-ipynb+json": {"schema": {"type": "object"}}},
    }
}


class LabStepSummary(Open):
    id: str
    title: str


class LabSummary(Open):
    id: str
    title: str
    module: str
    topics: list[str]
    minutes: int
    steps: list[LabStepSummary]


class LabsOut(Open):
    labs: list[LabSummary]


class LabStep(Open):
    id: str
    title: str
    text: str = Field(description="Markdown")
    starter: str | None = None
    hint: str | None = None
    action: Any = None


class LabOut(Open):
    """A lab as a learner sees it: never a step's probe or check."""

    id: str
    title: str
    module: str
    topics: list[str]
    minutes: int
    intro: str
    data: list[str]
    steps: list[LabStep]


class StepVerdict(Open):
    id: str
    passed: bool
    message: str


class LabSubmitOut(Open):
    lab_id: str
    steps: list[StepVerdict]
    passed: bool


class LabProgress(Open):
    lab_id: str
    title: str
    done: int
    total: int
    next_step: str | None = None
    current_step: str | None = None
    job_id: str | None = None
    started: str | None = None
    updated: str | None = None
    steps: dict[str, dict[str, Any]] = Field(
        description='step_id -> {"passed", "ever_passed", "message", "attempts", "updated"}'
    )


class StepCheckOut(StepVerdict):
    status: str = Field(description="ok | error | timeout | killed | no-report | busy")
    hint: str = ""
    runs: list[dict[str, Any]] = Field(default=[], description="the run results of the learner's cells")
    job_id: str | None = None
    progress: LabProgress
    next_step: str | None = None


class LabProgressOut(Open):
    labs: list[LabProgress] = Field(description="most recent first")


# --- teachers ---
class CohortTopic(Open):
    id: str
    title: str
    module: str


class DueReview(Open):
    topic_id: str
    title: str
    due: str


class LearnerSummary(Open):
    learner_id: str
    attempts: int
    passed: int
    answers: int
    correct: int
    topics_started: int
    topics_mastered: int
    mean_mastery: float | None = None
    last_active: str | None = None
    due: list[DueReview] = []


class FailureCount(Open):
    label: str
    count: int


class ItemStats(Open):
    item_id: str
    topic_id: str
    kind: str
    title: str
    attempts: int
    learners: int
    passed: int
    pass_rate: float
    failures: list[FailureCount] = Field(default=[], description="the three most common, commonest first")


class StuckLearner(Open):
    learner_id: str
    topic_id: str
    title: str
    failures: int
    last_success: str | None = None
    last_try: str


class CohortOut(Open):
    generated: str
    stuck_days: float
    min_failures: int
    topics: list[CohortTopic]
    learners: list[LearnerSummary]
    mastery: dict[str, dict[str, float]] = Field(description="learner_id -> topic_id -> 0..1")
    exercises: list[ItemStats]
    practice: list[ItemStats]
    stuck: list[StuckLearner]


# --- /v1 (OpenAI-compatible) ---
class V1Model(Open):
    id: str
    object: str = "model"
    created: int
    owned_by: str


class V1ModelsOut(Open):
    object: str = "list"
    data: list[V1Model]


class V1Choice(Open):
    index: int
    message: dict[str, Any] = Field(description='{"role": "assistant", "content"}')
    finish_reason: str | None = None


class V1TutorExtra(Open):
    thread_id: str
    citations: list[Citation]


class V1ChatOut(Open):
    """A plain reply; with ``"stream": true`` the reply is ``text/event-stream`` of
    ``chat.completion.chunk`` objects ending with ``[DONE]``."""

    id: str
    object: str = "chat.completion"
    created: int
    model: str
    choices: list[V1Choice]
    usage: dict[str, int]
    tutor: V1TutorExtra


V1_CHAT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": V1ChatOut,
        "description": "a `chat.completion`, or with `stream: true` a `text/event-stream` of "
        "`chat.completion.chunk` objects then `[DONE]`; the `X-Tutor-Thread` header names the thread",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


# --- ops ---
class HealthOut(BaseModel):
    status: str = "ok"


class ReadyOut(BaseModel):
    status: str = Field(description="ready | loading")
    parts: dict[str, str] = Field(description='part -> "loading" | "ready" | "failed: ..."')


READY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": ReadyOut, "description": "every part is loaded"},
    503: {"model": ReadyOut, "description": "still loading (or a part failed)"},
}
