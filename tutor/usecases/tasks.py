"""The model tasks the use cases and the agent's nodes call (grounded explanation, hint, lesson
plan), as one bundle: the real ones from ``tutor/llm/tasks.py``, with the rule-based stand-ins of
``tutor/usecases/fallbacks.py`` for any that is missing. Here, below the agent, so the plan use
case (``tutor/usecases/planning.py``) and the graph get their tasks from the same place."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class Tasks:
    """The model tasks (``tutor/llm/tasks.py``): grounded explanation, hint, lesson plan."""

    explain: Callable[..., Any]
    hint: Callable[..., str]
    gpt_plan: Callable[..., dict[str, Any]]


def load_tasks() -> Tasks:
    """The real tasks from ``tutor.llm.tasks``; a missing one falls back to a rule-based version."""
    try:
        from tutor.llm import tasks as real
    except ImportError as e:
        log.warning("tutor.llm.tasks unavailable (%s): rule-based explain/hint/plan", e)
        real = None  # type: ignore[assignment]
    from tutor.usecases import fallbacks

    return Tasks(
        explain=getattr(real, "explain", fallbacks.explain),
        hint=getattr(real, "hint", fallbacks.hint),
        gpt_plan=getattr(real, "gpt_plan", fallbacks.gpt_plan),
    )
