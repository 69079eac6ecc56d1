"""The agent's tool registry (``tutor/agent/tools.py``): each tool's schema comes from its function's
signature, the model gets those very objects, ``tools_node`` runs them by name and hands the model
their typed results as JSON (failures as error results), a learner reads results only as words
rendered from them, and docs/architecture.md lists exactly the registry. Also the chat's grading
reply, worded from the grader's fields (never from its prose)."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel

from curriculum.catalog import load_catalog
from curriculum.learner import LearnerModel
from storage.store import Store
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
from tools.grader import GradeReport
from tutor.agent import prompts as P
from tutor.agent.nodes import Services
from tutor.agent.nodes.practice import grade_result, grade_text, run_code, show_exercise
from tutor.agent.nodes.progress import progress_node
from tutor.agent.nodes.training import job_status as job_status_node
from tutor.agent.tools import (
    FUNCTIONS,
    TOOLS,
    bind_tools,
    call_schema,
    learner_text,
    result_type,
    tools_markdown,
    tools_node,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
HALF_RIGHT = "def double(x):\n    return abs(x) * 2\n"  # public test passes, the hidden one fails


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Services]:
    store = Store(f"sqlite:///{tmp_path / 'tutor.db'}")
    catalog = load_catalog()
    yield Services(
        fake_llm(), FakeRetriever(), FakeKernels(), FakeGrader(EXERCISES), FakeJobs(), store, catalog,
        EXERCISES, LearnerModel(store, catalog), RULE_TASKS,
    )  # fmt: skip
    store.close()


def run_tools(svc: Services, *calls: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    tool_calls = [{"name": n, "args": a, "id": f"c{i}"} for i, (n, a) in enumerate(calls)]
    msg = AIMessage(content="", tool_calls=tool_calls)
    return tools_node(svc, {"learner_id": "ann", "thread_id": "t", "messages": [msg]})


# --- the registry comes from the functions ---
@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
def test_each_tools_schema_is_its_functions_signature(fn: Any) -> None:
    tool = TOOLS[fn.__name__]
    params = inspect.signature(fn).parameters
    assert isinstance(tool.args_schema, type)
    assert set(tool.args_schema.model_fields) == set(params)
    model_args = [n for n in params if n != "ctx"]  # the injected context is not the model's to fill
    schema = call_schema(tool)
    assert list(schema.get("properties") or {}) == model_args
    required = {n for n in model_args if params[n].default is inspect.Parameter.empty}
    assert set(schema.get("required") or []) == required
    assert tool.description == (inspect.getdoc(fn) or "").split("\n\n")[0]
    assert issubclass(result_type(fn.__name__), BaseModel)


def test_the_registry_is_the_functions_and_the_model_gets_those_tools() -> None:
    assert list(TOOLS) == [f.__name__ for f in FUNCTIONS] and len(TOOLS) == 8

    class Capture:
        tools: list[Any] = []

        def bind_tools(self, tools: list[Any]) -> str:
            self.tools = tools
            return "bound"

    model = Capture()
    assert bind_tools(model) == "bound" and model.tools == list(TOOLS.values())
    specs = [convert_to_openai_tool(t)["function"] for t in model.tools]
    assert [s["name"] for s in specs] == list(TOOLS)
    assert all("ctx" not in s["parameters"].get("properties", {}) for s in specs)
    assert bind_tools(fake_llm()) is None  # a model that cannot call tools


# --- tools_node ---
def test_tools_node_runs_the_registered_function_and_returns_typed_json(svc: Services) -> None:
    out = run_tools(svc, ("grade_exercise", {"exercise_id": "numpy-double", "code": HALF_RIGHT}))
    (msg,) = out["messages"]
    assert msg.name == "grade_exercise" and msg.status == "success" and msg.tool_call_id == "c0"
    data = json.loads(msg.content)
    assert (data["passed"], data["tests_passed"], data["tests_total"], data["hidden_failed"]) == (
        False,
        1,
        2,
        1,
    )
    assert data["tests"] == [{"name": "test_double_two", "passed": True, "message": ""}]  # public only
    assert data["hint"] and "secret" not in msg.content and "test_hidden" not in msg.content
    assert out["tool_calls"] == [
        {
            "name": "grade_exercise",
            "args": {"exercise_id": "numpy-double", "code": HALF_RIGHT},
            "status": "ok",
        }
    ]
    assert out["current_exercise"] == "numpy-double" and out["last_failures"] == []
    assert [a["passed"] for a in svc.store.attempts("ann")] == [False]


def test_search_results_are_cited(svc: Services) -> None:
    out = run_tools(svc, ("search_notes", {"query": "numpy broadcasting"}))
    passages = json.loads(out["messages"][0].content)["passages"]
    assert passages and passages[0]["topic_id"] == "m1.numpy"
    assert out["citations"][0] == {"topic_id": "m1.numpy", "source": passages[0]["source"]}


@pytest.mark.parametrize(
    ("code", "status", "field"), [("print(6 * 7)", "ok", "stdout"), ("1 / 0", "error", "error")]
)
def test_a_code_run_is_data_for_the_model_and_the_run_nodes_words_for_a_learner(
    svc: Services, code: str, status: str, field: str
) -> None:
    out = run_tools(svc, ("run_code", {"code": code}))
    (msg,) = out["messages"]
    data = json.loads(msg.content)
    assert data["status"] == status and data[field] and out["tool_calls"][0]["status"] == status
    words = learner_text(svc, {}, result_type("run_code").model_validate(msg.artifact))
    assert words == run_code(svc, {"thread_id": "other"}, code)["reply"]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (("nope", {}), "unknown tool 'nope'"),
        (("grade_exercise", {"exercise_id": "numpy-double"}), "code"),  # arguments that do not validate
        (
            ("grade_exercise", {"exercise_id": "numpy-dubble", "code": "x = 1"}),
            "Did you mean `numpy-double`?",
        ),
        (("start_training", {"kind": "tensorflow"}), "kind"),
        (("job_status", {"job_id": "gpt-0000000099"}), "not found"),
    ],
)
def test_a_failing_tool_becomes_an_error_result(
    svc: Services, call: tuple[str, dict[str, Any]], error: str
) -> None:
    out = run_tools(svc, call, ("get_progress", {}))  # a failure does not stop the next call
    failed, ok = out["messages"]
    assert failed.status == "error" and error in json.loads(failed.content)["error"]
    assert ok.status == "success" and json.loads(ok.content)["attempts"] == 0
    assert [c["status"] for c in out["tool_calls"]] == ["failed", "ok"]
    assert "current_exercise" not in out and svc.store.attempts("ann") == []


def test_a_service_that_raises_becomes_an_error_result(svc: Services) -> None:
    svc.grader = FakeGrader(EXERCISES, fail=True)
    out = run_tools(svc, ("grade_exercise", {"exercise_id": "numpy-double", "code": HALF_RIGHT}))
    assert json.loads(out["messages"][0].content) == {"error": "the grading sandbox is unavailable"}
    assert out["tool_calls"][0]["status"] == "failed" and svc.store.attempts("ann") == []


# --- learner-facing words come from the same results ---
def test_learner_text_of_a_result_is_the_deterministic_nodes_wording(svc: Services) -> None:
    state = {"learner_id": "ann", "thread_id": "t", "messages": []}
    out = run_tools(svc, ("get_exercise", {"exercise_id": "numpy-double"}), ("get_progress", {}))
    exercise, progress = (result_type(m.name).model_validate(m.artifact) for m in out["messages"])
    assert learner_text(svc, state, exercise) == show_exercise(svc, "numpy-double")["reply"]
    assert learner_text(svc, state, progress) == progress_node(svc, state)["reply"]
    job = svc.jobs.submit("sklearn", {"dataset": "iris"}, learner_id="ann")
    svc.jobs.finish(job["job_id"])
    status = run_tools(svc, ("job_status", {}))["messages"][0]
    assert '"val_loss":2.345' in status.content and '"step":200,' in status.content
    words = learner_text(svc, state, result_type("job_status").model_validate(status.artifact))
    assert words == job_status_node(svc, state, None)["reply"]


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


def test_a_silent_model_leaves_the_learner_the_results_in_words(tmp_path: Path) -> None:
    call = {"name": "get_exercise", "args": {"exercise_id": "numpy-double"}, "id": "c1"}
    r = Rig(tmp_path, llm=FakeToolModel(messages=iter([AIMessage(content="", tool_calls=[call]), ""])),
            tool_calling=True)  # fmt: skip
    out = r.conv.chat("ann", "surprise me")
    assert out["reply"].startswith("**Double the values** (`numpy-double`")
    assert '{"exercise_id"' not in out["reply"]  # words, not the JSON the model read
    r.close()


# --- documented once ---
def test_the_docs_list_exactly_the_registrys_tools_and_arguments() -> None:
    text = DOC.read_text(encoding="utf-8")
    m = re.search(r"<!-- agent-tools:begin -->\n(.*?)\n<!-- agent-tools:end -->", text, re.S)
    assert m, "docs/architecture.md has no agent-tools block"
    documented = dict(re.findall(r"^\| `(\w+)` \| ([^|]*) \|", m.group(1), re.M))
    assert set(documented) == set(TOOLS)
    for name, tool in TOOLS.items():
        args = re.findall(r"`(\w+)`", documented[name])
        assert args == list(call_schema(tool).get("properties") or {}), name
    assert m.group(1) == tools_markdown(), "regenerate it: python -m tutor.agent.tools"


# --- the chat's grading reply: from the grader's fields, never its prose ---
def report(tests: list[tuple[str, bool, bool]], **kw: Any) -> GradeReport:
    rows = [
        {"name": n, "passed": p, "hidden": h, "message": "passed" if p else f"{n} is wrong", "points": 1.0}
        for n, p, h in tests
    ]
    passed = all(p for _, p, _ in tests) and kw.get("status", "ok") == "ok"
    score = sum(p for _, p, _ in tests) / len(tests)
    base: dict[str, Any] = {"feedback": "GRADER PROSE 9 of 9 tests passed\nHint: grader prose", "status": "ok",
                            "duration_s": 0.1, "hint": "grader prose hint"}  # fmt: skip
    return GradeReport("numpy-double", passed, score, rows, **{**base, **kw})


def test_a_failed_grade_is_worded_from_the_counts_and_tests(svc: Services) -> None:
    r = report([("test_double_two", False, False), ("test_zero", True, False), ("test_secret", False, True)])
    result = grade_result(svc, {"learner_id": "ann"}, EXERCISES["numpy-double"], r, [])
    text = grade_text(svc, {"learner_id": "ann"}, result)
    assert text.startswith("Not yet: 1/3 tests of `numpy-double` pass (score 33%).")
    assert "- test_double_two: test_double_two is wrong\n- 1 hidden test(s) failed." in text
    assert "PROSE" not in text.upper() and "test_secret" not in text
    assert text.count("Hint:") == 1 and text.rstrip().endswith('send it again with "grade this".')
    assert result.failing == [{"name": "test_double_two", "message": "test_double_two is wrong"}]


def test_only_hidden_failures_point_at_edge_cases(svc: Services) -> None:
    r = report([("test_double_two", True, False), ("test_secret", False, True)])
    text = grade_text(svc, {}, grade_result(svc, {"learner_id": "ann"}, EXERCISES["numpy-double"], r, []))
    assert "Not yet: 1/2 tests" in text and "- 1 hidden test(s) failed." in text
    assert "edge cases the public tests don't show" in text


def test_code_that_did_not_load_is_shown_with_its_traceback(svc: Services) -> None:
    err = {
        "name": "SyntaxError",
        "message": "invalid syntax",
        "traceback": '  File "submission.py", line 3\n',
    }
    r = report([("test_double_two", False, False)], status="error", load_error=err)
    text = grade_text(svc, {}, grade_result(svc, {"learner_id": "ann"}, EXERCISES["numpy-double"], r, []))
    assert "Not yet: 0/1 tests" in text and "Your code didn't finish cleanly (error)." in text
    assert "Your code did not load: SyntaxError: invalid syntax" in text and "submission.py" in text
    assert "- test_double_two:" not in text  # no list of tests: every one failed for that one reason


def test_a_passed_grade_reports_mastery_and_a_next_step(svc: Services) -> None:
    r = report([("test_double_two", True, False), ("test_secret", True, True)])
    result = grade_result(svc, {"learner_id": "ann"}, EXERCISES["numpy-double"], r, [])
    text = grade_text(svc, {"learner_id": "ann"}, result)
    assert result.passed and not result.hint and result.mastery
    assert text.startswith("✅ All tests of `numpy-double` pass (score 100%).")
    assert f"is now {result.mastery:.0%}" in text and "Hint:" not in text


def test_a_chat_sees_only_its_own_learners_jobs(svc: Services) -> None:
    """The agent's tool and the chat's node both act as the chat's learner (tutor.usecases.jobs)."""
    theirs = svc.jobs.submit("sklearn", {"dataset": "iris"}, learner_id="bob")
    out = run_tools(svc, ("job_status", {"job_id": theirs["job_id"]}), ("job_status", {}))
    named, newest = (json.loads(m.content) for m in out["messages"])
    assert "another learner" in named["error"] and newest == {"jobs": []}
    state = {"learner_id": "ann", "thread_id": "t", "messages": []}
    reply = job_status_node(svc, state, theirs["job_id"])["reply"]
    assert reply.startswith("I can't find a job") and "iris" not in reply  # nothing of bob's job
    assert job_status_node(svc, state, None)["reply"] == P.TRAIN_NONE
