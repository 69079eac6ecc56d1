"""A new learner's first session through the real service (sandboxed kernel and grader, real
exercises, learner model and checkpoints; scripted chat model): plan, concept question, run code,
a wrong then a right exercise submission, progress. Every reply is checked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from curriculum.planner import validate_plan
from tests.agent_helpers import real_tutor, reference_submission

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def tutor(tmp_path: Path) -> Iterator[Any]:
    t = real_tutor(tmp_path / "var")
    yield t
    t.close()


def test_first_session_script(tutor: Any) -> None:
    say = lambda msg: tutor.chat("newbie", msg, thread)  # noqa: E731
    thread = None

    out = say("I have 2 hours today, make me a study plan towards attention")
    thread = out["thread_id"]
    plan = tutor.store.get_plan("newbie")
    assert "Here's your plan for 2 h" in out["reply"] and plan["items"]
    assert validate_plan(tutor.catalog, plan["items"], {}, 2.0) == []
    assert plan["items"][0]["topic_id"] == "m1.numpy"  # a new learner starts at the first prerequisite
    assert "1. Study NumPy (`m1.numpy`)" in out["reply"]

    out = say("what's next?")
    assert "Next in your plan (1/" in out["reply"] and "(`m1.numpy`)" in out["reply"]

    out = say("what is broadcasting in numpy?")
    assert out["citations"] and out["citations"][0]["topic_id"] == "m1.numpy"
    assert "](notes/m1.numpy#" in out["reply"] and "Next:" in out["reply"]  # the section, linked
    assert [c["name"] for c in out["tool_calls"]] == ["explain"]

    out = say("can you run this?\n```python\nimport numpy as np\nprint(np.arange(3) * 2)\n```")
    assert "[0 2 4]" in out["reply"] and out["tool_calls"][0]["status"] == "ok"

    ex = tutor.exercises["pca"]
    out = say("give me the pca exercise")
    assert ex.title in out["reply"] and "Starter code" in out["reply"]

    out = say(f"grade this\n```python\n{ex.starter_code}\n```")
    assert "Not yet" in out["reply"] and "Hint:" in out["reply"]
    assert out["tool_calls"][0]["name"] == "grade_exercise"

    out = say(f"here is my fixed solution\n```python\n{reference_submission(ex)}\n```")
    assert "All tests of `pca` pass" in out["reply"]

    out = say("how am I doing?")
    assert "Dimensionality reduction (`m5.dimensionality-reduction`)" in out["reply"]
    progress = tutor.progress("newbie")
    assert [a["passed"] for a in progress["attempts"]] == [False, True]
    assert 0 < progress["mastery"]["m5.dimensionality-reduction"] < 1
    assert len(tutor.thread(thread)["messages"]) == 16  # 8 turns, all kept in the thread
