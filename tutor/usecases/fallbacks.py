"""Rule-based stand-ins for the model tasks, with the same names and shapes as
``tutor/llm/tasks.py``. Used when that module is missing and when a task raises, so a broken
model never leaves the learner without an answer. They quote, they do not generate."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from curriculum.catalog import Catalog
from curriculum.planner import plan_lesson

MAX_QUOTE = 600


@dataclass
class Explanation:
    text: str
    citations: list[dict[str, str]] = field(default_factory=list)
    supported_share: float = 1.0
    extractive: bool = True


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def quote(text: str, limit: int = MAX_QUOTE) -> str:
    """The first sentences of a passage up to ``limit`` characters (never cut mid-sentence when avoidable)."""
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind(".\n"))
    return cut[: end + 1] if end > limit // 3 else cut.rstrip() + "…"


def explain(llm: Any, question: str, passages: Sequence[Any]) -> Explanation:
    """The best passage, quoted, cited by topic and section."""
    if not passages:
        return Explanation(text="", citations=[], supported_share=0.0)
    top = passages[0]
    heading = _get(top, "heading") or _get(top, "title") or ""
    text = f"From the notes on {heading}: {quote(str(_get(top, 'text') or ''))}"
    return Explanation(
        text=text, citations=[{"topic_id": _get(top, "topic_id"), "source": _get(top, "source")}]
    )


def hint(llm: Any, exercise: Any, failing_tests: Iterable[Mapping[str, Any]]) -> str:
    """A nudge from the first failing public test, else from the exercise statement."""
    for t in failing_tests:
        msg = str(t.get("message") or "").strip()
        name = t.get("name", "a test")
        if msg:
            return f"look at what `{name}` expects: {quote(msg, 200)} Which line of your code produces that value?"
        return f"`{name}` fails. Re-read the statement for what it checks, and test that case yourself."
    statement = quote(str(_get(exercise, "statement") or ""), 200)
    return (
        f"break the task into steps. The statement says: {statement} What are the inputs, "
        "what is the expected output, and which library function gets you closest?"
    )


def gpt_plan(
    llm: Any,
    catalog: Catalog,
    mastery: Mapping[str, float],
    hours: float,
    goal_topics: Iterable[str] = (),
    due: Iterable[str] = (),
) -> dict[str, Any]:
    """The rule-based planner's plan in the GPT planner's shape."""
    plan = plan_lesson(
        catalog, mastery, hours, goal_topics=list(goal_topics), due_reviews=list(due)
    ).to_dict()
    plan.update(model="rules", repaired=False, repairs=[])
    return plan
