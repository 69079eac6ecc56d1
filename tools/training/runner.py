"""How job workers are started, watched and stopped: the runner interface and the local runner.

A runner starts ``python -m tools.training.worker <run_dir>`` somewhere and tells the JobManager
when it has ended; the Ray runner (``ray_backend.py``) does the same through Ray Jobs.

The local runner can keep a warm worker in standby (``python -m tools.training.worker
--standby``): a process that has done its imports (torch, transformers, matplotlib, the store:
about 9 s of CPU on this 2-core machine, more than 5% of a 3-minute job) and waits for a run dir
on its stdin. A job then starts in milliseconds. One process still runs one job and exits, as a
fresh one does; the next standby is started only while no job runs, so its imports never take
a core from a training job.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

REPO_ROOT = Path(__file__).resolve().parents[2]
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Exit:
    """How a worker ended: its exit code (negative: killed by that signal) and a short detail."""

    code: int
    detail: str = ""


class Runner(Protocol):
    """What the JobManager needs from a backend (local processes or Ray Jobs)."""

    def start(self, job_id: str, run_dir: Path) -> int | None: ...
    def owns(self, job_id: str) -> bool: ...
    def owned(self) -> list[str]: ...
    def adopt(self, job_id: str, run_dir: Path) -> bool: ...
    def poll(self, job_id: str) -> Exit | None: ...
    def signal_stop(self, job_id: str) -> None: ...
    def force_stop(self, job_id: str) -> None: ...
    def forget(self, job_id: str) -> None: ...


STANDBY_FLAG = "--standby"
READY = b"ready\n"  # what a standby worker prints once its imports are done
STANDBY_RETRY_S = 60.0  # after a standby worker died on its own, wait this long before the next


def is_worker(pid: int | None, run_dir: Path) -> bool:
    """Whether ``pid`` is a live worker process of this run dir (not a reused pid or a zombie)."""
    if not pid:
        return False
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if str(run_dir).encode() in cmd:  # the run dir is a fresh worker's argument, unique per job
        return True
    if STANDBY_FLAG.encode() not in cmd:
        return False
    try:  # a standby worker that took this job writes its output to the run dir's output.log
        return os.readlink(f"/proc/{pid}/fd/1") == str(run_dir / "output.log")
    except OSError:
        return False


class LocalRunner:
    """Workers as child processes, each in its own session so a stop reaches its whole group."""

    def __init__(self, argv: Sequence[str] | None = None, *, standby: bool = False) -> None:
        self.argv = list(argv or [sys.executable, "-m", "tools.training.worker"])
        self.standby = standby
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._spare: subprocess.Popen[bytes] | None = None
        self._spare_ready = False
        self._spare_died_at = -float("inf")

    @staticmethod
    def _env() -> dict[str, str]:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
        return env

    def start(self, job_id: str, run_dir: Path) -> int | None:
        proc = self._take_spare(run_dir)
        if proc is None:
            with open(run_dir / "output.log", "ab") as out:
                proc = subprocess.Popen(
                    [*self.argv, str(run_dir)],
                    cwd=REPO_ROOT,
                    env=self._env(),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        self._procs[job_id] = proc
        return proc.pid

    # --- the standby worker ---
    def keep_warm(self) -> None:
        """Start the standby worker if there is none (the JobManager calls this when no job runs)."""
        if not self.standby or (self._spare is not None and self._spare.poll() is None):
            return
        if self._spare is not None:  # it ended without a job: not again at every tick
            logger.warning(
                "the standby training worker exited with code %s before any job; jobs start fresh "
                "workers (their output.log says why), another standby in %.0f s",
                self._spare.returncode,
                STANDBY_RETRY_S,
            )
            _close_pipes(self._spare)
            self._forget_spare()
            self._spare_died_at = time.monotonic()
        if time.monotonic() - self._spare_died_at < STANDBY_RETRY_S:
            return
        self._spare = subprocess.Popen(
            [*self.argv, STANDBY_FLAG],
            cwd=REPO_ROOT,
            env=self._env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,  # its "ready" line; the worker points stdout at the run dir later
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def warm(self) -> bool:
        """Whether a standby worker has finished its imports and waits for a job."""
        spare = self._spare
        if spare is None or spare.poll() is not None or spare.stdout is None:
            return False
        if not self._spare_ready and select.select([spare.stdout], [], [], 0)[0]:
            self._spare_ready = spare.stdout.readline() == READY
        return self._spare_ready

    def _take_spare(self, run_dir: Path) -> subprocess.Popen[bytes] | None:
        """Hand ``run_dir`` to the standby worker (still importing is fine: it reads it when it is
        done); None when there is none or it is gone, and a fresh worker starts instead."""
        spare = self._spare
        if spare is None or spare.stdin is None or spare.poll() is not None:
            return None  # none, or it died: keep_warm reports it
        self._forget_spare()
        try:
            spare.stdin.write(f"{run_dir}\n".encode())
            spare.stdin.flush()
        except OSError:  # it died just now
            killpg(spare.pid, signal.SIGKILL)
            spare.wait()
            return None
        finally:
            _close_pipes(spare)
        return spare

    def _forget_spare(self) -> None:
        self._spare, self._spare_ready = None, False

    def close(self) -> None:
        """End the standby worker at once: it holds no job and no state (a closing CLI command
        does not wait for one still importing)."""
        spare = self._spare
        if spare is None:
            return
        self._forget_spare()
        _close_pipes(spare)
        killpg(spare.pid, signal.SIGKILL)
        spare.wait()

    def owns(self, job_id: str) -> bool:
        return job_id in self._procs

    def owned(self) -> list[str]:
        return list(self._procs)

    def adopt(self, job_id: str, run_dir: Path) -> bool:
        return (
            False  # another process's child cannot be waited for; JobManager._mark_if_stale watches it by pid
        )

    def poll(self, job_id: str) -> Exit | None:
        proc = self._procs[job_id]
        if proc.returncode is None:
            try:  # look without reaping, so the process group id cannot be reused before the sweep
                if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
                    return None
            except ChildProcessError:
                pass  # already reaped; wait() below returns its code
        killpg(proc.pid, signal.SIGKILL)  # anything the worker left behind in its group
        code = proc.wait()
        return Exit(code, f"worker exited with code {code}")

    def signal_stop(self, job_id: str) -> None:
        killpg(self._procs[job_id].pid, signal.SIGTERM)

    def force_stop(self, job_id: str) -> None:
        killpg(self._procs[job_id].pid, signal.SIGKILL)

    def forget(self, job_id: str) -> None:
        self._procs.pop(job_id, None)


def _close_pipes(proc: subprocess.Popen[bytes]) -> None:
    """Close our ends of a standby worker's stdin and stdout (it then reads EOF, or gets EPIPE)."""
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


def killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
