"""Fakes for the agent's services (retriever, kernels, grader, jobs, exercises, chat model) and a
factory for a graph on a temporary data dir. Shared by the agent's unit tests."""

from __future__ import annotations

import contextlib
import io
import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

from curriculum.catalog import load_catalog
from curriculum.learner import LearnerModel
from storage.store import Store
from tools._outputs import RunResult
from tutor.agent.checkpoint import sqlite_checkpointer
from tutor.agent.graph import build_graph
from tutor.agent.threads import Conversations
from tutor.errors import BadInput, NotFound, Unavailable
from tutor.usecases import fallbacks as fb
from tutor.usecases.tasks import Tasks


@dataclass
class FakePassage:
    topic_id: str
    title: str
    source: str
    heading: str
    text: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FakeRetriever:
    """Ranks curriculum topics by word overlap with their title and must-cover list."""

    def __init__(self, fail: bool = False) -> None:
        self.catalog = load_catalog()
        self.fail = fail
        self.queries: list[str] = []

    def search(
        self, query: str, k: int = 5, topic_id: str | None = None, module: str | None = None
    ) -> list[FakePassage]:
        self.queries.append(query)
        if self.fail:
            raise Unavailable("the note index is not built; run `tutor index`")
        words = set(re.findall(r"\w+", query.lower()))
        scored = []
        for t in self.catalog.topics.values():
            if topic_id and t.id != topic_id:
                continue
            text = f"{t.title} {' '.join(t.must_cover)}".lower()
            overlap = len(words & set(re.findall(r"\w+", text)))
            if overlap or topic_id:
                scored.append((overlap, t))
        scored.sort(key=lambda x: -x[0])
        return [
            FakePassage(
                t.id,
                t.title,
                f"knowledge/notes/{t.id}.md#overview",
                f"{t.title} > Overview",
                f"{t.title} covers {', '.join(t.must_cover)}. It matters in practice.",
                min(1.0, 0.6 + s / 5) if s else 0.3,  # shaped like the real fused score (0..1)
            )
            for s, t in scored[:k]
        ]


class FakeKernels:
    """Runs test-controlled code in-process, one namespace per session (never learner code)."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.sessions: dict[str | None, dict[str, Any]] = {}
        self.calls: list[tuple[str, str | None]] = []

    def execute(self, code: str, session_id: str | None = None, timeout_s: float | None = None) -> RunResult:
        self.calls.append((code, session_id))
        if self.fail:
            raise Unavailable("bubblewrap is not installed; `apt-get install bubblewrap`")
        ns = self.sessions.setdefault(session_id, {})
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(code, "<cell>", "exec"), ns)
        except Exception as e:
            return RunResult(
                "error",
                out.getvalue(),
                error={
                    "name": type(e).__name__,
                    "message": str(e),
                    "traceback": [f"{type(e).__name__}: {e}"],
                },
            )
        return RunResult("ok", out.getvalue())


@dataclass
class FakeExercise:
    id: str
    topic_id: str
    title: str
    statement: str
    starter_code: str
    public_tests: list[dict[str, Any]]
    # ns -> [(name, passed, hidden, message)]
    check: Callable[[dict[str, Any]], list[tuple[str, bool, bool, str]]]
    entry: str = ""  # the function the learner writes

    def to_public_dict(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in ("id", "topic_id", "title", "statement", "starter_code", "public_tests")
        }


def _check_double(ns: dict[str, Any]) -> list[tuple[str, bool, bool, str]]:
    f = ns.get("double")
    ok1 = callable(f) and f(2) == 4
    ok2 = callable(f) and f(-3) == -6
    return [
        ("test_double_two", ok1, False, "" if ok1 else "double(2) should be 4"),
        ("test_hidden_negative", ok2, True, "" if ok2 else "secret: expected -6"),
    ]


def _check_mean(ns: dict[str, Any]) -> list[tuple[str, bool, bool, str]]:
    f = ns.get("col_means")
    ok = callable(f) and f([[1, 2], [3, 4]]) == [2.0, 3.0]
    return [("test_col_means", ok, False, "" if ok else "col_means([[1, 2], [3, 4]]) should be [2.0, 3.0]")]


EXERCISES = {
    "numpy-double": FakeExercise(
        "numpy-double",
        "m1.numpy",
        "Double the values",
        "Write `double(x)` returning 2*x.",
        "def double(x):\n    ...",
        [{"name": "test_double_two"}],
        _check_double,
        "double",
    ),
    "numpy-col-means": FakeExercise(
        "numpy-col-means",
        "m1.numpy",
        "Column means",
        "Write `col_means(rows)`.",
        "def col_means(rows):\n    ...",
        [{"name": "test_col_means"}],
        _check_mean,
        "col_means",
    ),
}


@dataclass
class FakeReport:
    exercise_id: str
    passed: bool
    score: float
    tests: list[dict[str, Any]]
    feedback: str
    status: str = "ok"
    duration_s: float = 0.01
    hint: str | None = None
    load_error: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FakeGrader:
    def __init__(self, exercises: dict[str, FakeExercise], fail: bool = False) -> None:
        self.exercises, self.fail = exercises, fail

    def grade(self, exercise_id: str, code: str) -> FakeReport:
        if self.fail:
            raise Unavailable("the grading sandbox is unavailable")
        ex = self.exercises[exercise_id]
        ns: dict[str, Any] = {}
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(code, "<submission>", "exec"), ns)
        except Exception as e:
            err = {"name": type(e).__name__, "message": str(e), "traceback": ""}
            return FakeReport(
                exercise_id, False, 0.0, [], f"{type(e).__name__}: {e}", status="error", load_error=err
            )
        tests = [{"name": n, "passed": p, "hidden": h, "message": m} for n, p, h, m in ex.check(ns)]
        score = sum(t["passed"] for t in tests) / len(tests)
        # the real grader's feedback format: summary, failing public tests, hidden count, hint
        lines = [f"{sum(t['passed'] for t in tests)} of {len(tests)} tests passed (score {score:.0%})."]
        lines += [f"- {t['name']}: {t['message']}" for t in tests if not t["passed"] and not t["hidden"]]
        hidden = [t for t in tests if not t["passed"] and t["hidden"]]
        if hidden:
            lines.append(f"- {len(hidden)} hidden test(s) failed.")
        lines.append("Hint: from the grader")
        return FakeReport(exercise_id, score == 1.0, score, tests, "\n".join(lines))


class FakeJobs:
    def __init__(self, fail: bool = False) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.fail = fail
        self._ids = itertools.count(1)

    def submit(self, kind: str, params: dict[str, Any], learner_id: str | None = None) -> dict[str, Any]:
        if self.fail:
            raise BadInput("unknown dataset 'irs'; did you mean 'iris'?")
        job_id = f"{kind}-{next(self._ids):010x}"
        self.jobs[job_id] = {
            "job_id": job_id,
            "kind": kind,
            "status": "queued",
            "progress": 0.0,
            "params": params,
            "metrics": {"history": []},
            "model_id": None,
            "error": None,
            "artifacts": [],
            "learner_id": learner_id,
        }
        return dict(self.jobs[job_id])

    def finish(self, job_id: str) -> None:
        self.jobs[job_id].update(
            status="succeeded",
            progress=1.0,
            model_id=job_id,
            metrics={"history": [{"step": 200, "loss": 2.1}], "val_loss": 2.345, "steps": 200},
            artifacts=[{"name": "loss_curve", "path": f"/runs/{job_id}/loss.png", "mime_type": "image/png"}],
        )

    def get(self, job_id: str) -> dict[str, Any]:
        if job_id not in self.jobs:
            raise NotFound(f"job {job_id!r} not found")
        return dict(self.jobs[job_id])

    def list(self, learner_id: str | None = None) -> list[dict[str, Any]]:
        return [dict(j) for j in reversed(self.jobs.values()) if learner_id in (None, j["learner_id"])]

    def cancel(self, job_id: str) -> dict[str, Any]:
        self.jobs[job_id].update(status="cancelled", error="cancelled")
        return dict(self.jobs[job_id])


def fake_llm(replies: Iterable[str] = ("Happy to chat! Learning is fun.",)) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=itertools.cycle(list(replies)))


RULE_TASKS = Tasks(explain=fb.explain, hint=fb.hint, gpt_plan=fb.gpt_plan)


@dataclass
class Rig:
    """A graph over fakes on a temporary data dir; ``reopen()`` rebuilds it on the same files."""

    data_dir: Path
    llm: Any = None
    retriever: Any = None
    kernels: Any = None
    grader: Any = None
    jobs: Any = None
    tasks: Tasks = field(default_factory=lambda: RULE_TASKS)
    tool_calling: bool = False
    store: Any = None
    conv: Any = None
    savers: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.llm = self.llm or fake_llm()
        self.retriever = self.retriever or FakeRetriever()
        self.kernels = self.kernels or FakeKernels()
        self.grader = self.grader or FakeGrader(EXERCISES)
        self.jobs = self.jobs or FakeJobs()
        self.reopen()

    def reopen(self) -> Conversations:
        self.store = Store(f"sqlite:///{self.data_dir / 'tutor.db'}")
        saver = sqlite_checkpointer(self.data_dir / "checkpoints.sqlite")
        self.savers.append(saver)
        catalog = load_catalog()
        graph = build_graph(
            self.llm,
            self.retriever,
            self.kernels,
            self.grader,
            self.jobs,
            self.store,
            saver,
            catalog=catalog,
            exercises=EXERCISES,
            learner=LearnerModel(self.store, catalog),
            tasks=self.tasks,
            tool_calling=self.tool_calling,
        )
        self.conv = Conversations(graph, self.store)
        return self.conv

    def close(self) -> None:
        for s in self.savers:
            s.conn.close()
        self.store.close()


def reference_submission(ex: Any) -> str:
    """A passing submission for a real exercise: its trusted reference, bound to the entry name."""
    source = (ex.folder / "reference.py").read_text(encoding="utf-8")
    return f"{source}\n\n{ex.entry} = solution\n"


def real_tutor(data_dir: Path, llm: Any = None) -> Any:
    """The real service on ``data_dir``: sandboxed kernels, grader, exercises, learner model,
    SQLite checkpoints; retrieval over the real notes with a hashing embedder (no model load);
    a scripted chat model and fake training jobs (no worker processes)."""
    from knowledge.embedding import HashingEmbedder
    from knowledge.index import NoteIndex
    from knowledge.retriever import Retriever
    from tutor.config import Settings
    from tutor.llm.fake import FakeChatModel
    from tutor.service import Tutor

    settings = Settings(data_dir=data_dir, kernel_pool_size=0)
    index = NoteIndex(settings.notes_dir, chroma_dir=settings.chroma_dir, embedder=HashingEmbedder())
    index.build()
    return Tutor(settings, llm=llm or FakeChatModel(), retriever=Retriever(index), jobs=FakeJobs())
