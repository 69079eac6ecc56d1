"""The plan use case (tutor/usecases/planning.py) as the chat, the Learn tab and the HTTP API use it: one
code path, goal-path plans with reasons checked against the learner's state, and "what's next"
walking the saved plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from langchain_core.messages import BaseMessage

from curriculum.catalog import load_catalog
from curriculum.planner import plan_lesson
from tests.agent_helpers import EXERCISES, FakeGrader, FakeJobs, FakeKernels, FakeRetriever, Rig
from tutor.config import Settings
from tutor.llm import chat_format as cf
from tutor.llm.fake import FakeChatModel
from tutor.service import Tutor
from tutor.usecases import fallbacks as fb
from tutor.usecases.tasks import Tasks
from tutor.web import api
from tutor.web.ui.learn import LearnHandlers

CAT = load_catalog()
PATH_TO_GPT = CAT.ancestors("m8.gpt") | {"m8.gpt"}


def planner_writes(messages: list[BaseMessage]) -> str:
    """A chat model that writes the rule planner's plan for a beginner towards GPT (3 hours) when
    asked for a plan, and small talk otherwise."""
    if messages and messages[0].content == cf.PLAN_SYSTEM:
        return cf.format_plan(i.__dict__ for i in plan_lesson(CAT, {}, 3, ["m8.gpt"]).items)
    return "Happy to help."


def real_plan_tutor(tmp_path: Path) -> Tutor:
    """The real service (real Tutor.plan, chat graph, labs, store) over fakes for the heavy parts."""
    settings = Settings(data_dir=tmp_path / "var", kernel_pool_size=0)
    return Tutor(
        settings,
        llm=FakeChatModel(respond=planner_writes),
        retriever=FakeRetriever(),
        jobs=FakeJobs(),
        kernels=FakeKernels(),
        grader=FakeGrader(EXERCISES),
        exercises=EXERCISES,
        cards=None,
    )


def _same_fields(plan: dict[str, Any]) -> dict[str, Any]:
    return {k: plan.get(k) for k in ("items", "goal_topics", "distance", "model", "constraint", "hours")}


def test_chat_and_learn_tab_give_the_same_plan(tmp_path: Path) -> None:
    tutor = real_plan_tutor(tmp_path)
    tutor.chat("ann", "plan 3 hours towards GPT", "t1")
    chat_plan = tutor.saved_plan("ann")
    rows, md = LearnHandlers(tutor).make_plan("ann", 3, "GPT")
    tab_plan = tutor.saved_plan("ann")
    assert chat_plan["plan_id"] != tab_plan["plan_id"]  # two plans were made...
    assert _same_fields(chat_plan) == _same_fields(tab_plan)  # ...and they are the same plan
    assert chat_plan["model"] == "fake" and chat_plan["repaired"] is False  # the GPT's plan stood
    assert {i["topic_id"] for i in chat_plan["items"]} <= PATH_TO_GPT
    assert [r[3] for r in rows] == [i["reason"] for i in tab_plan["items"]] and all(r[3] for r in rows)
    assert "GPT models is 20 topics away" in md


def test_api_reports_model_constraint_and_reasons(tmp_path: Path) -> None:
    tutor = real_plan_tutor(tmp_path)
    app = FastAPI()
    app.state.tutor = tutor
    api.install(app)
    client = TestClient(app)
    made = client.post("/api/learners/ada/plan", json={"hours": 3, "goal": "GPT"}).json()
    got = client.get("/api/learners/ada/plan").json()
    assert got["items"] == made["items"] and got["model"] == made["model"] == "fake"
    assert got["constraint"] == "none"  # a non-local backend: no logits processor held it
    assert made["reasons_replaced"] == 0 and all(i["reason"] for i in made["items"])
    assert made["goal_progress"] == [
        {"topic_id": "m8.gpt", "topics_away": 20, "covered": 4, "reached": False}
    ]


def _rig_with(tmp_path: Path, gpt_plan: Any) -> Rig:
    return Rig(tmp_path, tasks=Tasks(explain=fb.explain, hint=fb.hint, gpt_plan=gpt_plan))


def test_a_false_gpt_reason_is_replaced_and_counted(tmp_path: Path) -> None:
    def lying(llm: Any, catalog: Any, mastery: Any, hours: float, goals: Any, due: Any) -> dict[str, Any]:
        items = [dict(i.__dict__) for i in plan_lesson(catalog, mastery, hours, goals, due).items]
        true_reason = items[1]["reason"]
        items[0]["reason"] = "review: due today"  # NumPy is not due: false
        items[1]["reason"] = true_reason  # true: kept
        items[2]["reason"] = "weakest topic in module 1 (40% mastered)"  # nothing is 40% mastered
        return {"items": items, "rationale": "mine", "model": "tutor-gpt", "constraint": "strict"}

    r = _rig_with(tmp_path, lying)
    reply = r.conv.chat("ann", "plan 3 hours towards GPT", "t")["reply"]
    saved = r.store.get_plan("ann")
    assert saved["model"] == "tutor-gpt" and saved["constraint"] == "strict"
    assert saved["reasons_replaced"] == 2
    assert saved["items"][0]["reason"] == "prerequisite of Pandas for your goal"
    assert saved["items"][2]["reason"] == "prerequisite of Tokenisation for NLP for your goal"
    assert "· prerequisite of Pandas for your goal" in reply and "due today" not in reply
    assert "GPT models is 20 topics away; this plan covers the first" in reply
    r.close()


def test_a_gpt_plan_off_the_goal_path_is_repaired(tmp_path: Path) -> None:
    def wanders(*_a: Any) -> dict[str, Any]:
        items = [{"topic_id": "m1.numpy", "activity": "study", "minutes": 60},
                 {"topic_id": "m1.visualization", "activity": "study", "minutes": 60}]  # fmt: skip
        return {"items": items, "rationale": "", "model": "tutor-gpt", "constraint": "ids"}

    r = _rig_with(tmp_path, wanders)
    r.conv.chat("ann", "plan 3 hours towards GPT", "t")
    saved = r.store.get_plan("ann")
    assert saved["model"] == "rules" and saved["model_tried"] == "tutor-gpt" and saved["constraint"] == "ids"
    assert any("not on the path" in p and "m1.visualization" in p for p in saved["repairs"])
    assert {i["topic_id"] for i in saved["items"]} <= PATH_TO_GPT
    r.close()


@pytest.fixture
def rig(tmp_path: Path) -> Any:
    r = Rig(tmp_path)
    yield r
    r.close()


def test_what_should_i_do_next_continues_the_saved_plan(rig: Rig) -> None:
    rig.conv.chat("ann", "plan 3 hours towards GPT", "a")
    plan = rig.store.get_plan("ann")
    ids = [i["topic_id"] for i in plan["items"]]
    first = rig.conv.chat("ann", "what should I do next?", "a")["reply"]
    assert f"(1/{len(ids)})" in first and f"(`{ids[0]}`)" in first and "Why: prerequisite of" in first
    # a new thread goes on where the last one stopped; a topic mastered meanwhile is skipped
    rig.store.set_mastery("ann", ids[2], 0.95)
    second = rig.conv.chat("ann", "what should I do next?", "b")["reply"]
    assert f"(2/{len(ids)})" in second and f"(`{ids[1]}`)" in second
    third = rig.conv.chat("ann", "what should I do next?", "b")["reply"]
    assert f"(4/{len(ids)})" in third and f"(`{ids[3]}`)" in third
    assert rig.store.get_plan("ann")["plan_id"] == plan["plan_id"]  # no new plan was made
    for _ in ids[4:]:
        rig.conv.chat("ann", "what's next?", "b")
    done = rig.conv.chat("ann", "what should I do next?", "b")["reply"]
    assert "end of your plan" in done and "Here's your plan" in done  # finished: a new one
    new = rig.store.get_plan("ann")
    assert new["plan_id"] != plan["plan_id"] and new["goal_topics"] == ["m8.gpt"] and new["hours"] == 3.0
    assert ids[2] not in [i["topic_id"] for i in new["items"]]  # mastered since


def test_with_no_plan_what_next_makes_one(rig: Rig) -> None:
    reply = rig.conv.chat("ann", "what should I do next?", "a")["reply"]
    assert "don't have a plan yet" in reply and rig.store.get_plan("ann") is not None


def test_a_practice_item_turned_lab_gets_the_labs_reason_without_counting_a_replacement() -> None:
    from tutor.usecases.planning import build_plan

    mastery = {"m1.numpy": 0.9, "m1.pandas": 0.5}
    plan = build_plan(
        None, CAT, mastery, [], 2, [], gpt_plan=fb.gpt_plan, labs={"m1.pandas": "pandas-passengers"}
    )
    lab = plan["items"][0]
    assert lab["activity"] == "lab" and lab["reason"].startswith("lab: pandas-passengers on Pandas")
    assert plan["reasons_replaced"] == 0 and plan["model"] == "rules" and plan["constraint"] == "none"
