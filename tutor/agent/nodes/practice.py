"""Practice nodes: run code in the learner's kernel, hand out exercises, grade submissions.

Graded work is Socratic: replies carry feedback, public test messages and a hint, never a
solution. Hints come from a model, so fenced code is removed from them before they are shown.
A graded attempt is data first (``GradeResult``, from the grader's fields, never its prose) and is
worded in one place (``grade_text``); the agent's ``grade_exercise`` tool returns the same data.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pydantic import BaseModel, Field

from curriculum.learner import tests_summary
from tutor.agent import prompts as P
from tutor.agent.intent import exercise_defined_in, extract_code, find_exercise_id
from tutor.agent.nodes import Services, Update, attr, last_human_text, strip_code_blocks, use_tool
from tutor.agent.nodes.teach import mentioned_topics, passed_exercises, suggest_next
from tutor.errors import NotFound
from tutor.usecases import fallbacks as fb
from tutor.usecases import learner_records

log = logging.getLogger(__name__)
MAX_OUTPUT = 2000  # characters of stdout/stderr quoted back
_WANTS_HELP = re.compile(
    r"\b(solution|solve|answer|hint|stuck|give up|do it for me|write (the|it|my)|complete code|full code|paste)\b",
    re.I,
)
_REFUSAL = re.compile(r"^\s*I can'?t give you the (full )?solution[^.]*\.\s*", re.I)
_LIST = re.compile(r"\b(list|which|what) (the )?exercises\b|\bexercises (are there|do you have)\b", re.I)


# --- run ---
def run_node(svc: Services, state: dict[str, Any]) -> Update:
    code = state.get("code") or extract_code(last_human_text(state))
    if not code:
        return {"reply": P.RUN_NO_CODE}
    return run_code(svc, state, code)


def run_code(svc: Services, state: dict[str, Any], code: str) -> Update:
    calls: list[dict[str, Any]] = []
    session = state.get("thread_id") or None
    result, err = use_tool(
        calls, "run_code", {"code": code}, lambda: svc.kernels.execute(code, session_id=session)
    )
    if err:
        return {"reply": P.RUN_UNAVAILABLE.format(error=err), "tool_calls": calls}
    return {"reply": format_run(result), "tool_calls": calls}


def _clip(text: str) -> str:
    text = text.rstrip()
    return (
        text
        if len(text) <= MAX_OUTPUT
        else text[:MAX_OUTPUT] + f"\n… ({len(text) - MAX_OUTPUT} more characters)"
    )


def format_run(result: Any) -> str:
    status = attr(result, "status", "error")
    parts: list[str] = []
    stdout = str(attr(result, "stdout") or "")
    shown = [stdout] if stdout.strip() else []
    images = False
    for out in attr(result, "outputs") or []:
        mime, data = attr(out, "mime_type"), attr(out, "data")
        if mime == "text/plain" and data:
            shown.append(str(data))
        elif str(mime).startswith("image/"):
            images = True
    if shown:
        parts.append("```text\n" + _clip("\n".join(s.rstrip("\n") for s in shown)) + "\n```")
    if images:
        parts.append(P.RUN_IMAGE)
    if status == "ok":
        duration = float(attr(result, "duration_s") or 0.0)
        parts.insert(0, (P.RUN_OK if shown or images else P.RUN_OK_NO_OUTPUT).format(duration=duration))
    elif status == "error":
        error = attr(result, "error") or {}
        parts.insert(
            0, P.RUN_ERROR.format(name=attr(error, "name", "Error"), message=attr(error, "message", ""))
        )
        tb = attr(error, "traceback") or []
        tail = tb[-3:] if isinstance(tb, list) else str(tb).splitlines()[-3:]
        if tail:
            parts.append("```text\n" + _clip(strip_ansi("\n".join(map(str, tail)))) + "\n```")
        parts.append(P.RUN_ERROR_NEXT)
    elif status == "timeout":
        parts.insert(0, P.RUN_TIMEOUT)
    else:
        parts.insert(0, P.RUN_KILLED)
    stderr = str(attr(result, "stderr") or "").strip()
    if stderr and status == "ok":
        parts.append("stderr:\n```text\n" + _clip(strip_ansi(stderr)) + "\n```")
    parts.extend(str(n) for n in attr(result, "notices") or [])
    return "\n\n".join(parts)


def strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


# --- grade ---
def grade_node(svc: Services, state: dict[str, Any]) -> Update:
    text = last_human_text(state)
    code = state.get("code") or extract_code(text)
    ex_id = (  # named in the message, else the one whose function the code defines, else the current one
        state.get("exercise_id")
        or (exercise_defined_in(code, svc.exercise_entries) if code else None)
        or state.get("current_exercise")
    )
    return grade(svc, state, ex_id, code)


class PublicTest(BaseModel):
    """One public test of a graded submission (hidden tests are only counted)."""

    name: str
    passed: bool
    message: str = ""


class GradeResult(BaseModel):
    """A graded submission as data: the grader's verdict, the mastery recorded for it and the hint
    the learner gets. The agent's ``grade_exercise`` tool returns it as is; ``grade_text`` words it
    for the learner. Never carries hidden tests' names or messages, or a solution."""

    exercise_id: str
    topic_id: str
    passed: bool
    score: float
    status: str = "ok"  # "ok" | "error" | "timeout" | "killed"
    tests_passed: int
    tests_total: int
    tests: list[PublicTest] = Field(default_factory=list, description="the public tests")
    hidden_failed: int = 0
    load_error: str | None = None  # "Name: message" when the code did not load
    traceback: str = ""  # of the load error, the learner's own frames
    hint: str = ""  # for a failed attempt; never code
    mastery: float | None = None  # of the exercise's topic after this attempt

    @property
    def failing(self) -> list[dict[str, Any]]:
        """The public failing tests as the hint tasks take them (``{"name", "message"}``)."""
        return [{"name": t.name, "message": t.message} for t in self.tests if not t.passed]


def grade(svc: Services, state: dict[str, Any], ex_id: str | None, code: str | None) -> Update:
    """Grade through the grader, record the attempt (BKT + FSRS), reply with feedback and a hint."""
    if not ex_id:
        example = next(iter(sorted(svc.exercises)), "numpy-basics")
        return {"reply": P.GRADE_WHICH.format(example=example)}
    ex = svc.exercises.get(ex_id)
    if ex is None:
        return {"reply": P.GRADE_UNKNOWN.format(exercise_id=ex_id, error=_did_you_mean(svc, ex_id))}
    if not code:
        return {"reply": P.GRADE_NO_CODE.format(exercise_id=ex_id), "current_exercise": ex_id}
    calls: list[dict[str, Any]] = []
    report, err = use_tool(
        calls, "grade_exercise", {"exercise_id": ex_id, "code": code}, lambda: svc.grader.grade(ex_id, code)
    )
    if err:
        return {
            "reply": P.GRADE_UNAVAILABLE.format(error=err),
            "tool_calls": calls,
            "current_exercise": ex_id,
        }
    result = grade_result(svc, state, ex, report, calls)
    return {**grade_updates(result), "reply": grade_text(svc, state, result), "tool_calls": calls}


def grade_submission(
    svc: Services, state: dict[str, Any], ex_id: str, code: str, calls: list[dict[str, Any]]
) -> GradeResult:
    """Grade and record, for callers that handle failures themselves (the agent's tool): an
    unknown exercise raises LookupError, a grader that cannot run raises what it raised."""
    ex = svc.exercises.get(ex_id)
    if ex is None:
        raise NotFound(f"unknown exercise {ex_id!r}. {_did_you_mean(svc, ex_id)}")
    return grade_result(svc, state, ex, svc.grader.grade(ex_id, code), calls)


def grade_result(
    svc: Services, state: dict[str, Any], ex: Any, report: Any, calls: list[dict[str, Any]]
) -> GradeResult:
    """The grader's report as a ``GradeResult``, with the attempt recorded (a failure to record is
    added to ``calls``; the verdict still stands) and, for a failed attempt, the hint."""
    learner_id = state.get("learner_id", "")
    passed, score = bool(attr(report, "passed")), float(attr(report, "score") or 0.0)
    tests = list(attr(report, "tests") or [])
    try:
        rec = svc.learner.record_attempt(learner_id, ex.id, ex.topic_id, passed, score,
                                         details=tests_summary(tests))  # fmt: skip
        mastery = float(rec.get("mastery", 0.0))
    except Exception as e:  # the verdict still reaches the learner
        log.exception("recording the attempt failed")
        mastery = learner_records.topic_mastery(svc.store, learner_id, ex.topic_id)
        calls.append(
            {"name": "record_attempt", "args": {"exercise_id": ex.id}, "status": "failed", "summary": str(e)}
        )
    load_error = attr(report, "load_error") or None
    result = GradeResult(
        exercise_id=ex.id,
        topic_id=ex.topic_id,
        passed=passed,
        score=score,
        status=str(attr(report, "status", "ok") or "ok"),
        tests_passed=sum(1 for t in tests if attr(t, "passed")),
        tests_total=len(tests),
        tests=[
            PublicTest(
                name=str(attr(t, "name")),
                passed=bool(attr(t, "passed")),
                message="" if attr(t, "passed") else str(attr(t, "message") or ""),
            )
            for t in tests
            if not attr(t, "hidden")
        ],
        hidden_failed=sum(1 for t in tests if attr(t, "hidden") and not attr(t, "passed")),
        load_error=f"{attr(load_error, 'name', 'Error')}: {attr(load_error, 'message', '')}"
        if load_error
        else None,
        traceback=_clip(str(attr(load_error, "traceback") or "")) if load_error else "",
        mastery=mastery,
    )
    if not passed:
        result.hint = make_hint(svc, ex, result.failing, attr(report, "hint"))
    return result


def grade_updates(result: GradeResult) -> Update:
    """The thread's state after a graded attempt: the exercise and topic worked on, and the public
    failures a later "hint?" is about."""
    return {
        "current_exercise": result.exercise_id,
        "current_topic": result.topic_id,
        "last_failures": result.failing,
    }


def grade_text(svc: Services, state: dict[str, Any], result: GradeResult) -> str:
    """The learner's reply to a graded attempt, from the result's fields: the verdict and counts,
    the failing public tests (or why the code did not load), how many hidden tests failed, the
    hint and what to do next."""
    if result.passed:
        return "\n\n".join(
            [
                P.GRADE_PASSED.format(
                    exercise_id=result.exercise_id,
                    score=result.score,
                    topic=svc.topic_title(result.topic_id),
                    mastery=result.mastery or 0.0,
                ),
                suggest_next(svc, state, result.topic_id),
            ]
        )
    lines = [
        P.GRADE_FAILED.format(
            passed=result.tests_passed,
            total=result.tests_total,
            exercise_id=result.exercise_id,
            score=result.score,
        )
    ]
    if result.status != "ok":
        lines.append(P.GRADE_STATUS.format(status=result.status))
    if result.load_error:
        lines.append(f"Your code did not load: {result.load_error}")
        if result.traceback.strip():
            lines.append("```text\n" + strip_ansi(result.traceback.rstrip()) + "\n```")
    else:
        failing = [f"- {f['name']}: {f['message']}".rstrip(": ") for f in result.failing]
        if result.hidden_failed:
            failing.append(f"- {result.hidden_failed} hidden test(s) failed.")
        if failing:
            lines.append("\n".join(failing))
        if result.hidden_failed and len(failing) == 1:  # only hidden tests fail: say where to look
            lines.append(P.GRADE_HIDDEN)
    lines.append(P.GRADE_HINT.format(hint=result.hint))
    lines.append(P.GRADE_RETRY)
    return "\n\n".join(lines)


def make_hint(
    svc: Services,
    ex: Any,
    failing: list[dict[str, Any]],
    grader_hint: str | None = None,
    *,
    wants_solution: bool = False,
) -> str:
    """The exercise author's hint (for the first failing test, else for the exercise); the
    model's hint only where there is none and it passes ``readable_hint``; else the grader's or a
    rule-based one. Never code."""
    from tutor.llm.tasks import _authored_hint, template_hint

    first = str(failing[0].get("name", "")) if failing else ""
    if _authored_hint(ex, first):
        return strip_code_blocks(template_hint(ex, failing), P.CODE_REMOVED)
    try:
        try:
            raw = svc.tasks.hint(svc.llm, ex, failing, wants_solution=wants_solution)
        except TypeError:  # a hint task without the keyword
            raw = svc.tasks.hint(svc.llm, ex, failing)
        text = strip_code_blocks(str(raw or ""), P.CODE_REMOVED)
    except Exception as e:
        log.warning("hint task failed: %s", e)
        text = ""
    text = _REFUSAL.sub("", text).strip()  # the reply says that itself
    if not readable_hint(text, ex, failing):
        text = strip_code_blocks(str(grader_hint or ""), P.CODE_REMOVED) or fb.hint(svc.llm, ex, failing)
    return text


def readable_hint(text: str, ex: Any, failing: list[dict[str, Any]]) -> bool:
    """A model hint a learner can read: whole words, no loops or broken code marks, and about
    this exercise (shares a content word with its statement, title or failing tests)."""
    from tutor.llm.grounding import content_words, words

    ws = words(text)
    if len(content_words(text)) < 5 or text.count("`") % 2 or re.search(r"(\.\d){3,}|\.{4,}", text):
        return False
    trigrams = list(zip(ws, ws[1:], ws[2:], strict=False))
    if len(set(trigrams)) < len(trigrams):
        return False
    about = " ".join(
        [str(attr(ex, "title", "")), str(attr(ex, "statement", ""))]
        + [str(f.get("name", "")) for f in failing]
    )
    return bool(set(content_words(text)) & set(content_words(about)))


def _did_you_mean(svc: Services, ex_id: str) -> str:
    from difflib import get_close_matches

    near = get_close_matches(ex_id, list(svc.exercises), n=1)
    return (
        f'Did you mean `{near[0]}`? Say "list exercises" to see them all.'
        if near
        else 'Say "list exercises" to see them all.'
    )


_WANTS_SOLUTION = re.compile(
    r"\b(solution|solve (it|this)|(the )?answer|do it for me|write (the|it|my)|complete code|full code|paste|give up)\b",
    re.I,
)


# --- exercise ---
def exercise_node(svc: Services, state: dict[str, Any]) -> Update:
    text = last_human_text(state)
    named = state.get("exercise_id") or find_exercise_id(text, svc.exercise_titles)
    wants_help = bool(_WANTS_HELP.search(text))
    if _LIST.search(text) and not named:
        topics = mentioned_topics(svc, text)
        return list_exercises(svc, topics[0] if topics else None)
    if wants_help:
        ex_id = named or state.get("current_exercise")
        if not ex_id:
            return {"reply": P.GRADE_WHICH.format(example=next(iter(sorted(svc.exercises)), "numpy-basics"))}
        failures = state.get("last_failures", []) if ex_id == state.get("current_exercise") else []
        return socratic(svc, ex_id, failures, wants_solution=bool(_WANTS_SOLUTION.search(text)))
    if named:
        return show_exercise(svc, named)
    topics = mentioned_topics(svc, text)
    topic = (topics[0] if topics else state.get("current_topic")) or _first_open_topic(svc, state)
    done = passed_exercises(svc, state.get("learner_id", ""))
    candidates = svc.exercises_for(topic) if topic else []
    pick = next((e for e in candidates if e.id not in done), candidates[0] if candidates else None)
    if pick is None:
        return list_exercises(svc, topic)
    return show_exercise(svc, pick.id)


def _first_open_topic(svc: Services, state: dict[str, Any]) -> str | None:
    done = passed_exercises(svc, state.get("learner_id", ""))
    for tid in svc.catalog.topological_order():
        if any(e.id not in done for e in svc.exercises_for(tid)):
            return tid
    return None


class ExerciseResult(BaseModel):
    """What a learner is shown of an exercise (never its tests' expected values or a solution)."""

    exercise_id: str
    title: str
    topic_id: str
    topic_title: str
    statement: str
    starter_code: str = ""
    public_tests: list[str] = Field(default_factory=list, description="the public tests' names")


def exercise_result(svc: Services, ex_id: str) -> ExerciseResult:
    """LookupError (with the nearest id) for an unknown exercise."""
    ex = svc.exercises.get(ex_id)
    if ex is None:
        raise NotFound(f"unknown exercise {ex_id!r}. {_did_you_mean(svc, ex_id)}")
    return ExerciseResult(
        exercise_id=ex.id,
        title=ex.title,
        topic_id=ex.topic_id,
        topic_title=svc.topic_title(ex.topic_id),
        statement=ex.statement.strip(),
        starter_code=(ex.starter_code or "").rstrip(),
        public_tests=[str(attr(t, "name")) for t in ex.public_tests or [] if attr(t, "name")],
    )


def exercise_text(result: ExerciseResult) -> str:
    parts = [
        P.EXERCISE_SHOW.format(
            title=result.title,
            exercise_id=result.exercise_id,
            topic=result.topic_title,
            statement=result.statement,
        )
    ]
    if result.starter_code.strip():
        parts.append(P.EXERCISE_STARTER.format(starter=result.starter_code))
    if result.public_tests:
        parts.append(P.EXERCISE_TESTS.format(tests=", ".join(f"`{n}`" for n in result.public_tests)))
    parts.append(P.EXERCISE_GO)
    return "\n\n".join(parts)


def exercise_updates(result: ExerciseResult) -> Update:
    return {"current_exercise": result.exercise_id, "current_topic": result.topic_id, "last_failures": []}


def show_exercise(svc: Services, ex_id: str) -> Update:
    if ex_id not in svc.exercises:
        return {"reply": P.GRADE_UNKNOWN.format(exercise_id=ex_id, error=_did_you_mean(svc, ex_id))}
    result = exercise_result(svc, ex_id)
    return {"reply": exercise_text(result), **exercise_updates(result)}


def socratic(
    svc: Services, ex_id: str, failures: list[dict[str, Any]], wants_solution: bool = True
) -> Update:
    """Asked for help: a hint and a concrete next step, never the code (asked for the solution
    itself, the reply says first that it won't give it)."""
    ex = svc.exercises.get(ex_id)
    if ex is None:
        return {"reply": P.GRADE_UNKNOWN.format(exercise_id=ex_id, error=_did_you_mean(svc, ex_id))}
    hint = make_hint(svc, ex, failures, wants_solution=wants_solution)
    if failures:
        step = f"make `{failures[0]['name']}` pass first."
    else:
        names = [str(attr(t, "name")) for t in ex.public_tests or [] if attr(t, "name")]
        step = (
            f"write just enough to pass `{names[0]}`."
            if names
            else "write the first line: what goes in, what comes out?"
        )
    lead = P.EXERCISE_SOCRATIC if wants_solution else P.EXERCISE_HINT
    reply = (
        lead.format(exercise_id=ex_id, hint=hint)
        + "\n\n"
        + P.EXERCISE_SOCRATIC_NEXT.format(step=step[0].upper() + step[1:])
    )
    return {"reply": reply, "current_exercise": ex_id, "current_topic": ex.topic_id}


def list_exercises(svc: Services, topic: str | None) -> Update:
    exs = svc.exercises_for(topic) if topic else sorted(svc.exercises.values(), key=lambda e: e.id)
    where = f" on {svc.topic_title(topic)}" if topic else ""
    if not exs:
        return {"reply": P.EXERCISE_NONE.format(where=where)}
    items = ", ".join(f"`{e.id}` ({e.title})" for e in exs[:20])
    return {"reply": P.EXERCISE_LIST.format(where=where, items=items)}
