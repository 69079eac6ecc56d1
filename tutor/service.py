"""Tutor: the one object the UI, the HTTP API and the CLI call.

It builds every part from Settings, lazily and once (the embedding model, indexes, kernels and
the chat model load once per process), and translates lower-layer errors into the TutorError
tree so the entry points map them in one place.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator
from functools import cached_property
from typing import Any

from curriculum.catalog import Catalog, load_catalog
from storage.store import Store
from tutor.config import Settings
from tutor.errors import BadInput, Conflict, NotFound, translate_errors
from tutor.usecases import jobs as job_cases
from tutor.usecases import learner_records

log = logging.getLogger(__name__)


class Tutor:
    """Facade over curriculum, knowledge, code tools, training jobs and the agent."""

    def __init__(self, settings: Settings, **overrides: Any) -> None:
        settings.ensure_dirs()
        self.settings = settings
        self._lock = threading.RLock()
        self.readiness: dict[str, str] = {}  # part -> "loading" | "ready" | "failed: ..." (warm_up)
        # tests pass fakes for any part by name (llm, retriever, kernels, grader, jobs, ...)
        for name, value in overrides.items():
            self.__dict__[name] = value

    # --- parts, built once on first use ---
    @cached_property
    def store(self) -> Store:
        store = Store(self.settings.db_url)
        if self.settings.xapi_url:  # learning records also become xAPI statements (tutor/usecases/xapi.py)
            from tutor.usecases.xapi import attach

            attach(store, self)
        return store

    @cached_property
    def xapi(self) -> Any:
        """The background sender of queued xAPI statements (``tutor.usecases.xapi``), or None without
        ``TUTOR_XAPI_URL``; the app starts it (``start_background``)."""
        from tutor.usecases.xapi import make_sender

        return make_sender(self)

    def start_background(self) -> None:
        """Start the background work a served tutor does: sending xAPI statements."""
        if self.xapi is not None:
            self.xapi.start()

    @cached_property
    def catalog(self) -> Catalog:
        return load_catalog()

    @cached_property
    def exercises(self) -> dict[str, Any]:
        from curriculum.exercises import load_exercises

        return load_exercises()

    @cached_property
    def index(self) -> Any:
        from knowledge.index import NoteIndex

        s = self.settings
        return NoteIndex(s.notes_dir, chroma_dir=s.chroma_dir, chroma_url=s.chroma_url)

    @cached_property
    def retriever(self) -> Any:
        from knowledge.retriever import Retriever

        with self._lock:
            if not self.index.is_built():
                log.info("no index yet: building it from %s", self.settings.notes_dir)
                self.index.build()
            return Retriever(self.index)

    @cached_property
    def cards(self) -> Any:
        """The teaching-card index (knowledge/cards), in the notes' Chroma; built when missing."""
        from knowledge.card_index import CardIndex

        # built once (cached_property); embedding the card questions of a fresh data dir takes
        # seconds, so this must not hold the tutor's lock (model switches and index builds wait on it)
        cards = CardIndex(self.index, self.settings.cards_dir)
        cards.build()  # incremental: a no-op when the cards did not change
        return cards

    @cached_property
    def kernels(self) -> Any:
        from tools.kernel import KernelManager

        s = self.settings
        return KernelManager(
            s.kernels_dir / "sessions",
            sandbox=not s.unsafe_no_sandbox,
            default_timeout_s=s.run_timeout_s,
            max_timeout_s=s.max_run_timeout_s,
            memory_mb=s.kernel_memory_mb,
            output_limit_bytes=s.output_limit_bytes,
            pool_size=s.kernel_pool_size,
            idle_s=s.kernel_idle_s,
            max_busy=s.max_busy_kernels,
        )

    @cached_property
    def grader(self) -> Any:
        from tools.grader import Grader

        s = self.settings
        return Grader(
            self.exercises,
            s.kernels_dir / "grading",
            sandbox=not s.unsafe_no_sandbox,
            memory_mb=s.kernel_memory_mb,
            max_busy=s.max_busy_kernels,
        )

    @cached_property
    def registry(self) -> Any:
        from tools.training.registry import ModelRegistry

        s = self.settings
        return ModelRegistry(self.store, s.models_dir, s.bundled_models_dir)

    @cached_property
    def jobs(self) -> Any:
        from tools.training.jobs import JobManager

        s = self.settings
        return JobManager(
            self.store,
            s.runs_dir,
            s.models_dir,
            s.bundled_models_dir,
            backend=s.jobs_backend,
            ray_address=s.ray_address,
            max_concurrent=s.max_concurrent_jobs,
            standby=s.job_standby,
            activate_hook="tutor.llm.gate:activate_if_better",  # a finished job's "activate"
            notes_dir=s.notes_dir,
            # the one place the rule lives, for every caller (HTTP, UI, chat, agent tools, CLI):
            # training text comes only from the datasets folder or the notes
            data_roots=[s.datasets_dir, s.notes_dir],
        )

    @cached_property
    def practice(self) -> Any:
        """Practice items: listing, next item, answers (``tutor.usecases.practice``)."""
        from tutor.usecases.practice import build_practice

        return build_practice(self)

    @cached_property
    def labs(self) -> Any:
        """Guided labs: list, notebooks, step checks, submissions (``tutor.usecases.labs``)."""
        from tutor.usecases.labs import LabService

        return LabService(self)

    @cached_property
    def materials(self) -> Any:
        """Teachers' own material: add, list, show, remove, search (``tutor.usecases.materials``)."""
        from tutor.usecases.materials import MaterialService

        return MaterialService(self)

    @cached_property
    def learner_model(self) -> Any:
        from curriculum.learner import LearnerModel

        return LearnerModel(self.store, self.catalog)

    @cached_property
    def llm(self) -> Any:
        from tutor.llm import make_chat_model

        s = self.settings
        model_dir = s.llm_model_dir
        if model_dir is None and s.llm_backend == "local":
            model_dir = self.registry.get(self.registry.active())["path"]
        return make_chat_model(
            s.llm_backend,
            model_dir=model_dir,
            base_url=s.llm_base_url,
            model=s.llm_model,
            api_key=s.llm_api_key,
            device=s.llm_device,
            max_new_tokens=s.llm_max_new_tokens,
        )

    @cached_property
    def checkpointer(self) -> Any:
        from tutor.agent.checkpoint import make_checkpointer

        return make_checkpointer(self.settings)

    @cached_property
    def conversations(self) -> Any:
        from tutor.agent.graph import build_graph
        from tutor.agent.threads import Conversations
        from tutor.llm import supports_tools

        graph = build_graph(
            self.llm,
            self.retriever,
            self.kernels,
            self.grader,
            self.jobs,
            self.store,
            self.checkpointer,
            catalog=self.catalog,
            exercises=self.exercises,
            learner=self.learner_model,
            cards=self.cards,
            practice=self.practice,
            labs=self.labs,
            materials=self.materials.search,
            # native tool calling only where a bigger backend really has it; the local GPT uses
            # the structured paths (intent classifier + nodes)
            tool_calling=self.settings.llm_backend == "openai" and supports_tools(self.llm),
        )
        return Conversations(graph, self.store)

    # --- curriculum and knowledge ---
    def curriculum(self) -> dict[str, Any]:
        return self.catalog.to_api()

    def build_index(self, rebuild: bool = False, progress: bool = False) -> dict[str, Any]:
        with translate_errors(), self._lock:
            summary = self.index.build(rebuild=rebuild, progress=progress)
            self.__dict__.pop("retriever", None)  # reload BM25 over the new chunks
            from knowledge.card_index import CardIndex

            cards = CardIndex(self.index, self.settings.cards_dir).build(rebuild=rebuild)
            self.__dict__.pop("cards", None)
        out = {k: getattr(summary, k) for k in ("chunks", "added", "removed", "seconds")}
        out["card_entries"] = cards["cards"]
        return out

    def search(
        self, query: str, k: int = 5, topic_id: str | None = None, module: str | None = None
    ) -> list[dict[str, Any]]:
        with translate_errors():
            return [p.to_dict() for p in self.retriever.search(query, k=k, topic_id=topic_id, module=module)]

    # --- exercises, runs and grades ---
    def list_exercises(self) -> list[dict[str, Any]]:
        with translate_errors():
            return [{"id": e.id, "topic_id": e.topic_id, "title": e.title} for e in self.exercises.values()]

    def exercise(self, exercise_id: str) -> dict[str, Any]:
        from curriculum.exercises import get_exercise

        with translate_errors():
            return dict(get_exercise(self.exercises, exercise_id).to_public_dict())

    def run(self, code: str, session_id: str | None = None, timeout_s: float | None = None) -> dict[str, Any]:
        self._check_code(code)
        with translate_errors():
            return dict(self.kernels.execute(code, session_id=session_id, timeout_s=timeout_s).to_dict())

    def reset_session(self, session_id: str) -> None:
        with translate_errors():
            self.kernels.reset(session_id)

    def grade(self, exercise_id: str, code: str, learner_id: str | None = None) -> dict[str, Any]:
        from curriculum.exercises import get_exercise

        self._check_code(code)
        with translate_errors():
            ex = get_exercise(self.exercises, exercise_id)
            report = self.grader.grade(ex.id, code).to_dict()
            if learner_id:
                from curriculum.learner import tests_summary

                self.learner_model.record_attempt(
                    learner_id, ex.id, ex.topic_id, report["passed"], report["score"],
                    details=tests_summary(report.get("tests")),
                )  # fmt: skip
            return dict(report)

    def _check_code(self, code: str) -> None:
        if not code.strip():
            raise BadInput("code is empty; send the Python source to run")
        if len(code) > self.settings.max_code_chars:
            raise BadInput(f"code is {len(code)} characters; the limit is {self.settings.max_code_chars}")

    # --- learners: progress and plans ---
    def progress(self, learner_id: str) -> dict[str, Any]:
        with translate_errors():
            return dict(self.learner_model.progress(learner_id))

    def plan(self, learner_id: str, hours: float = 3.0, goal: str | None = None) -> dict[str, Any]:
        """The learner's new plan: the same use case as the chat's (``tutor.usecases.planning``), with the
        graph's model task; ``model`` says who wrote it ("rules": the planner), ``constraint``
        what the decoder was held to."""
        from tutor.usecases.planning import make_plan

        with translate_errors():
            return make_plan(
                self.llm,
                self.retriever,
                self.store,
                self.catalog,
                self.learner_model,
                learner_id,
                hours,
                goal,
                labs=self.labs.open_by_topic(learner_id),
            )

    def saved_plan(self, learner_id: str) -> dict[str, Any]:
        plan = learner_records.saved_plan(self.store, learner_id)
        if plan is None:
            raise NotFound(
                f"learner {learner_id!r} has no plan yet; make one with POST /api/learners/{{id}}/plan"
            )
        return plan

    def explain(
        self, question: str, learner_id: str | None = None, topic_id: str | None = None
    ) -> dict[str, Any]:
        """The chat's explain use case without a thread (``tutor.usecases.explain``): the best
        teaching card, else whole note paragraphs, pitched at ``learner_id``'s mastery.
        ``{"reply", "topic_id", "citations", "kind", "card_id"}``; used by MCP."""
        from tutor.usecases.explain import Explainer, Learner

        self._check_message(question)
        topics = self.catalog.topics
        with translate_errors():
            explainer = Explainer(
                self.cards,
                self.retriever,
                lambda t: topics[t].title if t in topics else str(t),
                lambda t: list(topics[t].prerequisites) if t in topics else [],
                materials=self.materials.search,
            )
            mastery = learner_records.mastery(self.store, learner_id) if learner_id else {}
            a = explainer.answer(question, Learner(mastery), topic_id=topic_id)
            return {"reply": a.text, "topic_id": a.topic_id, "kind": a.kind, "card_id": a.card_id,
                    "citations": [c.to_dict() for c in a.citations]}  # fmt: skip

    # --- chat ---
    def _check_message(self, message: str) -> None:
        if not message or not message.strip():
            raise BadInput("message is empty; ask a question or paste code")
        if len(message) > self.settings.max_message_chars:
            raise BadInput(
                f"message is {len(message)} characters; the limit is {self.settings.max_message_chars}"
            )

    def chat(self, learner_id: str, message: str, thread_id: str | None = None) -> dict[str, Any]:
        self._check_message(message)
        with translate_errors():
            return dict(self.conversations.chat(learner_id, message, thread_id=thread_id))

    def chat_stream(
        self, learner_id: str, message: str, thread_id: str | None = None
    ) -> Generator[dict[str, Any], None, None]:
        self._check_message(message)
        with translate_errors():
            yield from self.conversations.stream(learner_id, message, thread_id=thread_id)

    def thread(self, thread_id: str) -> dict[str, Any]:
        with translate_errors():
            return dict(self.conversations.thread(thread_id))

    def threads(self, learner_id: str) -> list[dict[str, Any]]:
        return learner_records.threads(self.store, learner_id)

    # --- training jobs and models ---
    # ``learner_id``: the caller's learner (a learner's key), who may see and act on its own and
    # ownerless jobs only (Forbidden otherwise); None (an admin or teacher, the CLI): any job.
    # The rule is ``tutor.usecases.jobs``'s.
    def submit_job(self, kind: str, params: dict[str, Any], learner_id: str | None = None) -> dict[str, Any]:
        with translate_errors():
            return job_cases.submit(self.jobs, kind, params, learner_id)

    def job(self, job_id: str, learner_id: str | None = None) -> dict[str, Any]:
        with translate_errors():
            return job_cases.get(self.jobs, job_id, learner_id)

    def list_jobs(self, learner_id: str | None = None) -> list[dict[str, Any]]:
        with translate_errors():
            return job_cases.list_jobs(self.jobs, learner_id)

    def cancel_job(self, job_id: str, learner_id: str | None = None) -> dict[str, Any]:
        with translate_errors():
            return job_cases.cancel(self.jobs, job_id, learner_id)

    def resume_job(self, job_id: str, learner_id: str | None = None) -> dict[str, Any]:
        with translate_errors():
            return job_cases.resume(self.jobs, job_id, learner_id)

    def models(self) -> list[dict[str, Any]]:
        with translate_errors():
            active = self.registry.active()
            return [{**m, "active": m["id"] == active} for m in self.registry.list()]

    @cached_property
    def gate(self) -> Any:
        """The quality gate on model switches (``tutor.llm.gate``); leaks graded in the sandbox."""
        from tutor.llm.gate import ModelGate

        return ModelGate(
            self.store,
            self.registry,
            catalog=self.catalog,
            exercises=self.exercises,
            grade=lambda exercise_id, code: bool(self.grader.grade(exercise_id, code).passed),
        )

    def use_model(self, model_id: str, force: bool = False) -> dict[str, Any]:
        """Switch the chat model at run time: the next turn uses it, no restart. The gate first
        measures it against the active model (figures cached per model); a worse model is refused
        with the figures (Conflict, ``details`` = the gate's result) unless ``force``."""
        from tutor.llm.gate import refusal_message

        with translate_errors():
            result = self.gate.check(model_id)  # outside the lock: the first measure takes seconds
        if not result["passed"] and not force:
            err = Conflict(refusal_message(result))
            err.details = result
            raise err
        with translate_errors(), self._lock:
            self.registry.set_active(model_id)
            for name in ("llm", "conversations"):
                self.__dict__.pop(name, None)
            return {"active": model_id, "gate": result, "forced": bool(force and not result["passed"])}

    def warm_up(self) -> None:
        """Load what the first request would otherwise wait for (index, embedder, BM25, intent
        classifier, chat model, kernel pool). Failures are logged; requests then report them."""
        from tutor.agent.intent import get_classifier

        steps: list[tuple[str, Callable[[], object]]] = [
            ("embedding model and notes index", lambda: self.retriever.search("warm up", k=1)),
            ("teaching cards", lambda: self.cards.search("warm up", k=1)),
            ("intent classifier", get_classifier),
            ("chat model and graph", lambda: (self.llm, self.conversations)),
            ("kernel pool", self._wait_for_kernels),
        ]
        for name, _ in steps:
            self.readiness.setdefault(name, "loading")
        for name, load in steps:
            try:
                load()
                self.readiness[name] = "ready"
            except Exception as e:  # noqa: BLE001 - warm-up is best effort; /readyz shows it
                log.warning("warm-up of %s failed: %s", name, e)
                self.readiness[name] = f"failed: {e}"

    def _wait_for_kernels(self, timeout_s: float = 120.0) -> None:
        """The kernel pool has a kernel ready (or code execution is unavailable here, which the
        code tools report themselves)."""
        import time

        kernels = self.kernels
        if not getattr(kernels, "available", False) or getattr(kernels, "pool_size", 0) == 0:
            return
        deadline = time.monotonic() + timeout_s
        while kernels.stats().get("pool", 0) < 1:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no kernel started within {timeout_s:.0f}s")
            time.sleep(0.2)

    def ready(self) -> tuple[bool, dict[str, str]]:
        """(all parts loaded, each part's state) for /readyz; failed parts count as not ready."""
        parts = dict(self.readiness)
        return bool(parts) and all(v == "ready" for v in parts.values()), parts

    def close(self) -> None:
        for name in ("xapi", "kernels", "grader", "jobs"):
            part = self.__dict__.get(name)
            if part is not None and hasattr(part, "close"):
                try:
                    part.close()
                except Exception:  # closing must not stop the others from closing
                    log.exception("closing %s failed", name)
        if "checkpointer" in self.__dict__:
            from tutor.agent.checkpoint import close_checkpointer

            close_checkpointer(self.checkpointer)
        if "store" in self.__dict__:
            self.store.close()
