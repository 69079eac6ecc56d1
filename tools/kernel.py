"""Sandboxed Jupyter kernels for learners: stateful sessions, a warm pool, timeouts, a busy cap.

``KernelManager.execute(code, session_id)`` runs code in the session's kernel (created on first
use, taken from a pool of pre-started kernels so the first result is fast); without a session
it runs in a fresh kernel that is thrown away afterwards. At most ``max_busy`` kernels (default
one per core) execute at once; further calls queue. A maintenance thread refills the pool,
closes retired kernels and culls sessions idle for ``idle_s``. ``close()`` kills every kernel.

Every kernel is confined by ``tools.sandbox`` (see there for what that does and does not stop).
Graded submissions never run here: ``tools.grader`` uses one-shot sandboxes.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tools._kernel_process import RESET_NOTICE, KernelStartError, SandboxedKernel
from tools._outputs import RunResult
from tools.sandbox import Limits, Sandbox, SandboxUnavailable, describe_exit
from tutor.errors import BadInput

__all__ = ["KernelManager", "KernelStartError", "RunResult", "SandboxUnavailable"]

log = logging.getLogger(__name__)


def _close_at_exit(ref: weakref.ref[KernelManager]) -> None:
    """Kernels and their dirs go with the process; a weak reference keeps no manager alive."""
    manager = ref()
    if manager is not None:
        manager.close()


@dataclass
class _Session:
    lock: threading.Lock = field(default_factory=threading.Lock)
    kernel: SandboxedKernel | None = None
    last_used: float = field(default_factory=time.monotonic)


class KernelManager:
    """Runs learner code in sandboxed ipykernels; thread-safe."""

    def __init__(
        self,
        work_root: Path | str,
        *,
        sandbox: bool = True,
        default_timeout_s: float = 10,
        max_timeout_s: float = 60,
        memory_mb: int = 2048,
        output_limit_bytes: int = 1_000_000,
        pool_size: int = 2,
        idle_s: float = 900,
        max_busy: int | None = None,
        grace_s: float = 2.0,
        start_timeout_s: float = 30.0,
        queue_timeout_s: float = 120.0,
    ) -> None:
        if not 0 < default_timeout_s <= max_timeout_s:
            raise ValueError(
                f"need 0 < default_timeout_s <= max_timeout_s, got {default_timeout_s} and {max_timeout_s}"
            )
        self.work_root = Path(work_root)
        self.sandbox = Sandbox(enabled=sandbox, limits=Limits(memory_mb=memory_mb))
        self.default_timeout_s, self.max_timeout_s = float(default_timeout_s), float(max_timeout_s)
        self.output_limit, self.pool_size, self.idle_s = output_limit_bytes, pool_size, idle_s
        self.grace_s, self.start_timeout_s, self.queue_timeout_s = grace_s, start_timeout_s, queue_timeout_s
        self.max_busy = max_busy or os.cpu_count() or 1
        self._slots = threading.BoundedSemaphore(self.max_busy)
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)  # signals "a kernel joined the pool"
        self._waiting = 0  # callers waiting in _take for a kernel
        self._failures, self._last_failure = 0, ""
        self._last_failure_began = 0.0  # when the failed start began (time.monotonic())
        self._pool: list[SandboxedKernel] = []
        self._retired: list[SandboxedKernel] = []
        self._sessions: dict[str, _Session] = {}
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        if not self.sandbox.available:
            log.warning("code execution disabled: %s", self.sandbox.unavailable_reason)
            return
        if not sandbox:
            log.warning("TUTOR_UNSAFE_NO_SANDBOX is set: learner code runs unconfined")
        self.work_root.mkdir(parents=True, exist_ok=True)
        self._wake.set()  # fill the pool right away
        self._thread = threading.Thread(target=self._maintain, name="kernel-pool", daemon=True)
        self._thread.start()
        atexit.register(_close_at_exit, weakref.ref(self))

    @property
    def available(self) -> bool:
        return self.sandbox.available

    # --- public API --------------------------------------------------------------------------
    def execute(self, code: str, session_id: str | None = None, timeout_s: float | None = None) -> RunResult:
        """Run ``code``; the same ``session_id`` keeps one stateful kernel. Raises
        SandboxUnavailable if code cannot run confined, ValueError for a bad timeout."""
        self.sandbox.check()
        if self._closed:
            raise SandboxUnavailable("the kernel manager is shut down")
        timeout = self._timeout(timeout_s)
        notices = self.sandbox.notices()
        if session_id is None:
            with self._slot() as ok:
                if not ok:
                    return self._busy_result(notices)
                kernel = self._take()
                try:
                    result = self._run(kernel, code, timeout)
                finally:
                    self._retire(kernel)
        else:
            session = self._session(session_id)
            with session.lock:
                if session.kernel is not None and not session.kernel.alive():
                    code_ = session.kernel.proc.popen.returncode if session.kernel.proc else None
                    session.kernel.close()
                    session.kernel = None
                    notices.append(
                        f"The session's kernel had stopped ({describe_exit(code_)}). {RESET_NOTICE}"
                    )
                with self._slot() as ok:
                    if not ok:
                        return self._busy_result(notices)
                    if session.kernel is None:
                        session.kernel = self._take()
                    result = self._run(session.kernel, code, timeout)
                if not session.kernel.alive():
                    session.kernel = None
                session.last_used = time.monotonic()
        result.notices = [*notices, *result.notices]
        return result

    def reset(self, session_id: str) -> None:
        """Forget a session and kill its kernel (a no-op for unknown sessions)."""
        with self._lock:
            session = self._sessions.pop(session_id, None)
        if session is not None:
            with session.lock:
                if session.kernel is not None:
                    session.kernel.close()
                    session.kernel = None

    def close(self) -> None:
        """Kill every kernel and stop the pool; leaves no process behind. Idempotent."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            kernels = [*self._pool, *self._retired]
            self._pool, self._retired = [], []
            sessions, self._sessions = list(self._sessions.values()), {}
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.start_timeout_s + 5)
        for s in sessions:
            if s.kernel is not None:
                kernels.append(s.kernel)
                s.kernel = None
        for k in kernels:
            k.close()

    def cull_idle(self, now: float | None = None) -> int:
        """Close session kernels idle for ``idle_s``; returns how many. Busy sessions are kept."""
        now = time.monotonic() if now is None else now
        culled = 0
        with self._lock:
            stale = [(sid, s) for sid, s in self._sessions.items() if now - s.last_used >= self.idle_s]
        for sid, s in stale:
            if not s.lock.acquire(blocking=False):
                continue
            try:
                with self._lock:
                    if self._sessions.get(sid) is s:
                        del self._sessions[sid]
                if s.kernel is not None:
                    s.kernel.close()
                    s.kernel = None
                    culled += 1
            finally:
                s.lock.release()
        return culled

    def stats(self) -> dict[str, int]:
        with self._lock:
            live = sum(1 for s in self._sessions.values() if s.kernel is not None)
            return {"pool": len(self._pool), "sessions": len(self._sessions), "session_kernels": live,
                    "max_busy": self.max_busy}  # fmt: skip

    def __enter__(self) -> KernelManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals ---------------------------------------------------------------------------
    def _timeout(self, timeout_s: float | None) -> float:
        if timeout_s is None:
            return self.default_timeout_s
        if not isinstance(timeout_s, int | float) or not 0 < timeout_s <= self.max_timeout_s:
            raise BadInput(
                f"timeout_s must be a number in (0, {self.max_timeout_s:g}] seconds, got {timeout_s!r}"
            )
        return float(timeout_s)

    @contextmanager
    def _slot(self) -> Iterator[bool]:
        """One of ``max_busy`` execution slots; callers beyond that wait (queue)."""
        ok = self._slots.acquire(timeout=self.queue_timeout_s)
        try:
            yield ok
        finally:
            if ok:
                self._slots.release()

    def _busy_result(self, notices: list[str]) -> RunResult:
        msg = f"The code did not start: all {self.max_busy} kernels stayed busy for {self.queue_timeout_s:g} s; try again."
        return RunResult(status="timeout", notices=[*notices, msg])

    def _run(self, kernel: SandboxedKernel, code: str, timeout: float) -> RunResult:
        return kernel.execute(code, timeout_s=timeout, grace_s=self.grace_s, output_limit=self.output_limit)

    def _session(self, session_id: str) -> _Session:
        if not isinstance(session_id, str) or not session_id or len(session_id) > 200:
            raise BadInput(
                f"session_id must be a non-empty string of at most 200 characters, got {session_id!r}"
            )
        with self._lock:
            return self._sessions.setdefault(session_id, _Session())

    def _take(self) -> SandboxedKernel:
        """A ready kernel from the pool, waiting for the maintenance thread to start one if the
        pool is empty. Kernels are only ever started by that long-lived thread: bubblewrap's
        --die-with-parent follows the *thread* that spawned it, so a kernel started by a
        short-lived request thread would be killed when that thread ends.

        A start that fails reaches the caller only if it began after the caller started waiting:
        one begun earlier may have failed for a passing reason (in unprivileged mode another
        sandbox's fork bomb can hold every process slot of the shared uid until it is reset), so
        the caller waits for a fresh start instead, with the full start time again."""
        since = time.monotonic()
        deadline = since + self.start_timeout_s + 5
        with self._cond:
            failures_seen = self._failures
            self._waiting += 1
            try:
                while True:
                    while self._pool:
                        kernel = self._pool.pop(0)
                        if kernel.alive():
                            self._wake.set()
                            return kernel
                        self._retired.append(kernel)
                    if self._closed:
                        raise SandboxUnavailable("the kernel manager is shut down")
                    if self._failures != failures_seen:
                        if self._last_failure_began >= since:
                            raise KernelStartError(self._last_failure)
                        failures_seen = self._failures  # a stale start: wait for a fresh one
                        deadline = max(deadline, time.monotonic() + self.start_timeout_s + 5)
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise KernelStartError(
                            f"no sandboxed kernel became ready within {self.start_timeout_s:g} s"
                        )
                    self._wake.set()
                    self._cond.wait(timeout=min(left, 0.5))
            finally:
                self._waiting -= 1

    def _retire(self, kernel: SandboxedKernel) -> None:
        """Closing takes a few ms; the maintenance thread does it off the request path."""
        with self._lock:
            if not self._closed:
                self._retired.append(kernel)
                self._wake.set()
                return
        kernel.close()

    def _maintain(self) -> None:
        retry_at = 0.0  # after a failed pre-start, the pool waits before trying again
        while not self._closed:
            self._wake.wait(timeout=min(5.0, max(self.idle_s / 2, 0.05)))
            self._wake.clear()
            with self._lock:
                retired, self._retired = self._retired, []
            for k in retired:
                k.close()
            self.cull_idle()
            while True:
                with self._lock:
                    wanted = self.pool_size + self._waiting
                    if self._closed or len(self._pool) >= wanted:
                        break
                    if not self._waiting and time.monotonic() < retry_at:
                        break
                began = time.monotonic()
                try:
                    kernel = SandboxedKernel(self.sandbox, self.work_root).start(self.start_timeout_s)
                except Exception as e:
                    log.exception("could not start a sandboxed kernel")
                    retry_at = time.monotonic() + 30.0
                    with self._cond:
                        self._failures += 1
                        self._last_failure = str(e) or type(e).__name__
                        self._last_failure_began = began
                        self._cond.notify_all()
                    break
                with self._cond:
                    if not self._closed:
                        self._pool.append(kernel)
                        self._cond.notify_all()
                        continue
                kernel.close()
