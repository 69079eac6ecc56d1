"""Processes of a sandbox: unique uids to run them as, finding them by uid, and killing a whole
sandbox (``Confined.kill``) so that nothing it started survives."""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterable

log = logging.getLogger(__name__)

_UID_RANGE = (200_000, 4_000_000)  # far above any distribution's users; unused ids need no passwd entry


class _UidAllocator:
    """Hands out uids no live process uses, so each sandbox's processes are its alone."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._used: set[int] = set()

    def allocate(self) -> int:
        with self._lock:
            live = _uids_in_use()
            for _ in range(1000):
                uid = random.randrange(*_UID_RANGE)
                if uid not in self._used and uid not in live:
                    self._used.add(uid)
                    return uid
        raise RuntimeError("no free sandbox uid found after 1000 tries")

    def release(self, uid: int) -> None:
        with self._lock:
            self._used.discard(uid)


_UIDS = _UidAllocator()


def _uids_in_use() -> set[int]:
    return {uid for _, uid in _proc_uids()}


def _proc_uids() -> Iterable[tuple[int, int]]:
    """(pid, real uid) of every process on the host."""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/status", "rb") as f:
                    for line in f:
                        if line.startswith(b"Uid:"):
                            yield int(entry.name), int(line.split()[1])
                            break
            except (OSError, ValueError, IndexError):
                continue


def processes_of(uid: int) -> list[int]:
    """Pids whose real uid is ``uid`` (used to prove nothing of a sandbox survives)."""
    return [pid for pid, u in _proc_uids() if u == uid]


class Confined:
    """A running confined process; ``kill`` ends it and everything it started."""

    def __init__(self, popen: subprocess.Popen[bytes], uid: int | None, sandboxed: bool) -> None:
        self.popen = popen
        self.uid = uid
        self.sandboxed = sandboxed
        self._killed = False

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the process group; with a pid namespace its init dies and takes every process
        of the sandbox with it. Processes still owning the sandbox uid are killed one by one."""
        if self._killed:
            return
        self._killed = True
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log.warning("sandbox process %s did not exit after SIGKILL", self.popen.pid)
        if self.uid is not None:
            deadline = time.monotonic() + 2.0
            while (left := processes_of(self.uid)) and time.monotonic() < deadline:
                for pid in left:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.02)
            _UIDS.release(self.uid)
