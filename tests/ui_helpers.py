"""Fakes behind a real ``Tutor`` for the UI tests: scripted chat streams (tool steps, tokens,
citations, a plot), a kernel that returns a real PNG, a grader, jobs that progress with time.

``python -m tests.ui_helpers --port 7861`` serves the UI with these fakes (for screenshots and
for poking at the layout without the model, index or sandbox).
"""

from __future__ import annotations

import base64
import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tutor.agent.nodes import NoCards
from tutor.config import Settings
from tutor.errors import BadInput, Conflict, Forbidden, NotFound
from tutor.service import Tutor

CITATION = {"topic_id": "m1.numpy", "source": "knowledge/notes/m1.numpy.md#broadcasting-rules"}


def png_b64(color: str = "tab:blue") -> str:
    """A small real plot as base64 PNG (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2), dpi=60)
    ax.plot([0, 1, 2, 3], [0, 1, 0, 1], color=color)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


class Result(dict):  # a dict with to_dict(), like RunResult / GradeReport
    def to_dict(self) -> dict[str, Any]:
        return dict(self)


class FakeKernels:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []
        self.resets: list[str] = []

    def execute(self, code: str, session_id: str | None = None, timeout_s: float | None = None) -> Result:
        self.calls.append((code, session_id))
        if "raise" in code:
            tb = "Traceback (most recent call last):\n  Cell In[1], line 1\nValueError: boom"
            return Result(
                status="error",
                stdout="",
                stderr="",
                outputs=[],
                duration_s=0.01,
                error={"name": "ValueError", "message": "boom", "traceback": tb},
                notices=[],
            )
        outputs = [{"mime_type": "image/png", "data": png_b64()}] if "plt" in code else []
        outputs.append({"mime_type": "text/html", "data": "<script>alert(1)</script>"})  # must never show
        return Result(
            status="ok",
            stdout="<b>hello</b>\n",
            stderr="",
            outputs=outputs,
            error=None,
            duration_s=0.02,
            notices=[],
        )

    def reset(self, session_id: str) -> None:
        self.resets.append(session_id)

    def close(self) -> None: ...


class FakeGrader:
    def grade(self, exercise_id: str, code: str) -> Result:
        passed = "return" in code
        tests = [
            {
                "name": "returns the mean",
                "passed": passed,
                "hidden": False,
                "message": "" if passed else "expected 2.0, got <None>",
            },
            {"name": "hidden edge case", "passed": passed, "hidden": True, "message": ""},
        ]
        return Result(
            exercise_id=exercise_id,
            passed=passed,
            score=1.0 if passed else 0.0,
            tests=tests,
            feedback="Well done." if passed else "Two tests fail.",
            status="ok",
            duration_s=0.1,
            hint="" if passed else "Use np.mean and return the value.",
        )


class FakeExercise:
    def __init__(self, id: str, topic_id: str) -> None:
        self.id, self.topic_id, self.title = id, topic_id, id.replace("-", " ").title()

    def to_public_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "topic_id": self.topic_id,
            "title": self.title,
            "statement": "Write `mean(xs)` that returns the mean of `xs`. Maths: $\\bar x = \\frac{1}{n}\\sum x_i$.",
            "starter_code": "import numpy as np\n\ndef mean(xs):\n    ...\n",
            "public_tests": [{"name": "small", "code": "assert mean([1, 2, 3]) == 2.0"}],
        }


class FakeLearnerModel:
    def __init__(self, store: Any) -> None:
        self.store = store

    def record_attempt(
        self, learner_id: str, exercise_id: str, topic_id: str, passed: bool, score: float,
        details: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        self.store.add_attempt(learner_id, exercise_id, topic_id, passed, score, details)
        self.store.set_mastery(learner_id, topic_id, 0.9 if passed else 0.3)

    def progress(self, learner_id: str) -> dict[str, Any]:
        return {
            "learner_id": learner_id,
            "mastery": self.store.get_mastery(learner_id),
            "attempts": self.store.attempts(learner_id),
            "due_reviews": ["m1.numpy"],
        }

    def due_reviews(self, learner_id: str) -> list[str]:
        return ["m1.numpy"]


class FakeConversations:
    """Replies "echo ..." word by word after a search tool step; a message with "plot" also runs
    code (a tool step with a PNG output). ``delay_s`` slows tokens so Stop can be tested."""

    def __init__(self, store: Any, delay_s: float = 0.0) -> None:
        self.store = store
        self.delay_s = delay_s
        self.closed: list[str] = []  # thread ids whose stream was closed before it finished
        self.messages: dict[str, list[dict[str, str]]] = {}
        self._n = 0
        self._lock = threading.Lock()

    def _open(self, learner_id: str, message: str, thread_id: str | None) -> str:
        if not message.strip():
            raise BadInput("message is empty; ask a question or paste code")
        with self._lock:
            self._n += 1
            tid = thread_id or f"t-{learner_id}-{self._n}"
        owner = self.store.thread_owner(tid)
        if owner is None:
            self.store.add_thread(tid, learner_id, message[:40])
        elif owner != learner_id:
            raise Forbidden(f"thread {tid!r} belongs to another learner")
        return tid

    def _reply(self, learner_id: str, message: str) -> str:
        return f"echo for {learner_id}: {message} (see knowledge/notes/m1.numpy.md#broadcasting-rules)"

    def chat(self, learner_id: str, message: str, thread_id: str | None = None) -> dict[str, Any]:
        tid = self._open(learner_id, message, thread_id)
        reply = self._reply(learner_id, message)
        self.messages.setdefault(tid, []).extend(
            [{"role": "user", "content": message}, {"role": "assistant", "content": reply}]
        )
        return {"thread_id": tid, "reply": reply, "citations": [CITATION], "tool_calls": []}

    def stream(self, learner_id: str, message: str, thread_id: str | None = None) -> Iterator[dict[str, Any]]:
        tid = self._open(learner_id, message, thread_id)
        finished = False
        try:
            yield {
                "event": "tool",
                "data": {"name": "search_notes", "args": {"query": message}, "status": "ok"},
            }
            if "plot" in message:
                yield {
                    "event": "tool",
                    "data": {
                        "name": "run_code",
                        "args": {"code": "plt.plot([1, 2])"},
                        "status": "ok",
                        "outputs": [{"mime_type": "image/png", "data": png_b64("tab:red")}],
                    },
                }
            reply = self._reply(learner_id, message)
            for word in reply.split(" "):
                if self.delay_s:
                    time.sleep(self.delay_s)
                yield {"event": "token", "data": word + " "}
            self.messages.setdefault(tid, []).extend(
                [{"role": "user", "content": message}, {"role": "assistant", "content": reply}]
            )
            finished = True
            yield {
                "event": "done",
                "data": {"thread_id": tid, "reply": reply, "citations": [CITATION], "tool_calls": []},
            }
        finally:
            if not finished:
                self.closed.append(tid)

    def thread(self, thread_id: str) -> dict[str, Any]:
        owner = self.store.thread_owner(thread_id)
        if owner is None:
            raise NotFound(f"thread {thread_id!r} not found")
        return {"thread_id": thread_id, "learner_id": owner, "messages": self.messages.get(thread_id, [])}


class FakeJobs:
    """Jobs whose progress grows with wall time (``seconds`` to finish); cancel stops them."""

    def __init__(self, seconds: float = 30.0) -> None:
        self.seconds = seconds
        self.jobs: dict[str, dict[str, Any]] = {}
        self.started: dict[str, float] = {}

    def submit(self, kind: str, params: dict[str, Any], learner_id: str | None = None) -> dict[str, Any]:
        if kind not in ("gpt", "sklearn"):
            raise BadInput(f"unknown job kind {kind!r}; use gpt or sklearn")
        job_id = f"{kind}-{len(self.jobs):04d}"
        self.jobs[job_id] = {
            "job_id": job_id,
            "kind": kind,
            "status": "running",
            "progress": 0.0,
            "metrics": {"history": []},
            "model_id": None,
            "error": None,
            "learner_id": learner_id,
            "params": params,
        }
        self.started[job_id] = time.monotonic()
        return self.get(job_id)

    def get(self, job_id: str) -> dict[str, Any]:
        if job_id not in self.jobs:
            raise NotFound(f"job {job_id!r} not found")
        job = self.jobs[job_id]
        if job["status"] == "running":
            p = min(1.0, (time.monotonic() - self.started[job_id]) / self.seconds)
            steps = int(p * 50)
            job["progress"] = p
            job["metrics"] = {
                "history": [
                    {"step": s, "loss": 4.0 / (1 + s / 10), "val_loss": 4.2 / (1 + s / 10)}
                    for s in range(0, steps + 1, 5)
                ],
                "tokens_per_s": 1234.5,
            }
            if p >= 1.0:
                job.update(status="succeeded", model_id=f"model-{job_id}")
        return dict(job)

    def list(self, learner_id: str | None = None) -> list[dict[str, Any]]:
        return [self.get(j) for j, v in self.jobs.items() if learner_id in (None, v["learner_id"])]

    def cancel(self, job_id: str) -> dict[str, Any]:
        job = self.get(job_id)
        if job["status"] in ("queued", "running"):
            self.jobs[job_id].update(status="cancelled", error="cancelled")
        return self.get(job_id)

    def resume(self, job_id: str) -> dict[str, Any]:
        if self.get(job_id)["status"] not in ("cancelled", "failed", "interrupted"):
            raise Conflict(f"job {job_id} is not resumable")  # as JobManager.resume
        self.jobs[job_id]["status"] = "running"
        self.started[job_id] = time.monotonic() - self.jobs[job_id]["progress"] * self.seconds
        return self.get(job_id)


class FakeGate:
    """The model-switch gate without measuring anything (tutor/llm/gate.py is tested on its own)."""

    def check(self, model_id: str) -> dict[str, Any]:
        return {"model_id": model_id, "against": "tutor-gpt", "figures": None, "current": None,
                "passed": True, "reasons": [], "skipped": "fake gate"}  # fmt: skip


class FakeRegistry:
    def __init__(self) -> None:
        self.active_id = "tutor-gpt"

    def list(self) -> list[dict[str, Any]]:
        return [
            {"id": "tutor-gpt", "path": "models/tutor-gpt", "base": None, "metrics": {"val_loss": 3.21}},
            {"id": "m2", "path": "var/models/m2", "base": "tutor-gpt", "metrics": {}},
        ]

    def active(self) -> str:
        return self.active_id

    def set_active(self, model_id: str) -> None:
        if model_id not in {m["id"] for m in self.list()}:
            raise NotFound(f"model {model_id!r} not found")
        self.active_id = model_id


class FakeRetriever:
    def search(self, q: str, k: int = 5, topic_id: str | None = None, module: str | None = None) -> list[Any]:
        class P:
            def to_dict(self) -> dict[str, Any]:
                return {
                    "topic_id": "m1.numpy",
                    "title": "NumPy",
                    "source": CITATION["source"],
                    "text": q,
                    "score": 1.0,
                }

        return [P() for _ in range(min(k, 3))]


def fake_tutor(data_dir: Path, *, delay_s: float = 0.0, job_seconds: float = 30.0, **settings: Any) -> Tutor:
    s = Settings(data_dir=data_dir, **settings)
    exercises = {"numpy-mean": FakeExercise("numpy-mean", "m1.numpy")}
    tutor = Tutor(
        s,
        kernels=FakeKernels(),
        grader=FakeGrader(),
        jobs=FakeJobs(job_seconds),
        registry=FakeRegistry(),
        gate=FakeGate(),
        cards=NoCards(),
        retriever=FakeRetriever(),
        exercises=exercises,
    )
    tutor.__dict__["learner_model"] = FakeLearnerModel(tutor.store)
    tutor.__dict__["conversations"] = FakeConversations(tutor.store, delay_s=delay_s)
    tutor.__dict__["plan"] = lambda learner_id, hours=3.0, goal=None: _plan(tutor, learner_id, hours)
    return tutor


def _plan(tutor: Tutor, learner_id: str, hours: float) -> dict[str, Any]:
    plan = {
        "learner_id": learner_id,
        "rationale": "start with arrays <fast>",
        "model": "rules",
        "items": [
            {"topic_id": "m1.numpy", "activity": "study", "minutes": 40},
            {"topic_id": "m1.pandas", "activity": "practice", "minutes": int(hours * 60) - 40},
        ],
    }
    tutor.store.save_plan(learner_id, plan)
    return plan


def main() -> None:  # pragma: no cover - a developer's tool
    import argparse
    import tempfile

    import uvicorn

    from app import create_app

    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=7861)
    ap.add_argument("--delay", type=float, default=0.05)
    args = ap.parse_args()
    tutor = fake_tutor(Path(tempfile.mkdtemp()) / "var", delay_s=args.delay)
    uvicorn.run(create_app(tutor.settings, tutor), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":  # pragma: no cover
    main()
