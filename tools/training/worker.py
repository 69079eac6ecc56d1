"""The process that runs one job: ``python -m tools.training.worker <run_dir>``.

It reads ``<run_dir>/spec.json`` (written by the JobManager), writes progress, metrics, a log
tail and the final status to the store (``Store(db_url)``; SQLite in WAL mode takes a writer
process next to the web process), and logs to ``<run_dir>/worker.log``.

Stopping: SIGTERM or SIGINT (a cancel, a tutor shutdown, ``ray job stop``) or the parent process
going away (a crashed tutor) make the job stop at the next step, leave a checkpoint, and end with
status ``interrupted``; the manager turns that into ``cancelled`` when it was a cancel. A run dir
with a checkpoint is always resumed from it, so ``JobManager.resume`` only has to start this again.

Standby (``--standby``, started by ``LocalRunner`` when no job runs): do the imports a job needs
first, print ``ready``, then read the run dir from stdin and run that job as above, with stdout
and stderr going to its ``output.log``. End of stdin before a run dir (its tutor exited): exit 0.

Exit codes: 0 succeeded, 3 stopped (interrupted), 1 failed.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from tools.training.openmp import use_training_openmp
from tools.training.runner import READY

logger = logging.getLogger("tools.training.worker")

EXIT_OK, EXIT_FAILED, EXIT_STOPPED = 0, 1, 3
WRITE_EVERY_S = 1.0  # progress writes to the store at most this often (evaluations always)


class _Tail(logging.Handler):
    """Keeps the last lines of the log for the job's ``logs_tail``."""

    def __init__(self, lines: int = 40) -> None:
        super().__init__()
        self.lines: collections.deque[str] = collections.deque(maxlen=lines)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def text(self) -> str:
        return "\n".join(self.lines)


class Worker:
    def __init__(self, run_dir: Path) -> None:
        from storage.store import Store
        from tools.training.registry import ModelRegistry

        self.run_dir = run_dir
        self.job: dict[str, Any] = json.loads((run_dir / "spec.json").read_text())
        self.job_id = self.job["job_id"]
        self.store = Store(self.job["db_url"])
        self.registry = ModelRegistry(self.store, self.job["models_dir"], self.job["bundled_models_dir"])
        self.stop = threading.Event()
        self.stop_reason = ""
        self.tail = _Tail()
        self._last_write = 0.0
        row = self.store.get_job(self.job_id) or {}
        self.history: list[dict[str, Any]] = list((row.get("metrics") or {}).get("history") or [])
        self.metrics: dict[str, Any] = {}

    # --- stopping ---
    def request_stop(self, reason: str) -> None:
        if not self.stop.is_set():
            self.stop_reason = reason
            logger.info("stopping: %s", reason)
            self.stop.set()

    def watch_parent(self) -> None:
        parent = os.getppid()

        def loop() -> None:
            while not self.stop.wait(0.5):
                if os.getppid() != parent:
                    self.request_stop("the process that started this job exited")
                    return

        threading.Thread(target=loop, daemon=True, name="parent-watch").start()

    # --- progress ---
    def on_progress(self, event: dict[str, Any]) -> None:
        """Called by the job kind: gpt gives one history record, sklearn the whole metrics."""
        if "metrics" in event:  # sklearn: fold results so far
            self.metrics = event["metrics"]
            self.history = list(self.metrics.get("history", []))
        else:
            record = {k: v for k, v in event.items() if k != "progress" and v is not None}
            # after a resume, steps redone since the checkpoint replace the ones logged before
            self.history = [h for h in self.history if h["step"] < record["step"]] + [record]
            self.metrics = {"history": self.history, "step": record["step"], "loss": record.get("loss")}
            for key in ("val_loss", "tokens_per_s"):
                last = next((h[key] for h in reversed(self.history) if key in h), None)
                if last is not None:
                    self.metrics[key] = last
        now = time.monotonic()
        evaluated = event.get("val_loss") is not None or "metrics" in event
        if now - self._last_write >= WRITE_EVERY_S or evaluated or event.get("progress", 0) >= 1:
            self._last_write = now
            self.store.update_job(
                self.job_id,
                progress=float(event.get("progress", 0.0)),
                metrics=self.metrics,
                logs_tail=self.tail.text(),
            )
            # a cancel recorded in the store by a process that cannot signal us (another host)
            row = self.store.get_job(self.job_id)
            if row is not None and row["status"] == "cancelled":
                self.request_stop("the job was cancelled")

    def _finish(self, status: str, **fields: Any) -> None:
        """Final status, unless the job is no longer ours to finish (cancelled meanwhile)."""
        fields["logs_tail"] = self.tail.text()
        if not self.store.transition_job(self.job_id, ("running",), status, **fields):
            row = self.store.get_job(self.job_id) or {}
            logger.info("job %s is %s already; keeping that status", self.job_id, row.get("status"))
            keep = {k: v for k, v in fields.items() if k in ("metrics", "logs_tail", "artifacts")}
            self.store.update_job(self.job_id, **keep)

    # --- the run ---
    def run(self) -> int:
        started = time.perf_counter()
        kind = self.job["kind"]
        logger.info(
            "job %s (%s) starting in %s; OpenMP wait policy %s, spin count %s",
            self.job_id,
            kind,
            self.run_dir,
            os.environ.get("OMP_WAIT_POLICY", "default"),
            os.environ.get("GOMP_SPINCOUNT", "default"),
        )
        try:
            if kind == "sklearn":
                from tools.training.sklearn_job import run_sklearn

                result = run_sklearn(
                    self.job["resolved"],
                    self.run_dir,
                    on_progress=self.on_progress,
                    should_stop=self.stop.is_set,
                )
                result["model_id"] = None
            elif kind == "gpt":
                from tools.training.gpt_job import run_gpt

                result = run_gpt(
                    self.job,
                    self.run_dir,
                    self.registry,
                    on_progress=self.on_progress,
                    should_stop=self.stop.is_set,
                )
            else:
                raise ValueError(f"unknown job kind {kind!r}")
        except Exception as e:  # the job's failure is data for the learner, not a crash of the tutor
            logger.error("job %s failed:\n%s", self.job_id, traceback.format_exc())
            self._finish("failed", error=f"{type(e).__name__}: {e}")
            return EXIT_FAILED
        metrics = {**result["metrics"], "wall_s": round(time.perf_counter() - started, 2)}
        if result["stopped"]:
            self._finish(
                "interrupted",
                metrics=metrics,
                error=f"stopped: {self.stop_reason}; resume the job to continue from its last checkpoint",
            )
            return EXIT_STOPPED
        if result["model_id"] and (self.job.get("params") or {}).get("activate"):
            metrics["activation"] = self._activate(result["model_id"])
        logger.info("job %s succeeded in %.1f s", self.job_id, metrics["wall_s"])
        self._finish(
            "succeeded",
            progress=1.0,
            metrics=metrics,
            artifacts=result["artifacts"],
            model_id=result["model_id"],
            error=None,
        )
        return EXIT_OK

    def _activate(self, model_id: str) -> dict[str, Any]:
        """Switch to the job's model through the hook the job manager named (the tutor names its
        quality gate, ``tutor.llm.gate:activate_if_better``): this package never imports the
        tutor, so the gate reaches the worker by name. No hook: nothing is switched."""
        hook = self.job.get("activate_hook")
        if not hook:
            return {"activated": False, "reasons": ["no quality gate is configured for this job manager"]}
        module, _, name = str(hook).partition(":")
        try:
            fn = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as e:
            logger.error("job %s: activation hook %r not found: %s", self.job_id, hook, e)
            return {"activated": False, "reasons": [f"the quality gate {hook!r} could not be loaded"]}
        return dict(fn(self.store, self.registry, model_id))


def warm_imports() -> None:
    """What a job imports before its first step (a standby worker does it before there is a job):
    torch with its optimizers (which load torch._dynamo), the GPT and sklearn job code, the
    tokenizer and config classes of transformers, matplotlib's renderer and fonts, the store."""
    import torch._dynamo  # noqa: F401  (torch.optim's first optimizer imports it: ~2.5 s here)
    from transformers import GenerationConfig, GPT2Config, PreTrainedTokenizerFast  # noqa: F401

    from storage.store import Store  # noqa: F401
    from tools.training import gpt_job, gpt_model, plots, registry, sklearn_job, tokenizer  # noqa: F401

    plots.loss_curve_png([])  # matplotlib's Agg canvas and its font cache


def _standby() -> Path | None:
    try:
        warm_imports()
        failed = ""
    except Exception:  # the job's own imports raise it again, into its log and its error
        failed = traceback.format_exc()
    try:
        sys.stdout.buffer.write(READY)
        sys.stdout.flush()
    except OSError:  # the runner handed us a job before we were ready and closed the pipe
        pass
    line = sys.stdin.readline().strip()
    if not line:
        return None
    run_dir = Path(line).resolve()
    out = os.open(run_dir / "output.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    if failed:
        print(f"standby: the imports before this job failed:\n{failed}", file=sys.stderr, flush=True)
    return run_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one training job from its run dir.")
    parser.add_argument("run_dir", type=Path, nargs="?", help="the job's run dir (not with --standby)")
    parser.add_argument(
        "--standby", action="store_true", help="do the imports, then read the run dir from stdin"
    )
    parser.add_argument("--no-watch-parent", action="store_true", help="keep running if the parent exits")
    args = parser.parse_args(argv)
    if (args.run_dir is None) != args.standby:
        parser.error("give a run dir, or --standby to read one from stdin")
    use_training_openmp()
    run_dir = _standby() if args.standby else args.run_dir.resolve()
    if run_dir is None:
        return EXIT_OK
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [
        logging.FileHandler(run_dir / "worker.log"),
        logging.StreamHandler(sys.stderr),
    ]
    for h in handlers:
        h.setFormatter(fmt)
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True)
    worker = Worker(run_dir)
    worker.tail.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger().addHandler(worker.tail)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _f: worker.request_stop(f"signal {signal.Signals(signum).name}"))
    if not args.no_watch_parent:
        worker.watch_parent()
    try:
        return worker.run()
    finally:
        worker.store.close()


if __name__ == "__main__":
    sys.exit(main())
