"""The quiz loop in chat: ask a practice item, take the learner's next message as the answer.

"quiz me on attention", "test me" (the last explanation's ``check_item``, else ``current_topic``,
else the next item the learner needs) and "review" (when due topics have items) start it. The
asked item waits in ``pending_item``; the next message answers it unless it is a way out
("skip", "hint", "I don't know", "stop") or clearly a new request ("explain ...", "plan ..."),
which drops it (``takes_answer``, called by the graph's classifier). The reply to an answer gives
right/wrong, the chosen option's feedback, the explanation and the mastery before -> after; a
quiz asks ``QUIZ_LENGTH`` items, a review one item per due topic. The answer is never shown
before an attempt.
"""

from __future__ import annotations

import re
from typing import Any

from tutor.agent.nodes import Services, Update, last_human_text, use_tool

QUIZ_LENGTH = 5
LETTERS = "ABCDE"
_SKIP = re.compile(r"^\s*(skip|next( one| question)?|pass|another( one)?|something else)\W*$", re.I)
_HINT = re.compile(r"^\s*(hint|a hint|give me a hint|(can i|could i) (have|get) a hint|clue|help)\W*$", re.I)
_GIVE_UP = re.compile(
    r"^\s*(i\s*(do\s*n[o']?t|dont|don't|dunno) know|i\s*don'?t know|idk|no idea|dunno|i give up|give up|"
    r"show (me )?the answer|tell me the answer|what'?s the answer)\W*$",
    re.I,
)
_STOP = re.compile(
    r"^\s*(stop|quit|exit|enough|end( the)? (quiz|review)|stop the (quiz|review)|no more)\W*$", re.I
)
START = re.compile(
    r"\b(quiz|test|check|examine) me\b|^\s*quiz\b|\bpractice (questions?|items?|quiz)\b|"
    r"\b(ask|give) me (a |some |another |one more )?(practice |quiz |test |check )?questions?\b|"
    r"\bcheck (yourself|my understanding)\b",
    re.I,
)
_NEW_REQUEST = re.compile(
    r"^\s*(please\s+)?(explain|what\s+(is|are|does|do)\b|what'?s\b|whats\b|how\s+(do|does|can|to|is)\b|why\b|"
    r"tell me\b|show me\b|give me\b|plan\b|make (me )?a plan|grade\b|run\b|train\b|fine-?tune\b|list\b|open\b|"
    r"my progress|progress\b|review\b|let'?s\b|can you\b|could you\b)",
    re.I,
)
_FENCE = re.compile(r"```")


def takes_answer(text: str, pending: dict[str, Any]) -> bool:
    """Whether a message answers the pending item (or is a way out of it) rather than a new request."""
    if _SKIP.match(text) or _HINT.match(text) or _GIVE_UP.match(text) or _STOP.match(text):
        return True
    if START.search(text):
        return True  # a new quiz replaces the pending item, in the quiz node
    if _FENCE.search(text):
        return pending.get("kind") == "code"
    return not _NEW_REQUEST.match(text)


def quiz_node(svc: Services, state: dict[str, Any]) -> Update:
    text = last_human_text(state)
    pending = state.get("pending_item")
    calls: list[dict[str, Any]] = []
    if pending and not START.search(text):
        return _continue(svc, state, dict(pending), text, calls)
    return _start(svc, state, text, calls, mode="quiz")


def review_walk_node(svc: Services, state: dict[str, Any]) -> Update:
    """ "review": walk the due topics' practice items; without any (or to rate a pending
    self-check), the self-check review of ``tutor.agent.nodes.progress``."""
    from tutor.agent.nodes.progress import review_node

    if state.get("review_topic") or svc.practice is None:
        return review_node(svc, state)
    due = svc.practice.due_queue(state.get("learner_id", ""))
    if not due:
        return review_node(svc, state)
    return _start(svc, state, "", [], mode="review", queue=due)


# --- starting ---
def _start(svc: Services, state: dict[str, Any], text: str, calls: list[dict[str, Any]], *, mode: str,
           queue: list[str] | None = None) -> Update:  # fmt: skip
    practice = svc.practice
    learner_id = state.get("learner_id", "")
    if practice is None:
        return {"reply": "Practice questions are not available in this tutor.", "pending_item": None}
    if mode == "review":
        assert queue
        topic: str | None = queue[0]
        item_id = None
    else:
        topic = find_topic(svc, text)
        item_id = (
            state.get("check_item") if topic is None and state.get("check_item") in practice.items else None
        )
        topic = topic or (None if item_id else _usable(svc, state.get("current_topic")))
    if item_id:
        item, err = use_tool(calls, "practice_item", {"item_id": item_id},
                             lambda: practice.item(item_id).to_public())  # fmt: skip
    else:
        item, err = use_tool(calls, "practice_next", {"topic_id": topic},
                             lambda: practice.next_item(learner_id, topic))  # fmt: skip
    if err:
        return {
            "reply": f"I couldn't find a practice question there: {err}.",
            "tool_calls": calls,
            "pending_item": None,
        }
    intro = {"quiz": "Here is a question", "review": "Review time: here is a question"}[mode]
    pending = {"item_id": item["id"], "topic_id": item["topic_id"], "kind": item["kind"], "mode": mode,
               "hinted": False, "asked": 1, "right": 0, "queue": list((queue or [])[1:]),
               "seen": [item["id"]]}  # fmt: skip
    return {"reply": f"{intro} on **{svc.topic_title(item['topic_id'])}**.\n\n" + format_item(item),
            "pending_item": pending, "current_topic": item["topic_id"], "tool_calls": calls}  # fmt: skip


def _usable(svc: Services, topic_id: str | None) -> str | None:
    return topic_id if svc.practice is not None and topic_id in svc.practice.topics_with_items() else None


def find_topic(svc: Services, text: str) -> str | None:
    """The topic a quiz request names ("quiz me on attention"): by id or title words, else the
    best retrieved passage's topic; only topics that have items. None when no topic is named."""
    from tutor.agent.nodes.teach import mentioned_topics

    assert svc.practice is not None
    have = svc.practice.topics_with_items()
    named = [t for t in mentioned_topics(svc, text) if t in have]
    if named:
        return named[0]
    m = re.search(r"\b(?:on|about|in|for|over)\s+(.+)$", text, re.I)
    subject = re.sub(r"[^\w\s-]", " ", m.group(1) if m else "").strip()
    if not subject or subject.lower() in ("it", "this", "that", "me", "this topic", "that topic"):
        return None
    words = {_stem(w) for w in re.findall(r"[a-z0-9]+", subject.lower()) if len(w) > 2}
    scored = []
    for n, tid in enumerate(svc.catalog.topological_order()):
        if tid in have:
            title = f"{tid.split('.', 1)[-1]} {svc.catalog.topics[tid].title}".lower()
            hit = len(words & {_stem(w) for w in re.findall(r"[a-z0-9]+", title)})
            if hit:
                scored.append((-hit, n, tid))
    if scored:
        return min(scored)[2]
    try:
        for passage in svc.retriever.search(subject, k=5):
            found = (
                passage.get("topic_id") if isinstance(passage, dict) else getattr(passage, "topic_id", None)
            )
            if found in have:
                return str(found)
    except Exception:  # noqa: BLE001 - retrieval is a fallback; the learner's weakest topic follows
        return None
    return None


def _stem(word: str) -> str:
    word = word.replace("isation", "ization").replace("ise", "ize")
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def format_item(item: dict[str, Any]) -> str:
    """The question as Markdown, with how to answer; never the answer."""
    parts = [str(item["prompt"]).strip()]
    kind = item["kind"]
    if kind == "multiple_choice":
        parts.append("\n".join(f"**{LETTERS[i]}.** {c}" for i, c in enumerate(item.get("choices") or [])))
        how = f"Reply with a letter (A-{LETTERS[len(item.get('choices') or [1]) - 1]}) or the option's text"
    elif kind == "numeric":
        how = "Reply with a number"
    elif kind == "short_answer":
        how = "Reply in a sentence or two"
    else:
        parts.append(f"```python\n{str(item.get('starter', '')).rstrip()}\n```")
        how = f"Reply with your `{item.get('function', 'function')}` in a ```python block"
    parts.append(f"_{how}; or say **hint**, **skip** or **I don't know**._")
    return "\n\n".join(parts)


# --- answering ---
def _continue(svc: Services, state: dict[str, Any], pending: dict[str, Any], text: str,
              calls: list[dict[str, Any]]) -> Update:  # fmt: skip
    practice = svc.practice
    assert practice is not None
    learner_id = state.get("learner_id", "")
    item_id = pending["item_id"]
    if _STOP.match(text):
        return {"reply": _summary(pending, "Stopped. ") + " Ask me anything, or say **quiz me** to start again.",
                "pending_item": None}  # fmt: skip
    if _HINT.match(text):
        hint = practice.hint(item_id)
        return {"reply": f"Hint: {hint}\n\n_Now your answer (or **I don't know**)._",
                "pending_item": {**pending, "hinted": True}}  # fmt: skip
    if _SKIP.match(text):
        return _ask_next(svc, state, pending, "Skipped (not counted).", calls)
    if _GIVE_UP.match(text):
        attempt, err = use_tool(calls, "practice_give_up", {"item_id": item_id},
                                lambda: practice.give_up(learner_id, item_id))  # fmt: skip
    else:
        answer = _answer_value(text, pending)
        attempt, err = use_tool(calls, "practice_answer", {"item_id": item_id, "answer": answer},
                                lambda: practice.answer(learner_id, item_id, answer, hinted=pending["hinted"]))  # fmt: skip
    if err:
        return {"reply": f"I couldn't take that as an answer: {err}. Try again, or say **skip**.",
                "pending_item": pending, "tool_calls": calls}  # fmt: skip
    pending["right"] = pending.get("right", 0) + int(attempt.correct)
    pending["answered"] = pending.get("answered", 0) + 1
    return _ask_next(svc, state, pending, format_attempt(svc, attempt), calls)


def _answer_value(text: str, pending: dict[str, Any]) -> Any:
    """A letter becomes the option index; code is taken from its fence."""
    if pending.get("kind") == "multiple_choice":
        m = re.fullmatch(r"\s*\(?([A-Ea-e])[).:]?\s*", text)
        if m:
            return LETTERS.index(m.group(1).upper())
    if pending.get("kind") == "code":
        from tutor.agent.intent import extract_code

        return extract_code(text) or text
    return text.strip()


def format_attempt(svc: Services, attempt: Any) -> str:
    m = attempt.mastery
    head = "✅ **Right!**" if attempt.correct else "❌ **Not quite.**"
    feedback = str(attempt.feedback or "")
    if attempt.correct:  # the option's own feedback often opens with "Right." too: say it once
        feedback = re.sub(r"^\s*(right|correct|yes|exactly)\b[.!:,]?\s*", "", feedback, flags=re.I)
    lines = [f"{head} {feedback}".strip()]
    if not attempt.correct and attempt.right_answer:
        lines.append(f"**Answer:** {attempt.right_answer}")
    lines.append(attempt.explanation)
    due = f" Next review: {attempt.next_review[:10]}." if attempt.next_review else ""
    lines.append(f"Mastery of {svc.topic_title(m['topic_id'])}: {m['before']:.0%} → {m['after']:.0%}.{due}")
    return "\n\n".join(lines)


def _ask_next(svc: Services, state: dict[str, Any], pending: dict[str, Any], said: str,
              calls: list[dict[str, Any]]) -> Update:  # fmt: skip
    practice = svc.practice
    assert practice is not None
    learner_id = state.get("learner_id", "")
    queue = list(pending.get("queue") or [])
    if pending["mode"] == "review":
        if not queue:
            return {
                "reply": said + "\n\n" + _summary(pending, "Review done. "),
                "pending_item": None,
                "tool_calls": calls,
            }
        topic = queue.pop(0)
    else:
        if pending.get("asked", 1) >= QUIZ_LENGTH:
            return {"reply": said + "\n\n" + _summary(pending, "Quiz done. ") + " Say **quiz me** for more.",
                    "pending_item": None, "tool_calls": calls}  # fmt: skip
        topic = pending["topic_id"]
    seen = list(pending.get("seen") or [])
    item, err = use_tool(calls, "practice_next", {"topic_id": topic},
                         lambda: practice.next_item(learner_id, topic, exclude=seen))  # fmt: skip
    if err or (pending["mode"] == "quiz" and item["id"] in (pending.get("seen") or [])):
        return {"reply": said + "\n\n" + _summary(pending, ""), "pending_item": None, "tool_calls": calls}
    nxt = {**pending, "item_id": item["id"], "topic_id": item["topic_id"], "kind": item["kind"], "hinted": False,
           "asked": pending.get("asked", 1) + 1, "queue": queue, "seen": [*(pending.get("seen") or []), item["id"]]}  # fmt: skip
    head = f"**Next question** on {svc.topic_title(item['topic_id'])}:"
    return {"reply": f"{said}\n\n---\n\n{head}\n\n{format_item(item)}", "pending_item": nxt,
            "current_topic": item["topic_id"], "tool_calls": calls}  # fmt: skip


def _summary(pending: dict[str, Any], prefix: str) -> str:
    right, answered = pending.get("right", 0), pending.get("answered", 0)
    return f"{prefix}You got {right} of {answered} right in this {pending.get('mode', 'quiz')}."
