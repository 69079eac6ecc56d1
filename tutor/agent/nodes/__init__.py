"""What the graph's nodes share: the services they call, streaming helpers, and tool calls that
turn a failure into a result instead of an exception.

Every node action takes ``(svc, state, ...)`` and returns a dict of state updates that always
includes ``reply``. Deterministic nodes parse the learner's message and call an action; the
tool-calling agent's typed tools (``tutor/agent/tools.py``) call the same pieces with the model's
arguments and return data instead of a reply.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from curriculum.catalog import Catalog
from tutor.usecases.tasks import Tasks

log = logging.getLogger(__name__)
Update = dict[str, Any]
MAX_ARG_CHARS = 500  # code echoed in tool-call records is cut here; the full code ran


class NoCards:
    """No teaching cards: every question is answered from the notes."""

    def search(self, *args: Any, **kwargs: Any) -> list[Any]:
        return []

    def cards(self) -> dict[str, Any]:
        return {}


@dataclass
class Services:
    """Everything the nodes call; built once by ``build_graph`` from the services passed in."""

    llm: Any
    retriever: Any
    kernels: Any
    grader: Any
    jobs: Any
    store: Any
    catalog: Catalog
    exercises: Mapping[str, Any]
    learner: Any
    tasks: Tasks
    exercise_titles: dict[str, str] = field(default_factory=dict)
    exercise_entries: dict[str, str] = field(default_factory=dict)
    cards: Any = None  # knowledge.card_index.CardIndex; None: no cards (answers come from the notes)
    practice: Any = None  # tutor.usecases.practice.Practice; None: no practice items in chat
    labs: Any = None  # tutor.usecases.labs.LabService; None: no guided labs in chat
    materials: Any = None  # knowledge.materials.MaterialSearch; None: no teachers' material in answers

    def __post_init__(self) -> None:
        self.exercise_titles = {ex_id: str(getattr(ex, "title", "")) for ex_id, ex in self.exercises.items()}
        self.exercise_entries = {
            ex_id: str(getattr(ex, "entry", "") or "") for ex_id, ex in self.exercises.items()
        }

    @cached_property
    def explainer(self) -> Any:
        """The explain use case over the cards and the notes (``tutor.usecases.explain``)."""
        from tutor.usecases.explain import Explainer

        def prerequisites(topic_id: str) -> list[str]:
            t = self.catalog.topics.get(topic_id)
            return list(t.prerequisites) if t else []

        return Explainer(
            self.cards if self.cards is not None else NoCards(),
            self.retriever,
            self.topic_title,
            prerequisites,
            materials=self.materials,
        )

    def topic_title(self, topic_id: str | None) -> str:
        t = self.catalog.topics.get(topic_id or "")
        return t.title if t else str(topic_id)

    def exercises_for(self, topic_id: str) -> list[Any]:
        return sorted((e for e in self.exercises.values() if e.topic_id == topic_id), key=lambda e: e.id)


def attr(obj: Any, name: str, default: Any = None) -> Any:
    """A field of a result object or of its dict form (services may return either)."""
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def last_human_text(state: Mapping[str, Any]) -> str:
    for m in reversed(state.get("messages") or []):
        if getattr(m, "type", "") == "human":
            return m.content if isinstance(m.content, str) else str(m.content)
    return ""


# --- streaming ---
def _writer() -> Callable[[Any], None]:
    try:
        from langgraph.config import get_stream_writer

        return get_stream_writer()
    except (RuntimeError, KeyError):  # called outside a graph run (unit tests of one action)
        return lambda _chunk: None


def emit_text(text: str) -> None:
    """Stream ``text`` as token events, a word (with its trailing space) at a time."""
    if not text:
        return
    write = _writer()
    for piece in re.findall(r"\S+\s*|\s+", text):
        write({"event": "token", "data": piece})


def emit_tool(record: dict[str, Any]) -> None:
    _writer()({"event": "tool", "data": record})


def use_tool(
    calls: list[dict[str, Any]], name: str, args: dict[str, Any], fn: Callable[[], Any]
) -> tuple[Any, str | None]:
    """Run one service call; record it in ``calls`` and stream it. Returns (result, None), or
    (None, error message) when it raised, so the node can explain the failure in its reply."""
    shown = {
        k: (v[:MAX_ARG_CHARS] + "…" if isinstance(v, str) and len(v) > MAX_ARG_CHARS else v)
        for k, v in args.items()
    }
    record: dict[str, Any] = {"name": name, "args": shown, "status": "ok"}
    try:
        result = fn()
    except Exception as e:  # a failing tool is reported to the learner, never raised out of the graph
        log.warning("tool %s failed: %s", name, e, exc_info=not isinstance(e, LookupError | ValueError))
        record.update(status="failed", summary=_error_text(e))
        calls.append(record)
        emit_tool(record)
        return None, _error_text(e)
    status = attr(result, "status")
    if isinstance(status, str):
        record["status"] = status
    calls.append(record)
    # plots from a code run go to the live stream only (the UI shows them inline), not into
    # the checkpointed tool-call record, which stays small
    images = [
        o for o in attr(result, "outputs", None) or [] if str(o.get("mime_type", "")).startswith("image/")
    ]
    emit_tool({**record, "outputs": images} if images else record)
    return result, None


def _error_text(e: BaseException) -> str:
    msg = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
    return msg.strip() or type(e).__name__


_FENCED = re.compile(r"```.*?(```|\Z)", re.S)


def strip_code_blocks(text: str, replacement: str) -> str:
    """Remove fenced code from model text that must not carry a solution (hints)."""
    return _FENCED.sub(replacement, text).strip()
