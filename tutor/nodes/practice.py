"""Practice nodes: run code in the learner's kernel, hand out exercises, grade submissions.

Graded work is Socratic: replies carry feedback, public test messages and a hint, never a
solution. Hints come from a model, so fenced code is removed from them before they are shown.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from curriculum.learner import tests_summary
from tutor import prompts as P
from tutor.intent import exercise_defined_in, extract_code, find_exercise_id
from tutor.nodes import Services, Update, attr, last_human_text, strip_code_blocks, use_tool
from tutor.nodes import fallbacks as fb
from tutor.nodes.teach import mentioned_topics, passed_exercises, suggest_next

log = logging.getLogger(__name__)
MAX_OUTPUT = 2000  # characters of stdout/stderr quoted back
_WANTS_HELP = re.compile(
    r"\b(solution|solve|answer|hint|stuck|give up|do it for me|write (the|it|my)|complete code|full code|paste)\b",
    re.I,
)
_REFUSAL = re.compile(r"^\s*I can'?t give you the (full )?solution[^.]*\.\s*", re.I)
_SUMMARY = re.compile(r"^\s*(\d+ of \d+ tests passed|All \d+ tests passed)", re.I)
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
            parts.append("```text\n" + _clip(_strip_ansi("\n".join(map(str, tail)))) + "\n```")
        parts.append(P.RUN_ERROR_NEXT)
    elif status == "timeout":
        parts.insert(0, P.RUN_TIMEOUT)
    else:
        parts.insert(0, P.RUN_KILLED)
    stderr = str(attr(result, "stderr") or "").strip()
    if stderr and status == "ok":
        parts.append("stderr:\n```text\n" + _clip(_strip_ansi(stderr)) + "\n```")
    parts.extend(str(n) for n in attr(result, "notices") or [])
    return "\n\n".join(parts)


def _strip_ansi(text: str) -> str:
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
    learner_id = state.get("learner_id", "")
    passed, score = bool(attr(report, "passed")), float(attr(report, "score") or 0.0)
    try:
        rec = svc.learner.record_attempt(learner_id, ex_id, ex.topic_id, passed, score,
                                         details=tests_summary(attr(report, "tests")))  # fmt: skip
        mastery = float(rec.get("mastery", 0.0))
    except Exception as e:  # the verdict still reaches the learner
        log.exception("recording the attempt failed")
        mastery = svc.store.get_mastery(learner_id).get(ex.topic_id, 0.0)
        calls.append(
            {"name": "record_attempt", "args": {"exercise_id": ex_id}, "status": "failed", "summary": str(e)}
        )
    tests = list(attr(report, "tests") or [])
    updates: Update = {"tool_calls": calls, "current_exercise": ex_id, "current_topic": ex.topic_id}
    if passed:
        lines = [
            P.GRADE_PASSED.format(
                exercise_id=ex_id, score=score, topic=svc.topic_title(ex.topic_id), mastery=mastery
            )
        ]
        lines.append(suggest_next(svc, state, ex.topic_id))
        return {**updates, "reply": "\n\n".join(lines), "last_failures": []}
    public_fail = [
        {"name": attr(t, "name"), "message": attr(t, "message") or ""}
        for t in tests
        if not attr(t, "passed") and not attr(t, "hidden")
    ]
    hidden_fail = any(not attr(t, "passed") and attr(t, "hidden") for t in tests)
    lines = [
        P.GRADE_FAILED.format(
            passed=sum(1 for t in tests if attr(t, "passed")),
            total=len(tests),
            exercise_id=ex_id,
            score=score,
        )
    ]
    status = attr(report, "status", "ok")
    if status != "ok":
        lines.append(P.GRADE_STATUS.format(status=status))
    # the grader's feedback lists failing public tests (and counts hidden ones); its summary line
    # and hint are replaced by ours
    body = [
        line
        for line in str(attr(report, "feedback") or "").splitlines()
        if line.strip() and not _SUMMARY.match(line) and not line.startswith("Hint:")
    ]
    if body:
        lines.append("\n".join(body))
    else:
        lines.extend(f"- {t['name']}: {t['message']}".rstrip(": ") for t in public_fail[:3])
        if hidden_fail:
            lines.append(P.GRADE_HIDDEN)
    lines.append(P.GRADE_HINT.format(hint=make_hint(svc, ex, public_fail, attr(report, "hint"))))
    lines.append(P.GRADE_RETRY)
    return {**updates, "reply": "\n\n".join(lines), "last_failures": public_fail}


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


def show_exercise(svc: Services, ex_id: str) -> Update:
    ex = svc.exercises.get(ex_id)
    if ex is None:
        return {"reply": P.GRADE_UNKNOWN.format(exercise_id=ex_id, error=_did_you_mean(svc, ex_id))}
    parts = [
        P.EXERCISE_SHOW.format(
            title=ex.title,
            exercise_id=ex.id,
            topic=svc.topic_title(ex.topic_id),
            statement=ex.statement.strip(),
        )
    ]
    if (ex.starter_code or "").strip():
        parts.append(P.EXERCISE_STARTER.format(starter=ex.starter_code.rstrip()))
    names = [str(attr(t, "name")) for t in ex.public_tests or [] if attr(t, "name")]
    if names:
        parts.append(P.EXERCISE_TESTS.format(tests=", ".join(f"`{n}`" for n in names)))
    parts.append(P.EXERCISE_GO)
    return {
        "reply": "\n\n".join(parts),
        "current_exercise": ex.id,
        "current_topic": ex.topic_id,
        "last_failures": [],
    }


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
