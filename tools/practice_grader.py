"""Code practice items graded with the exercise grader's machinery (``tools/grader.py``).

A code item becomes an in-memory ``Exercise`` whose trusted reference is the item's ``solution``
(executed here, in the tutor's process, never in a sandbox): the learner's code runs in a fresh
one-shot sandbox that receives only the test INPUTS; expected values are computed out here and
the verdict is made out here. Numbers and arrays are compared with ``allclose`` (the item's
``rtol``/``atol``), strings and bools exactly.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

from curriculum.exercises import Exercise, TestSpec, parse_signature
from curriculum.practice import PracticeItem
from tools.grader import Grader, GradeReport
from tools.grading.checks import allclose
from tutor.errors import BadInput


@dataclass(frozen=True)
class PracticeExercise(Exercise):
    """An exercise built from a code practice item; its reference is the item's solution."""

    solution_source: str = ""

    @cached_property
    def reference(self) -> ModuleType:
        module = ModuleType(f"_practice_ref_{self.id.replace('-', '_')}")
        exec(compile(self.solution_source, f"<practice {self.id} solution>", "exec"), module.__dict__)  # noqa: S102 - trusted content
        module.solution = getattr(module, self.entry)  # type: ignore[attr-defined]
        module.check_practice = check_value  # type: ignore[attr-defined]
        return module


def check_value(
    args: dict[str, Any], got: Any, expected: Any, *, rtol: float, atol: float
) -> tuple[bool, str]:
    """Strings and bools exactly; numbers, lists and arrays with ``allclose``."""
    if isinstance(expected, str | bool) or expected is None:
        if type(got) is type(expected) and got == expected:
            return True, ""
        return False, f"expected {expected!r}, got {got!r}"[:400]
    return allclose(got, expected, rtol=rtol, atol=atol)


def as_exercise(item: PracticeItem) -> PracticeExercise:
    if item.kind != "code":
        raise BadInput(f"practice item {item.id!r} is not a code item")
    check = {"kind": "custom", "fn": "practice", "rtol": item.rtol, "atol": item.atol}
    tests = tuple(TestSpec(name=f"test {i + 1}", points=1.0, hidden=False, args=dict(t.args), check=check)
                  for i, t in enumerate(item.tests))  # fmt: skip
    return PracticeExercise(
        id=item.id, topic_id=item.topic_id, title=item.id, statement=item.prompt,
        starter_code=item.starter, entry=item.function, signature=item.signature,
        required=parse_signature(item.signature, item.id), call="function",
        timeout_s=item.timeout_s, hint=item.hint, tests=tests, folder=Path(item.source or "."),
        array_args=dict(item.array_args), solution_source=item.solution,
    )  # fmt: skip


class PracticeGrader:
    """Grades code items in the sandbox; one ``Grader`` over all code items, built once."""

    def __init__(self, items: dict[str, PracticeItem], work_root: Path | str, *, sandbox: bool = True,
                 memory_mb: int = 2048, max_busy: int | None = None) -> None:  # fmt: skip
        self._exercises: dict[str, Exercise] = {
            i.id: as_exercise(i) for i in items.values() if i.kind == "code"
        }
        self._grader = Grader(
            self._exercises, work_root, sandbox=sandbox, memory_mb=memory_mb, max_busy=max_busy
        )
        self._lock = threading.Lock()

    def grade(self, item_id: str, code: str) -> GradeReport:
        """SandboxUnavailable when nothing can run confined; LookupError for a non-code item."""
        return self._grader.grade(item_id, code)

    def close(self) -> None:
        close = getattr(self._grader, "close", None)
        if close is not None:
            close()


def self_check(items: list[PracticeItem], *, sandbox: bool | None = None) -> list[str]:
    """Problems of code items: the solution must pass every test and the starter fail one, both
    run in the real sandbox (``TUTOR_UNSAFE_NO_SANDBOX=1`` runs them unconfined)."""
    import os

    from tools.sandbox import SandboxUnavailable

    if sandbox is None:
        sandbox = os.environ.get("TUTOR_UNSAFE_NO_SANDBOX", "") not in ("1", "true", "yes")
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="practice-check-") as tmp:
        grader = PracticeGrader({i.id: i for i in items}, tmp, sandbox=sandbox, max_busy=1)
        for item in items:
            try:
                ref = grader.grade(item.id, item.solution)
                starter = grader.grade(item.id, item.starter)
            except SandboxUnavailable as e:
                return [f"code items not run: {e}"]
            except Exception as e:  # noqa: BLE001 - a broken solution or test args: report it
                problems.append(f"{item.id}: could not be graded: {type(e).__name__}: {e}")
                continue
            if not ref.passed:
                problems.append(f"{item.id}: the solution fails: {ref.feedback}")
            if starter.passed:
                problems.append(f"{item.id}: the starter passes every test; it must fail at least one")
    return problems
