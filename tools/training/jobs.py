"""JobManager: submit, watch, cancel and resume training jobs; at most N run at once.

A job's state lives in the store (so the API, the CLI and the UI in other processes see it); the
worker process writes its progress there itself. The manager only starts workers when a slot is
free, notices when they end, and stops them. Statuses: ``queued``, ``running``, ``succeeded``,
``failed``, ``cancelled``, and ``interrupted`` (a crash, a kill or a tutor restart stopped it; it
resumes from its last checkpoint with ``resume``).

Limits: with the local backend, the liveness of another process's worker is judged by its pid,
so managers sharing one database must run on one machine (use the Ray backend otherwise).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tools.training.registry import ModelRegistry
from tools.training.runner import REPO_ROOT, Exit, LocalRunner, Runner, is_worker, killpg
from tools.training.spec import validate_job
from tutor.errors import BadInput, Conflict, NotFound

logger = logging.getLogger(__name__)

ACTIVE = ("queued", "running")
FINISHED = ("succeeded", "failed", "cancelled", "interrupted")
RESUMABLE = ("interrupted", "failed", "cancelled")
STALE_AFTER_S = 30.0  # a "running" row with no worker pid this long after its last update is stale


class JobManager:
    """Training jobs of the tutor (see the module docstring)."""

    def __init__(
        self,
        store: Any,
        runs_dir: str | Path,
        models_dir: str | Path,
        bundled_models_dir: str | Path,
        *,
        backend: str = "local",
        ray_address: str | None = None,
        max_concurrent: int = 1,
        notes_dir: str | Path | None = None,
        data_roots: Sequence[str | Path] | None = None,
        stop_grace_s: float = 8.0,
        poll_s: float = 0.5,
        runner: Runner | None = None,
        activate_hook: str | None = None,
        standby: bool = False,
    ) -> None:
        if max_concurrent < 1:
            raise BadInput(f"max_concurrent must be >= 1, got {max_concurrent}")
        self.store = store
        self.runs_dir = Path(runs_dir)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.models_dir = Path(models_dir)
        self.bundled_models_dir = Path(bundled_models_dir)
        self.registry = ModelRegistry(store, models_dir, bundled_models_dir)
        self.notes_dir = Path(notes_dir) if notes_dir else REPO_ROOT / "knowledge" / "notes"
        self.data_roots = data_roots
        self.max_concurrent = max_concurrent
        self.stop_grace_s, self.poll_s = stop_grace_s, poll_s
        self.backend = backend
        # "module:function" a worker calls to activate a job's model when asked (``activate``):
        # the quality gate lives above this package (tutor.llm.gate), so the tutor names it here
        # and the worker imports it by name; without one, activation is refused (see worker.py)
        self.activate_hook = activate_hook
        if runner is not None:
            self.runner: Runner = runner
        elif backend == "local":
            # standby: a worker kept started with its imports done, so a job starts at once
            self.runner = LocalRunner(standby=standby)
        elif backend == "ray":
            if not ray_address:
                raise BadInput(
                    "jobs backend 'ray' needs a cluster address: set TUTOR_RAY_ADDRESS (http://HOST:8265)"
                )
            from tools.training.ray_backend import RayRunner

            self.runner = RayRunner(ray_address)
        else:
            raise BadInput(f"unknown jobs backend {backend!r}; expected 'local' or 'ray'")
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._closed = False
        self._cancelling: set[str] = set()
        self._recover()
        self._last_foreign_check = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="job-manager", daemon=True)
        self._thread.start()

    # --- public API ---
    def submit(self, kind: str, params: dict[str, Any], learner_id: str | None = None) -> dict[str, Any]:
        """Validate and queue a job (ValueError when refused); returns the job."""
        if self._closed:
            raise RuntimeError("the job manager is closed; start a new one")
        # several jobs at once share the cores instead of oversubscribing them (which makes torch's
        # OpenMP threads many times slower); one job at a time uses train_gpt's default
        threads = None if self.max_concurrent == 1 else max(1, (os.cpu_count() or 1) // self.max_concurrent)
        spec = validate_job(
            kind,
            params,
            registry=self.registry,
            notes_dir=self.notes_dir,
            data_roots=self.data_roots,
            threads=threads,
        )
        job_id = f"{kind}-{uuid.uuid4().hex[:10]}"
        run_dir = self.runs_dir / job_id
        run_dir.mkdir(parents=True)
        plumbing = {
            "job_id": job_id,
            "db_url": self.store.engine.url.render_as_string(hide_password=False),
            "models_dir": str(self.models_dir.resolve()),
            "bundled_models_dir": str(self.bundled_models_dir.resolve()),
            "run_dir": str(run_dir.resolve()),
            "activate_hook": self.activate_hook,
        }
        spec_path = run_dir / "spec.json"
        spec_path.write_text(json.dumps({**spec, **plumbing}, indent=1))
        spec_path.chmod(0o600)  # the database URL may carry a password
        self.store.create_job(job_id, kind, spec["params"], learner_id=learner_id)
        logger.info("job %s queued (%s)", job_id, kind)
        self._wake.set()
        return self.get(job_id)

    def get(self, job_id: str) -> dict[str, Any]:
        job = self.store.get_job(job_id)
        if job is None:
            raise NotFound(f"job {job_id!r} not found; `tutor jobs` lists the jobs")
        return job

    def list(self, learner_id: str | None = None) -> list[dict[str, Any]]:
        return list(self.store.list_jobs(learner_id))

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Stop a job (within ``stop_grace_s`` + a few seconds) and mark it cancelled."""
        job = self.get(job_id)
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        if self.store.transition_job(job_id, ("queued", "interrupted"), "cancelled", error="cancelled"):
            return self.get(job_id)
        with self._lock:
            mine = self.runner.owns(job_id)
            if mine:
                self._cancelling.add(job_id)
        if mine:
            self._stop([job_id])
        elif self.backend == "local":
            self._stop_foreign(job)
        self.store.transition_job(job_id, ("running", "interrupted"), "cancelled", error="cancelled")
        logger.info("job %s cancelled", job_id)
        return self.get(job_id)

    def resume(self, job_id: str) -> dict[str, Any]:
        """Queue an interrupted (or failed, or cancelled) job again; it continues from its checkpoint.

        ``NotFound`` for an unknown job; ``Conflict`` (409) when the job's state forbids it: still
        queued or running, succeeded, its run dir gone, or another caller resumed it first. The
        request was well formed, the job is just not in a state to resume (``BadInput`` would
        blame the caller)."""
        job = self.get(job_id)
        if job["status"] not in RESUMABLE:
            raise Conflict(
                f"job {job_id} is {job['status']}; only {', '.join(RESUMABLE)} jobs can be resumed"
            )
        if not (self.runs_dir / job_id / "spec.json").exists():
            raise Conflict(f"job {job_id} has no run dir under {self.runs_dir}; submit it again")
        if not self.store.transition_job(job_id, RESUMABLE, "queued", error=None, pid=None):
            now = self.get(job_id)["status"]
            raise Conflict(f"job {job_id} changed to {now} meanwhile; it was not resumed")
        logger.info("job %s queued to resume", job_id)
        self._wake.set()
        return self.get(job_id)

    def wait(self, job_id: str, timeout_s: float | None = None, poll_s: float = 0.25) -> dict[str, Any]:
        """Block until the job has finished (or ``timeout_s`` passed); returns the job."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            job = self.get(job_id)
            if job["status"] in FINISHED or (deadline is not None and time.monotonic() >= deadline):
                return job
            time.sleep(poll_s)

    def loss_curve(self, job_id: str) -> bytes:
        """PNG of the job's loss curve so far (live while it runs)."""
        from tools.training.plots import loss_curve_png

        job = self.get(job_id)
        return loss_curve_png(job["metrics"].get("history", []), title=f"job {job_id} ({job['status']})")

    def run_dir(self, job_id: str) -> Path:
        self.get(job_id)
        return self.runs_dir / job_id

    def close(self) -> None:
        """Stop the scheduler and the workers it started; their jobs become ``interrupted``."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake.set()
        self._thread.join(timeout=10)
        self._stop(self.runner.owned())
        close = getattr(self.runner, "close", None)
        if close is not None:
            close()

    def warm(self) -> bool:
        """Whether a standby worker waits with its imports done (local runner with ``standby``)."""
        warm = getattr(self.runner, "warm", None)
        with self._lock:
            return bool(warm()) if warm is not None else False

    # --- internals ---
    def _stop(self, job_ids: Sequence[str]) -> None:
        """SIGTERM (or Ray stop), wait ``stop_grace_s``, then kill; returns when all are reaped."""
        for job_id in job_ids:
            with self._lock:
                if self.runner.owns(job_id):
                    self.runner.signal_stop(job_id)
        deadline = time.monotonic() + self.stop_grace_s
        forced = False
        pending = set(job_ids)
        while pending:
            for job_id in list(pending):
                with self._lock:
                    if not self.runner.owns(job_id):  # reaped by the scheduler thread meanwhile
                        pending.discard(job_id)
                        continue
                    ex = self.runner.poll(job_id)
                    if ex is not None:
                        self._finished(job_id, ex)
                        pending.discard(job_id)
            if pending and not forced and time.monotonic() > deadline:
                logger.warning(
                    "jobs %s did not stop within %.0f s; killing them", sorted(pending), self.stop_grace_s
                )
                for job_id in pending:
                    self.runner.force_stop(job_id)
                forced = True
            if pending:
                time.sleep(0.1)

    def _stop_foreign(self, job: dict[str, Any]) -> None:
        """Stop a worker started by another process (e.g. the server, cancelled from the CLI)."""
        pid, run_dir = job.get("pid"), (self.runs_dir / job["job_id"]).resolve()
        if not is_worker(pid, run_dir):
            return
        assert pid is not None
        killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace_s
        while is_worker(pid, run_dir):
            if time.monotonic() > deadline:
                killpg(pid, signal.SIGKILL)
                deadline = float("inf")
            time.sleep(0.1)

    def _finished(self, job_id: str, ex: Exit) -> None:
        """Record how a worker we started ended (called with the lock held)."""
        self.runner.forget(job_id)
        if job_id in self._cancelling:
            self._cancelling.discard(job_id)
            self.store.transition_job(job_id, ("running", "interrupted"), "cancelled", error="cancelled")
            return
        # the worker writes its own final status; still "running" means it died without a word
        msg = (
            f"{ex.detail}; the job was interrupted before it finished"
            " - resume it to continue from its last checkpoint"
        )
        if self.store.transition_job(job_id, ("running",), "interrupted", error=msg):
            logger.warning("job %s: %s", job_id, msg)

    def _recover(self) -> None:
        """After a restart: re-attach to or mark interrupted the jobs left "running"."""
        for job in self.store.list_jobs():
            if job["status"] != "running":
                continue
            run_dir = (self.runs_dir / job["job_id"]).resolve()
            if self.runner.adopt(job["job_id"], run_dir):
                logger.info("re-attached to job %s", job["job_id"])
            elif self.backend == "local":
                self._mark_if_stale(job)
            else:
                self.store.transition_job(
                    job["job_id"],
                    ("running",),
                    "interrupted",
                    error="the tutor restarted and the cluster no longer knows this job; resume it",
                )

    def _mark_if_stale(self, job: dict[str, Any]) -> None:
        run_dir = (self.runs_dir / job["job_id"]).resolve()
        if self.runner.owns(job["job_id"]) or is_worker(job.get("pid"), run_dir):
            return
        if job.get("pid") is None and _age_s(job["updated"]) < STALE_AFTER_S:
            return  # another manager has just claimed it and is starting its worker
        self.store.transition_job(
            job["job_id"],
            ("running",),
            "interrupted",
            error="its worker is gone (the tutor stopped or crashed while it ran); resume it to continue",
        )

    def _loop(self) -> None:
        while not self._closed:
            try:
                self._tick()
            except Exception:  # keep scheduling; a broken database shows up in every request anyway
                logger.exception("job scheduler tick failed")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _tick(self) -> None:
        with self._lock:
            for job_id in self.runner.owned():
                ex = self.runner.poll(job_id)
                if ex is not None:
                    self._finished(job_id, ex)
            if self.backend == "local" and time.monotonic() - self._last_foreign_check > 5.0:
                self._last_foreign_check = time.monotonic()
                for job in self.store.list_jobs():
                    if job["status"] == "running":
                        self._mark_if_stale(job)
            if self._closed:
                return
            jobs = self.store.list_jobs()
            free = self.max_concurrent - sum(j["status"] == "running" for j in jobs)
            queued = sorted(
                (j for j in jobs if j["status"] == "queued"), key=lambda j: (j["created"], j["job_id"])
            )
            for job in queued[: max(free, 0)]:
                self._start(job["job_id"])
            keep_warm = getattr(self.runner, "keep_warm", None)
            if keep_warm is not None and not self.runner.owned():
                keep_warm()  # only while no job runs: its imports never take a core from one

    def _start(self, job_id: str) -> None:
        if not self.store.transition_job(job_id, ("queued",), "running"):
            return  # another manager took it
        run_dir = (self.runs_dir / job_id).resolve()
        try:
            pid = self.runner.start(job_id, run_dir)
        except Exception as e:
            logger.exception("could not start job %s", job_id)
            self.store.update_job(job_id, status="failed", error=f"could not start its worker: {e}")
            return
        self.store.update_job(job_id, pid=pid)
        logger.info("job %s started (pid %s)", job_id, pid)


def _age_s(iso: str) -> float:
    from datetime import UTC, datetime

    return (datetime.now(UTC) - datetime.fromisoformat(iso)).total_seconds()
