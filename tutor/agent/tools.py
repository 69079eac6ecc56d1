"""The tool-calling path, for chat backends that can call tools (a bigger model behind an
OpenAI-compatible server): the model picks among the same actions the deterministic nodes use.

One registry: each tool is one typed function below (its parameters are the tool's arguments, its
docstring the description the model reads) made into a LangChain ``StructuredTool``; ``bind_tools``
binds those objects and ``tools_node`` calls them by name from the same ``TOOLS``. A tool returns
data (a pydantic model, never prose): the model reads it as compact JSON (``tool_content``); a
learner reads it only as words made at the edge (``learner_text``, with the same formatters the
deterministic nodes use). docs/architecture.md lists the tools from ``tools_markdown()``
(``python -m tutor.agent.tools`` prints it; a unit test keeps the two equal).

Limits: the model's final text is not checked against the notes the way ``explain`` checks the
small model's answers, and "never write an exercise's solution" is an instruction, not a filter
(the tools themselves never return solutions: the grader keeps them out of the trusted process).
The loop is capped at ``MAX_STEPS`` model calls per turn.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, Literal, get_type_hints

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool, InjectedToolArg, StructuredTool
from pydantic import BaseModel, Field

from tools.training.jobs import FINISHED
from tutor.agent import prompts as P
from tutor.agent.nodes import Services, Update, attr, emit_text, use_tool
from tutor.agent.nodes.practice import (
    MAX_OUTPUT,
    ExerciseResult,
    GradeResult,
    exercise_result,
    exercise_text,
    exercise_updates,
    format_run,
    grade_submission,
    grade_text,
    grade_updates,
    strip_ansi,
)
from tutor.agent.nodes.progress import format_progress
from tutor.agent.nodes.teach import format_plan, new_plan
from tutor.agent.nodes.training import jobs_text
from tutor.errors import NotFound
from tutor.usecases import jobs as job_cases

log = logging.getLogger(__name__)
MAX_STEPS = 4
HISTORY = 16  # messages of earlier turns the model sees
PASSAGE_CHARS = 800  # of each note passage the model reads
K_PASSAGES = 4


class ToolContext:
    """What a tool gets besides the model's arguments (injected: the model never sees it): the
    services, the thread's state, and the state updates the tool leaves (``citations`` add up).
    A plain class, not a dataclass: pydantic passes it through as is instead of copying it field
    by field (services included) when the tool's arguments are validated."""

    def __init__(self, svc: Services, state: dict[str, Any]) -> None:
        self.svc = svc
        self.state = state
        self.update: Update = {}
        self.calls: list[dict[str, Any]] = []  # records of inner service calls


Ctx = Annotated[ToolContext, InjectedToolArg]


# --- results: what each tool returns ---
class Passage(BaseModel):
    topic_id: str
    source: str = Field(description="note file and section anchor, to cite")
    heading: str = ""
    text: str


class SearchResult(BaseModel):
    passages: list[Passage]


class CodeRunResult(BaseModel):
    status: str = Field(description="ok | error | timeout | killed")
    stdout: str = ""
    stderr: str = ""
    text_outputs: list[str] = Field(default_factory=list, description="rich text/plain outputs")
    plots: int = 0
    error: dict[str, Any] | None = Field(default=None, description='{"name", "message", "traceback"}')
    duration_s: float = 0.0
    notices: list[str] = Field(default_factory=list)
    outputs: list[dict[str, Any]] = Field(
        default_factory=list, exclude=True, description="plots: streamed to the UI, never to the model"
    )


class PlanItem(BaseModel):
    topic_id: str
    activity: str
    minutes: int | float
    reason: str = ""
    lab_id: str | None = None


class PlanResult(BaseModel):
    hours: float
    goal: str | None = None
    goal_topics: list[str] = Field(default_factory=list)
    items: list[PlanItem]
    distance: str = ""
    rationale: str = ""


class Job(BaseModel):
    job_id: str
    kind: str
    status: str
    progress: float = 0.0
    metrics: dict[str, int | float] = Field(default_factory=dict, description="numeric metrics only")
    last_step: dict[str, int | float] = Field(default_factory=dict, description="the newest history entry")
    model_id: str | None = None
    error: str | None = None
    plots: list[str] = Field(default_factory=list)


class JobResult(BaseModel):
    jobs: list[Job]


class ProgressResult(BaseModel):
    mastery: dict[str, float] = Field(description="topic id -> P(mastered)")
    attempts: int
    attempts_passed: int
    due_reviews: list[str]


# --- the tools: one typed function each ---
def search_notes(query: str, *, ctx: Ctx) -> SearchResult:
    """Search the course notes; returns passages with topic id and section.

    Args:
        query: what to look for, in the learner's words or the course's.
    """
    passages = ctx.svc.retriever.search(query, k=K_PASSAGES)
    found = [
        Passage(
            topic_id=str(attr(p, "topic_id")),
            source=str(attr(p, "source")),
            heading=str(attr(p, "heading") or ""),
            text=str(attr(p, "text"))[:PASSAGE_CHARS],
        )
        for p in passages
    ]
    ctx.update["citations"] = [{"topic_id": p.topic_id, "source": p.source} for p in found]
    return SearchResult(passages=found)


def run_code(code: str, *, ctx: Ctx) -> CodeRunResult:
    """Run Python in the learner's sandboxed kernel (state persists in this conversation).

    Args:
        code: Python source to run.
    """
    result = ctx.svc.kernels.execute(code, session_id=ctx.state.get("thread_id") or None)
    outputs = list(attr(result, "outputs") or [])
    error = attr(result, "error")
    return CodeRunResult(
        status=str(attr(result, "status", "error")),
        stdout=_clip(str(attr(result, "stdout") or "")),
        stderr=_clip(strip_ansi(str(attr(result, "stderr") or ""))),
        text_outputs=[_clip(str(attr(o, "data"))) for o in outputs if attr(o, "mime_type") == "text/plain"],
        plots=sum(1 for o in outputs if str(attr(o, "mime_type")).startswith("image/")),
        error={
            "name": str(attr(error, "name", "Error")),
            "message": str(attr(error, "message", "")),
            "traceback": [strip_ansi(str(x)) for x in (attr(error, "traceback") or [])][-3:],
        }
        if error
        else None,
        duration_s=float(attr(result, "duration_s") or 0.0),
        notices=[str(n) for n in attr(result, "notices") or []],
        outputs=[o for o in outputs if str(attr(o, "mime_type")).startswith("image/")],
    )


def grade_exercise(exercise_id: str, code: str, *, ctx: Ctx) -> GradeResult:
    """Grade the learner's code for a course exercise and record the attempt.

    Args:
        exercise_id: the exercise's id, e.g. numpy-basics.
        code: the learner's whole submission (Python source).
    """
    result = grade_submission(ctx.svc, ctx.state, exercise_id, code, ctx.calls)
    ctx.update.update(grade_updates(result))
    return result


def get_exercise(exercise_id: str, *, ctx: Ctx) -> ExerciseResult:
    """The statement, starter code and public test names of an exercise.

    Args:
        exercise_id: the exercise's id, e.g. numpy-basics.
    """
    result = exercise_result(ctx.svc, exercise_id)
    ctx.update.update(exercise_updates(result))
    return result


def make_plan(hours: float = 2.0, goal: str | None = None, *, ctx: Ctx) -> PlanResult:
    """Make and save a lesson plan.

    Args:
        hours: study time to plan for (0.25 to 40).
        goal: what the learner wants to reach, in their words.
    """
    plan = new_plan(ctx.svc, ctx.state, min(40.0, max(0.25, hours)), goal)
    ctx.update.update(plan=plan, plan_step=0)
    return PlanResult.model_validate({k: plan[k] for k in PlanResult.model_fields if plan.get(k) is not None})


def start_training(
    kind: Literal["gpt", "sklearn"], params: dict[str, Any] | None = None, *, ctx: Ctx
) -> JobResult:
    """Start a training job. kind 'gpt' (params: data, max_steps, ...) or 'sklearn' (params: dataset, estimator).

    Args:
        kind: gpt (fine-tune or train the course GPT) or sklearn (a classic estimator).
        params: the job's parameters, e.g. {"dataset": "iris", "estimator": "random_forest"}.
    """
    learner_id = ctx.state.get("learner_id") or None
    job = job_cases.submit(ctx.svc.jobs, kind, dict(params or {}), learner_id)
    pending = [j for j in ctx.state.get("pending_jobs") or [] if j != job["job_id"]]
    ctx.update["pending_jobs"] = [*pending, job["job_id"]]
    return JobResult(jobs=[_job(job)])


def job_status(job_id: str | None = None, *, ctx: Ctx) -> JobResult:
    """Status, progress and metrics of a training job (the newest without an id).

    Args:
        job_id: the job's id, e.g. gpt-00000001; omit it for the learner's newest job.
    """
    learner_id = ctx.state.get("learner_id") or None
    who = learner_id or ""  # the chat acts as its learner (none: only ownerless jobs)
    if job_id:
        jobs = [job_cases.get(ctx.svc.jobs, job_id, who)]
    else:
        jobs = [j for j in job_cases.list_jobs(ctx.svc.jobs, learner_id) if job_cases.is_owner(j, who)][:1]
    result = JobResult(jobs=[_job(j) for j in jobs])
    done = {j.job_id for j in result.jobs if j.status in FINISHED}
    ctx.update["pending_jobs"] = [j for j in ctx.state.get("pending_jobs") or [] if j not in done]
    return result


def get_progress(*, ctx: Ctx) -> ProgressResult:
    """The learner's mastery per topic and due reviews."""
    prog = ctx.svc.learner.progress(ctx.state.get("learner_id", ""))
    attempts = list(prog.get("attempts") or [])
    return ProgressResult(
        mastery={k: round(float(v), 4) for k, v in (prog.get("mastery") or {}).items()},
        attempts=len(attempts),
        attempts_passed=sum(1 for a in attempts if attr(a, "passed")),
        due_reviews=list(prog.get("due_reviews") or []),
    )


FUNCTIONS: list[Callable[..., BaseModel]] = [
    search_notes,
    run_code,
    grade_exercise,
    get_exercise,
    make_plan,
    start_training,
    job_status,
    get_progress,
]
TOOLS: dict[str, BaseTool] = {
    f.__name__: StructuredTool.from_function(f, parse_docstring=True) for f in FUNCTIONS
}


def _clip(text: str) -> str:
    return text if len(text) <= MAX_OUTPUT else text[:MAX_OUTPUT] + f"… ({len(text) - MAX_OUTPUT} more)"


def _job(job: Any) -> Job:
    metrics = attr(job, "metrics") or {}
    history = metrics.get("history") or []
    last = history[-1] if history and isinstance(history[-1], dict) else {}
    return Job(
        job_id=str(attr(job, "job_id")),
        kind=str(attr(job, "kind", "?")),
        status=str(attr(job, "status", "?")),
        progress=float(attr(job, "progress") or 0.0),
        metrics={k: v for k, v in metrics.items() if _number(v)},
        last_step={k: v for k, v in last.items() if _number(v)},
        model_id=attr(job, "model_id"),
        error=attr(job, "error"),
        plots=[
            str(a.get("path"))
            for a in attr(job, "artifacts") or []
            if str(a.get("mime_type", "")).startswith("image/")
        ],
    )


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


# --- rendering: the same result for the model (JSON) and for the learner (words) ---
def tool_content(result: BaseModel) -> str:
    """What the model reads: the result as compact JSON (no empty fields)."""
    return result.model_dump_json(exclude_none=True)


def learner_text(svc: Services, state: dict[str, Any], result: BaseModel) -> str:
    """What a learner reads of a result, worded as the deterministic nodes word it."""
    if isinstance(result, GradeResult):
        return grade_text(svc, state, result)
    if isinstance(result, ExerciseResult):
        return exercise_text(result)
    if isinstance(result, CodeRunResult):
        outputs = [{"mime_type": "text/plain", "data": t} for t in result.text_outputs]
        outputs += [{"mime_type": "image/png"}] * result.plots
        return format_run({**result.model_dump(), "outputs": outputs})
    if isinstance(result, PlanResult):
        return format_plan(svc, result.model_dump())
    if isinstance(result, JobResult):
        return jobs_text(
            [
                {
                    **j.model_dump(),
                    "metrics": {**j.metrics, "history": [j.last_step] if j.last_step else []},
                    "artifacts": [{"path": p, "mime_type": "image/png"} for p in j.plots],
                }
                for j in result.jobs
            ]
        )
    if isinstance(result, ProgressResult):
        attempts = [{"passed": n < result.attempts_passed} for n in range(result.attempts)]
        prog = {"mastery": result.mastery, "attempts": attempts, "due_reviews": result.due_reviews}
        return format_progress(svc, prog)
    if isinstance(result, SearchResult):
        return "\n\n".join(
            f"**{p.heading or svc.topic_title(p.topic_id)}** (`{p.topic_id}`, {p.source}): {p.text}"
            for p in result.passages
        )
    raise TypeError(f"no learner wording for {type(result).__name__}")


def result_type(name: str) -> type[BaseModel]:
    """The result model of tool ``name``: its function's return annotation."""
    fn = next(f for f in FUNCTIONS if f.__name__ == name)
    hint: type[BaseModel] = get_type_hints(fn)["return"]
    return hint


# --- the registry as the model and the docs see it ---
def bind_tools(llm: Any) -> Any | None:
    """The model with the tools bound, or None when the backend cannot call tools."""
    try:
        return llm.bind_tools(list(TOOLS.values()))
    except (NotImplementedError, AttributeError, TypeError, ValueError) as e:
        log.warning("chat model cannot call tools (%s): using the classifier routes only", e)
        return None


def call_schema(tool: BaseTool) -> dict[str, Any]:
    """The JSON schema of the arguments the model fills (injected ones left out)."""
    schema = tool.tool_call_schema
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema.model_json_schema()
    return dict(schema)  # type: ignore[arg-type]


def tools_markdown() -> str:
    """The tool table of docs/architecture.md, made from the registry: each argument as
    `name` (required), `name`=default or `name`? (optional), with its JSON type."""
    rows = ["| tool | arguments | returns | what it does |", "|---|---|---|---|"]
    for name, tool in TOOLS.items():
        schema = call_schema(tool)
        required = set(schema.get("required") or [])
        args = []
        for arg, prop in (schema.get("properties") or {}).items():
            types = [prop] + list(prop.get("anyOf") or [])
            kind = " or ".join(
                ", ".join(map(str, t["enum"])) if "enum" in t else str(t["type"])
                for t in types
                if t.get("type", "") != "null" and ("type" in t or "enum" in t)
            )
            mark = "" if arg in required else "?" if prop.get("default") is None else f"={prop['default']}"
            args.append(f"`{arg}`{mark} ({kind})")
        result = result_type(name)
        fields = [f for f, info in result.model_fields.items() if not info.exclude]
        returns = f"`{result.__name__}` {{{', '.join(fields)}}}"
        rows.append(f"| `{name}` | {', '.join(args) or '-'} | {returns} | {tool.description} |")
    return "\n".join(rows)


# --- the graph's nodes ---
def _history(messages: list[AnyMessage]) -> list[AnyMessage]:
    """The recent messages, never starting with a tool result whose call was cut off."""
    recent = list(messages[-HISTORY:])
    while recent and (
        isinstance(recent[0], ToolMessage) or (isinstance(recent[0], AIMessage) and recent[0].tool_calls)
    ):
        recent.pop(0)
    return recent


def agent_node(svc: Services, bound: Any, state: dict[str, Any]) -> Update:
    steps = int(state.get("agent_steps") or 0) + 1
    model = bound if steps <= MAX_STEPS else svc.llm  # out of steps: answer without tools
    msgs = [
        SystemMessage(P.AGENT_SYSTEM.format(learner_id=state.get("learner_id", ""))),
        *_history(state.get("messages") or []),
    ]
    full: Any = None
    for chunk in model.stream(msgs):
        full = chunk if full is None else full + chunk
        if isinstance(chunk.content, str) and chunk.content:
            emit_text(chunk.content)
    content = full.content if full is not None and isinstance(full.content, str) else ""
    tool_calls = list(getattr(full, "tool_calls", None) or [])
    if tool_calls and steps <= MAX_STEPS:
        return {
            "messages": [AIMessage(content=content, tool_calls=tool_calls)],
            "agent_steps": steps,
            "_streamed": True,
        }
    if not content.strip():  # the model said nothing: the learner reads this turn's tool results
        return {"reply": turn_results_text(svc, state), "agent_steps": steps}
    return {"reply": content, "agent_steps": steps, "_streamed": True}


def turn_results_text(svc: Services, state: dict[str, Any]) -> str:
    """The learner's words for the tool results of this turn (those after the last human message)."""
    texts: list[str] = []
    for m in state.get("messages") or []:
        if isinstance(m, HumanMessage):
            texts = []
        elif isinstance(m, ToolMessage) and m.status == "success" and isinstance(m.artifact, dict):
            try:
                result = result_type(str(m.name)).model_validate(m.artifact)
                text = learner_text(svc, state, result)
                texts += [text] if text not in texts else []  # a tool called again: said once
            except (StopIteration, ValueError, TypeError) as e:
                log.warning("tool result %s cannot be worded: %s", m.name, e)
    return "\n\n".join(t for t in texts if t.strip())


def tools_node(svc: Services, state: dict[str, Any]) -> Update:
    """Run the tool calls of the model's last message from ``TOOLS``; a failure (an unknown tool,
    arguments that do not validate, a service that raised) becomes an error result the model reads."""
    last = (state.get("messages") or [None])[-1]
    out: Update = {
        "messages": [],
        "citations": list(state.get("citations") or []),
        "tool_calls": list(state.get("tool_calls") or []),
    }
    for call in getattr(last, "tool_calls", None) or []:
        name, args = str(call["name"]), dict(call.get("args") or {})
        ctx = ToolContext(svc, {**state, **{k: v for k, v in out.items() if k != "messages"}})
        records: list[dict[str, Any]] = []
        result, err = use_tool(records, name, args, partial(_invoke, name, args, ctx))
        if err is None:
            message = ToolMessage(
                content=tool_content(result),
                artifact=result.model_dump(mode="json"),
                tool_call_id=call["id"],
                name=name,
            )
        else:  # the model reads the error and can try again or explain
            message = ToolMessage(
                content=json.dumps({"error": err}), tool_call_id=call["id"], name=name, status="error"
            )
        out["messages"].append(message)
        out["tool_calls"] += records + ctx.calls
        update = dict(ctx.update) if err is None else {}
        out["citations"] += [c for c in update.pop("citations", []) if c not in out["citations"]]
        out.update(update)
    return out


def _invoke(name: str, args: dict[str, Any], ctx: ToolContext) -> BaseModel:
    tool = TOOLS.get(name)
    if tool is None:
        raise NotFound(f"unknown tool {name!r}; tools: {', '.join(TOOLS)}")
    result = tool.invoke({**args, "ctx": ctx})
    if not isinstance(result, BaseModel):
        raise TypeError(f"tool {name!r} returned {type(result).__name__}, not a result model")
    return result


def route_agent(state: dict[str, Any]) -> Literal["tools", "respond"]:
    last = (state.get("messages") or [None])[-1]
    return (
        "tools" if isinstance(last, AIMessage) and last.tool_calls and not state.get("reply") else "respond"
    )


if __name__ == "__main__":  # the table for docs/architecture.md
    print(tools_markdown())
