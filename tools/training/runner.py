"""How job workers are started, watched and stopped: the runner interface and the local runner.

A runner starts ``python -m tools.training.worker <run_dir>`` somewhere and tells the JobManager
when it has ended; the Ray runner (``ray_backend.py``) does the same through Ray Jobs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

REPO_ROOT = Path(__file__).resolve().parents[2]


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


def is_worker(pid: int | None, run_dir: Path) -> bool:
    """Whether ``pid`` is a live worker process of this run dir (not a reused pid or a zombie)."""
    if not pid:
        return False
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return str(run_dir).encode() in cmd  # the run dir is the worker's argument, unique per job


class LocalRunner:
    """Workers as child processes, each in its own session so a stop reaches its whole group."""

    def __init__(self, argv: Sequence[str] | None = None) -> None:
        self.argv = list(argv or [sys.executable, "-m", "tools.training.worker"])
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, job_id: str, run_dir: Path) -> int | None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
        with open(run_dir / "output.log", "ab") as out:
            proc = subprocess.Popen(
                [*self.argv, str(run_dir)],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._procs[job_id] = proc
        return proc.pid

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


def killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
