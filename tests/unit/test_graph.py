"""The tutor graph over fakes: every route, tool failures, plans, grading, jobs, reviews, and the
tool-calling path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk

from curriculum.catalog import load_catalog
from tests.agent_helpers import (
    EXERCISES,
    RULE_TASKS,
    FakeGrader,
    FakeJobs,
    FakeKernels,
    FakeRetriever,
    Rig,
    fake_llm,
)
from tutor.usecases import fallbacks as fb
from tutor.usecases.tasks import Tasks

WRONG = "grade this\n```python\ndef double(x):\n    return x + 1\n```"
RIGHT = "here's my fix\n```python\ndef double(x):\n    return 2 * x\n```"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    yield r
    r.close()


def turn(rig: Rig, message: str, thread: str | None = "t1", learner: str = "ann") -> dict[str, Any]:
    return rig.conv.chat(learner, message, thread)


def state(rig: Rig, thread: str = "t1") -> dict[str, Any]:
    return rig.conv.graph.get_state({"configurable": {"thread_id": thread}}).values


@pytest.mark.parametrize(
    ("message", "intent", "expect", "tools"),
    [
        ("what is broadcasting in numpy?", "explain", "](notes/m1.numpy#overview)", ["explain"]),
        ("make me a study plan for 2 hours", "plan", "Here's your plan for 2 h", ["make_plan"]),
        ("```python\nprint(6 * 7)\n```", "run_code", "42", ["run_code"]),
        (WRONG, "grade", "Not yet: 0/2 tests", ["grade_exercise"]),
        ("give me an exercise on numpy", "exercise", "Starter code", []),
        ("train a small gpt on the numpy notes", "train", "Started gpt job", ["start_training"]),
        ("how am i doing", "progress", "No graded attempts yet", ["get_progress"]),
        ("what's due for review", "review", "Nothing is due for review", []),
        ("hello", "chitchat", "I can explain", []),
    ],
)
def test_each_route_replies(rig: Rig, message: str, intent: str, expect: str, tools: list[str]) -> None:
    if intent == "grade":
        turn(rig, "give me numpy-double")
    out = turn(rig, message)
    assert state(rig)["intent"] == intent
    assert expect in out["reply"]
    assert [c["name"] for c in out["tool_calls"]] == tools
    assert state(rig)["messages"][-1].content == out["reply"]


def test_explain_cites_topic_and_section_and_suggests_an_exercise(rig: Rig) -> None:
    out = turn(rig, "what is broadcasting in numpy?")
    assert out["citations"][0] == {
        "topic_id": "m1.numpy",
        "source": "knowledge/notes/m1.numpy.md#overview",
        "section": "Overview",  # the section title as written in the note
    }
    assert "[NumPy › Overview](notes/m1.numpy#overview)" in out["reply"]
    assert "numpy-col-means" in out["reply"] or "numpy-double" in out["reply"]
    follow = turn(rig, "can you give an example of that?")  # no card to go on: ask within the topic
    assert follow["tool_calls"][0]["args"]["topic_id"] == "m1.numpy"
    assert follow["citations"][0]["topic_id"] == "m1.numpy"


@pytest.mark.parametrize(
    ("broken", "message", "expect"),
    [
        ("retriever", "what is broadcasting in numpy?", "couldn't search the course notes"),
        ("kernels", "```python\nprint(1)\n```", "couldn't run code just now: bubblewrap"),
        ("grader", WRONG + "\nfor numpy-double", "couldn't grade it just now"),
        ("jobs", "train a random forest on irs", "couldn't start the training job: unknown dataset"),
    ],
)
def test_a_failing_tool_is_explained_not_raised(
    tmp_path: Path, broken: str, message: str, expect: str
) -> None:
    fakes = {
        "retriever": FakeRetriever(fail=True),
        "kernels": FakeKernels(fail=True),
        "grader": FakeGrader(EXERCISES, fail=True),
        "jobs": FakeJobs(fail=True),
    }
    r = Rig(tmp_path, **{broken: fakes[broken]})
    out = r.conv.chat("ann", message)
    assert expect in out["reply"]
    assert out["tool_calls"][-1]["status"] == "failed"
    if broken == "grader":
        assert r.store.attempts("ann") == []  # an infrastructure failure is not the learner's attempt
    r.close()


def test_a_crashing_node_still_replies(tmp_path: Path) -> None:
    def boom(*_a: Any) -> Any:
        raise ZeroDivisionError("division by zero")

    r = Rig(tmp_path, tasks=Tasks(explain=fb.explain, hint=fb.hint, gpt_plan=fb.gpt_plan))
    r.store.get_plan = boom  # type: ignore[method-assign]
    out = r.conv.chat("ann", "make me a plan")
    assert "Something went wrong while I was making your plan: division by zero" in out["reply"]
    r.close()


def test_model_task_failures_fall_back(tmp_path: Path) -> None:
    def broken(*_a: Any) -> Any:
        raise RuntimeError("model file missing")

    r = Rig(tmp_path, tasks=Tasks(explain=broken, hint=broken, gpt_plan=broken))
    assert (
        "From the notes on **Overview**" in r.conv.chat("ann", "what is broadcasting in numpy?", "a")["reply"]
    )
    plan = r.conv.chat("ann", "plan 1 hour", "a")["reply"]
    assert "1. Study NumPy" in plan and r.store.get_plan("ann")["model"] == "rules"
    r.conv.chat("ann", "give me numpy-double", "a")
    assert "Hint: look at what `test_double_two` expects" in r.conv.chat("ann", WRONG, "a")["reply"]
    r.close()


def test_invalid_gpt_plan_is_repaired_and_saved(tmp_path: Path) -> None:
    bad = {
        "items": [{"topic_id": "m8.gpt", "activity": "study", "minutes": 60}],
        "rationale": "jump in",
        "model": "tutor-gpt",
    }
    r = Rig(tmp_path, tasks=Tasks(explain=fb.explain, hint=fb.hint, gpt_plan=lambda *a: bad))
    r.conv.chat("ann", "plan 2 hours towards the gpt architecture")
    saved = r.store.get_plan("ann")
    assert saved["repaired"] is True and any("before its prerequisites" in p for p in saved["repairs"])
    assert saved["items"][0]["topic_id"] == "m1.numpy"
    assert saved["learner_id"] == "ann" and saved["hours"] == 2.0
    r.close()


def test_whats_next_follows_the_saved_plan(rig: Rig) -> None:
    turn(rig, "plan 3 hours towards attention")
    plan = rig.store.get_plan("ann")
    assert state(rig)["plan"] == plan
    topics = [i["topic_id"] for i in plan["items"]]
    seen = []
    for _ in topics:
        reply = turn(rig, "what's next?")["reply"]
        seen.append(next(t for t in topics if f"(`{t}`)" in reply))
    assert seen == topics
    assert "end of your plan" in turn(rig, "what's next?")["reply"]


def test_whats_next_in_a_new_thread_uses_the_stored_plan(rig: Rig) -> None:
    turn(rig, "plan 2 hours", thread="a")
    first = rig.store.get_plan("ann")["items"][0]["topic_id"]
    assert f"(`{first}`)" in turn(rig, "what's next?", thread="b")["reply"]


def test_grade_records_attempts_and_gives_feedback_without_hidden_details(rig: Rig) -> None:
    turn(rig, "give me numpy-double")
    wrong = turn(rig, WRONG)["reply"]
    assert wrong.startswith("Not yet: 0/2 tests of `numpy-double` pass (score 0%).")
    assert "- test_double_two: double(2) should be 4\n- 1 hidden test(s) failed." in wrong
    assert "secret" not in wrong and "from the grader" not in wrong  # our hint replaces the grader's
    assert wrong.count("Hint:") == 1 and wrong.count("tests passed") == 0
    right = turn(rig, RIGHT)[
        "reply"
    ]  # no id, no "grade": the current exercise + "my fix" makes it a submission
    assert "All tests of `numpy-double` pass" in right
    assert [a["passed"] for a in rig.store.attempts("ann")] == [False, True]
    assert 0 < rig.store.get_mastery("ann")["m1.numpy"] < 1


def test_hints_never_carry_code_blocks(tmp_path: Path) -> None:
    leaky = Tasks(
        explain=fb.explain,
        hint=lambda *a: "Try this:\n```python\ndef double(x):\n    return 2*x\n```",
        gpt_plan=fb.gpt_plan,
    )
    r = Rig(tmp_path, tasks=leaky)
    for msg in ("give me numpy-double", WRONG, "just give me the solution to numpy-double"):
        reply = r.conv.chat("ann", msg, "t")["reply"]
        assert "return 2*x" not in reply
    # the model's hint was code only: unreadable once stripped, so the rule-based hint is used
    assert "I won't hand you the solution" in reply and "```" not in reply and "look at what" in reply
    r.close()


def test_grade_without_exercise_or_code_asks_for_it(rig: Rig) -> None:
    assert "Which exercise is this for?" in turn(rig, "grade this\n```python\nx = 1\n```")["reply"]
    assert "Paste your solution for `numpy-double`" in turn(rig, "grade numpy-double")["reply"]


def test_grading_an_unknown_exercise_suggests_the_nearest(tmp_path: Path) -> None:
    from tutor.agent.graph import build_graph  # noqa: F401  (Services is what the nodes get)
    from tutor.agent.nodes import Services
    from tutor.agent.nodes.practice import grade

    r = Rig(tmp_path)
    svc = Services(
        r.llm, r.retriever, r.kernels, r.grader, r.jobs, r.store, load_catalog(), EXERCISES, None, RULE_TASKS
    )
    assert (
        "Did you mean `numpy-double`?" in grade(svc, {"learner_id": "ann"}, "numpy-dubble", "x = 1")["reply"]
    )
    r.close()


def test_kernel_state_persists_within_a_thread_only(rig: Rig) -> None:
    turn(rig, "```python\nx = 41\n```", thread="a")
    assert "42" in turn(rig, "run this\n```python\nprint(x + 1)\n```", thread="a")["reply"]
    assert "NameError" in turn(rig, "run this\n```python\nprint(x + 1)\n```", thread="b")["reply"]


def test_finished_job_is_announced_when_the_learner_returns(rig: Rig) -> None:
    turn(rig, "train a small gpt on the numpy notes for 50 steps")
    job_id, job = next(iter(rig.jobs.jobs.items()))
    assert job["params"] == {"data": ["m1.numpy"], "max_steps": 50}
    assert "is queued, 0% done" in turn(rig, "how is my job going?")["reply"]
    rig.jobs.finish(job_id)
    out = turn(rig, "what is pca?")
    assert out["reply"].startswith(f"Job `{job_id}` (gpt) finished: val_loss 2.345")
    assert "/loss.png" in out["reply"] and "Dimensionality" in out["reply"]
    assert "finished" not in turn(rig, "what is pca?")["reply"]  # announced once


def test_sklearn_request_is_parsed(rig: Rig) -> None:
    turn(rig, "train a random forest classifier on the digits dataset")
    assert next(iter(rig.jobs.jobs.values()))["params"] == {"dataset": "digits", "estimator": "random_forest"}


def test_review_asks_a_self_check_and_records_the_rating(rig: Rig) -> None:
    rig.conv.graph  # noqa: B018  (the rig's learner model is inside the graph; use the store directly)
    from curriculum.catalog import load_catalog
    from curriculum.learner import LearnerModel

    lm = LearnerModel(rig.store, load_catalog())
    lm._review("ann", "m1.numpy", 1, now=datetime.now(UTC) - timedelta(days=3))
    ask = turn(rig, "what's due for review?")["reply"]
    assert "Self-check on NumPy" in ask and state(rig)["review_topic"] == "m1.numpy"
    done = turn(rig, "good")["reply"]
    assert done.startswith("Noted (good). Next review of NumPy:")
    assert rig.store.due_topics("ann") == [] and state(rig)["review_topic"] is None


class FakeToolModel(GenericFakeChatModel):
    """Scripted model that 'supports' tool calling and streams tool calls."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self

    def _stream(
        self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        msg = next(self.messages)
        msg = AIMessage(content=msg) if isinstance(msg, str) else msg
        chunks = [
            {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i}
            for i, c in enumerate(msg.tool_calls)
        ]
        yield ChatGenerationChunk(message=AIMessageChunk(content=msg.content, tool_call_chunks=chunks))


def test_tool_calling_path(tmp_path: Path) -> None:
    script = iter(
        [
            AIMessage(
                content="",
                tool_calls=[{"name": "search_notes", "args": {"query": "broadcasting numpy"}, "id": "c1"}],
            ),
            AIMessage(content="", tool_calls=[{"name": "nope", "args": {}, "id": "c2"}]),
            "Broadcasting stretches shapes (m1.numpy). Next: try numpy-double.",
        ]
    )
    r = Rig(tmp_path, llm=FakeToolModel(messages=script), tool_calling=True)
    out = r.conv.chat("ann", "tell me about broadcasting")
    assert out["reply"] == "Broadcasting stretches shapes (m1.numpy). Next: try numpy-double."
    assert out["citations"][0]["topic_id"] == "m1.numpy"
    assert [(c["name"], c["status"]) for c in out["tool_calls"]] == [
        ("search_notes", "ok"),
        ("nope", "failed"),
    ]
    thread = r.conv.thread(out["thread_id"])
    assert [m["role"] for m in thread["messages"]] == ["user", "assistant"]  # tool traffic hidden
    # rule-recognised messages keep their deterministic route even with tool calling on
    assert "42" in r.conv.chat("ann", "```python\nprint(42)\n```", out["thread_id"])["reply"]
    r.close()


def test_tool_calling_is_off_when_the_model_cannot_bind_tools(tmp_path: Path) -> None:
    r = Rig(tmp_path, llm=fake_llm(["hi there"]), tool_calling=True)  # GenericFakeChatModel.bind_tools raises
    assert "agent" not in r.conv.graph.nodes
    assert "I can explain" in r.conv.chat("ann", "hello")["reply"]
    r.close()


def test_agent_loop_is_capped(tmp_path: Path) -> None:
    loop = AIMessage(content="", tool_calls=[{"name": "get_progress", "args": {}, "id": "c"}])
    r = Rig(tmp_path, llm=FakeToolModel(messages=iter([loop] * 10)), tool_calling=True)
    out = r.conv.chat("ann", "tell me about my learning journey")
    assert out["reply"]  # the capped loop still ends with a reply
    assert len(out["tool_calls"]) == 4
    r.close()


def test_grade_finds_the_exercise_from_the_function_the_code_defines(rig: Rig) -> None:
    out = turn(rig, "grade this\n```python\ndef col_means(rows):\n    return [2.0, 3.0]\n```")
    assert "All tests of `numpy-col-means` pass" in out["reply"]


def test_asking_for_a_hint_gets_a_hint_not_a_refusal(rig: Rig) -> None:
    turn(rig, "give me numpy-double")
    reply = turn(rig, "can I have a hint?")["reply"]
    assert reply.startswith("Here's a hint for `numpy-double`") and "won't hand you" not in reply


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("Look at what `test_double_two` expects and multiply the input by the right factor.", True),
        ("Hint: return 0.0.0.0.0.0 for the test", False),
        ("Look at the test `flow, and cos for the test `flow.", False),
        ("the the the model is a model is a model", False),
        ("Think about bananas and weather forecasts in spring.", False),  # not about the exercise
    ],
)
def test_model_hints_must_be_readable_and_relevant(text: str, ok: bool) -> None:
    from tutor.agent.nodes.practice import readable_hint

    ex = type("Ex", (), {"title": "Double a number", "statement": "Return the input multiplied by two."})()
    assert readable_hint(text, ex, [{"name": "test_double_two"}]) is ok


def test_chat_cancels_only_the_learners_own_job(rig: Rig) -> None:
    other = rig.jobs.submit("gpt", {"data": "notes"}, learner_id="someone-else")
    turn(rig, "train a small gpt on the numpy notes")
    out = turn(rig, "cancel that job please")
    mine = [j for j in rig.jobs.jobs.values() if j["learner_id"] != "someone-else"]
    assert "Cancelled job" in out["reply"] and mine[0]["status"] == "cancelled"
    assert rig.jobs.jobs[other["job_id"]]["status"] == "queued"
    assert "no running or queued job" in turn(rig, f"cancel {other['job_id']}")["reply"]


def test_an_unsure_training_request_is_confirmed_first(rig: Rig) -> None:
    """A job started from a message the classifier guessed (not a rule) waits for a yes."""
    from langchain_core.messages import HumanMessage

    from curriculum.catalog import load_catalog
    from curriculum.learner import LearnerModel
    from tests.agent_helpers import EXERCISES
    from tutor.agent.nodes import Services
    from tutor.agent.nodes.confirm import confirm_node
    from tutor.agent.nodes.training import train_node

    catalog = load_catalog()
    learner = LearnerModel(rig.store, catalog)
    svc = Services(
        rig.llm,
        rig.retriever,
        rig.kernels,
        rig.grader,
        rig.jobs,
        rig.store,
        catalog,
        EXERCISES,
        learner,
        rig.tasks,
    )
    msg = {
        "messages": [HumanMessage("maybe train the model on the numpy notes for 50 steps")],
        "learner_id": "ann",
    }
    asked = train_node(svc, {**msg, "intent_source": "model"})
    assert asked["reply"].startswith("Start a GPT fine-tune on the notes on m1.numpy, 50 steps?")
    assert asked["pending_action"]["kind"] == "train" and not rig.jobs.jobs
    no = confirm_node(svc, {"messages": [HumanMessage("no")], "pending_action": asked["pending_action"]})
    assert no["pending_action"] is None and not rig.jobs.jobs
    yes = confirm_node(svc, {"messages": [HumanMessage("yes")], "pending_action": asked["pending_action"]})
    assert "Started gpt job" in yes["reply"] and len(rig.jobs.jobs) == 1
    ruled = train_node(svc, {**msg, "intent_source": "rule:train-words"})  # a clear command just starts
    assert "Started gpt job" in ruled["reply"] and len(rig.jobs.jobs) == 2
