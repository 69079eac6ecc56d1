"""What every lab's ``checks.py`` shares: reading numbers from the facts, the probe's own error, and a
guard so that a check fails with a message, never raises, whatever
JSON the learner's probe produced (a string where a number was expected, a missing key...)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, MutableMapping
from typing import Any

Verdict = tuple[bool, str]
_BAD_FACTS = (TypeError, ValueError, AttributeError, KeyError, IndexError, ZeroDivisionError, OverflowError)
UNEXPECTED = "Your variables hold something of an unexpected type; look at the step's task again."


def guarded(check: Callable[[dict[str, Any]], Verdict]) -> Callable[[dict[str, Any]], Verdict]:
    """``check`` that fails with a message, instead of raising, on facts of unexpected types."""

    @functools.wraps(check)
    def run(facts: dict[str, Any]) -> Verdict:
        try:
            return check(facts if isinstance(facts, dict) else {})
        except _BAD_FACTS:
            return False, UNEXPECTED

    return run


def guard_checks(namespace: MutableMapping[str, Any]) -> None:
    """Wrap every ``check_*`` function of a checks module (call with its ``globals()``)."""
    for name, value in list(namespace.items()):
        if name.startswith("check_") and callable(value):
            namespace[name] = guarded(value)


def number(facts: dict[str, Any], key: str) -> float | None:
    """``facts[key]`` as a finite float, or None (missing, a bool, text, nan or inf)."""
    v = facts.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)


def probe_error(facts: dict[str, Any]) -> str | None:
    """The learner-facing message when the probe itself raised while looking at the variables."""
    err = facts.get("error")
    if isinstance(err, str) and err:
        return f"Looking at your variables raised {err}; check that the step's code ran without errors."
    return None
