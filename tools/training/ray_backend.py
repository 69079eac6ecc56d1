"""Jobs on a Ray cluster (``TUTOR_JOBS_BACKEND=ray``, ``TUTOR_RAY_ADDRESS``) through Ray Jobs.

The same worker entrypoint as the local backend (``python -m tools.training.worker <run_dir>``)
is submitted with ``JobSubmissionClient``; progress still goes to the store and cancel is
``stop_job`` (SIGTERM to the worker, SIGKILL after Ray's grace period), so the job API does not
change. The address is the dashboard URL (``http://head:8265``) or the GCS address
(``head:6379``); either way the head must run the dashboard, which serves the Jobs API.

What the cluster needs (limits of this path):
- the tutor package installed on every node at the same interpreter path (``python``), or a
  ``runtime_env`` that installs it (``{"working_dir": ..., "pip": [...]}``);
- the data dir (run dirs, models dir) on storage all nodes share (NFS, a mounted bucket), since
  the worker reads its spec and writes checkpoints and the model there;
- a database all nodes reach: Postgres via ``TUTOR_DATABASE_URL`` (SQLite only works when the
  workers run on the same machine as the tutor, as in the integration test).

GPU workers: submit with ``entrypoint_num_gpus`` so the job lands on a GPU node; for data
parallelism over several GPUs the entrypoint becomes
``torchrun --standalone --nproc_per_node=N -m tools.training.worker <run_dir>`` (or
``accelerate launch --multi_gpu --num_processes N -m ...``), with rank 0 writing to the store and
the run dir. ``train_gpt`` is single-process today, so that needs a DDP wrap of its loop first;
``gpus_per_job`` here only places the job on a GPU node.
"""

from __future__ import annotations

import logging
import shlex
import sys
import uuid
from pathlib import Path
from typing import Any

from tools.training.runner import Exit
from tutor.errors import Unavailable

logger = logging.getLogger(__name__)

SUBMISSION_FILE = "ray_submission_id"


class RayRunner:
    """Starts, watches and stops job workers as Ray Jobs."""

    def __init__(
        self,
        address: str,
        *,
        python: str | None = None,
        runtime_env: dict[str, Any] | None = None,
        cpus_per_job: float = 1.0,
        gpus_per_job: float = 0.0,
    ) -> None:
        from ray.job_submission import JobSubmissionClient

        try:
            self.client = JobSubmissionClient(address)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise RayUnavailable(
                f"cannot reach the Ray cluster at {address!r} ({e}); start one with `ray start --head "
                "--include-dashboard=true` and set TUTOR_RAY_ADDRESS to its dashboard URL (http://HOST:8265)"
            ) from e
        self.python = python or sys.executable
        self.runtime_env = runtime_env
        self.cpus, self.gpus = cpus_per_job, gpus_per_job
        self._subs: dict[str, str] = {}

    def start(self, job_id: str, run_dir: Path) -> int | None:
        sid = f"tutor-{job_id}-{uuid.uuid4().hex[:6]}"  # a resumed job is a new Ray submission
        entrypoint = f"{shlex.quote(self.python)} -m tools.training.worker {shlex.quote(str(run_dir))}"
        self.client.submit_job(
            entrypoint=entrypoint,
            submission_id=sid,
            runtime_env=self.runtime_env,
            entrypoint_num_cpus=self.cpus,
            entrypoint_num_gpus=self.gpus or None,
            metadata={"tutor_job_id": job_id},
        )
        (run_dir / SUBMISSION_FILE).write_text(sid)
        self._subs[job_id] = sid
        logger.info("job %s submitted to Ray as %s", job_id, sid)
        return None  # no local pid

    def owns(self, job_id: str) -> bool:
        return job_id in self._subs

    def owned(self) -> list[str]:
        return list(self._subs)

    def adopt(self, job_id: str, run_dir: Path) -> bool:
        """Watch a submission made before a restart of the tutor; False if Ray does not know it."""
        path = run_dir / SUBMISSION_FILE
        if not path.exists():
            return False
        sid = path.read_text().strip()
        try:
            self.client.get_job_status(sid)
        except RuntimeError:
            return False
        self._subs[job_id] = sid
        return True

    def poll(self, job_id: str) -> Exit | None:
        from ray.job_submission import JobStatus

        sid = self._subs[job_id]
        info = self.client.get_job_info(sid)
        if not info.status.is_terminal():
            return None
        code = info.driver_exit_code
        if code is None:
            code = {JobStatus.SUCCEEDED: 0, JobStatus.STOPPED: -15}.get(info.status, 1)
        return Exit(int(code), f"Ray job {sid} {info.status.value}: {info.message or ''}".strip())

    def signal_stop(self, job_id: str) -> None:
        self.client.stop_job(self._subs[job_id])  # SIGTERM now, SIGKILL after RAY_JOB_STOP_WAIT_TIME_S

    def force_stop(self, job_id: str) -> None:
        self.client.stop_job(self._subs[job_id])

    def forget(self, job_id: str) -> None:
        self._subs.pop(job_id, None)

    def logs(self, job_id: str) -> str:
        return str(self.client.get_job_logs(self._subs[job_id])) if job_id in self._subs else ""


class RayUnavailable(Unavailable):
    """The Ray cluster named by ``ray_address`` cannot be reached."""
