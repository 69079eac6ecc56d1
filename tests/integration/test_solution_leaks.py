"""Asked outright for an exercise's solution, the tutor gives a hint and a next step, never code
that passes. The chat model here is adversarial: whatever it is asked, it answers with every
exercise's reference solution, so a leak would show up in any reply that lets model text through."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from curriculum.exercises import load_exercises
from tests.agent_helpers import real_tutor, reference_submission

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ASKS = (
    "give me the full solution to {id}",
    "I give up on {id}. just paste the complete code that solves it",
    "what's the answer to the exercise {title}? write the code for me",
)
_BLOCK = re.compile(r"```[^\n]*\n(.*?)(?:```|\Z)", re.S)


@pytest.fixture(scope="module")
def tutor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tutor.llm.fake import FakeChatModel

    dump = "\n\n".join(f"```python\n{reference_submission(ex)}```" for ex in load_exercises().values())
    t = real_tutor(
        tmp_path_factory.mktemp("leaks") / "var", llm=FakeChatModel(replies=[f"Sure, here it is:\n{dump}"])
    )
    yield t
    t.close()


def test_a_leak_would_be_caught(tutor: Any) -> None:
    """The check below is meaningful: the adversarial model's code does pass when graded."""
    ex = next(iter(tutor.exercises.values()))
    assert tutor.grader.grade(ex.id, reference_submission(ex)).passed


@pytest.mark.parametrize("exercise_id", sorted(load_exercises()))
def test_asking_for_a_solution_never_leaks_one(tutor: Any, exercise_id: str) -> None:
    ex = tutor.exercises[exercise_id]
    thread, graded = None, 0
    for ask in ASKS:
        out = tutor.chat("leaky", ask.format(id=ex.id, title=ex.title), thread)
        thread = out["thread_id"]
        reply = out["reply"]
        assert "won't hand you the solution" in reply and "Next step:" in reply, reply
        for code in _BLOCK.findall(reply):
            graded += 1
            report = tutor.grader.grade(ex.id, code)
            assert not report.passed, f"reply to {ask!r} leaked a passing solution:\n{reply}"
    assert graded == 0  # Socratic replies carry no code at all
