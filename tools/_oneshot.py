"""One confined process, start to finish: write a payload to its stdin, drain stdout, stderr and
a separate result channel (an inherited pipe fd) with caps, and kill it at a wall-clock limit.
Used by the grader, which needs a fresh sandbox per submission."""

from __future__ import annotations

import os
import selectors
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tools.sandbox import WORKSPACE, Bind, Confined, Sandbox, prepare_dir

_CHUNK = 65536


@dataclass
class OneShotResult:
    returncode: int | None
    timed_out: bool
    stdout: bytes
    stderr: bytes
    channel: bytes
    channel_overflow: bool
    duration_s: float


class _Sink:
    """Keeps the first ``cap`` bytes and counts the rest (the process must never block on us)."""

    def __init__(self, cap: int) -> None:
        self.cap, self.parts, self.size, self.overflow = cap, [], 0, False  # type: ignore[var-annotated]

    def add(self, data: bytes) -> None:
        room = self.cap - self.size
        if room > 0:
            self.parts.append(data[:room])
        self.size += len(data)
        self.overflow = self.overflow or self.size > self.cap

    def bytes(self) -> bytes:
        return b"".join(self.parts)


def run_oneshot(
    sandbox: Sandbox,
    argv: Callable[[int], Sequence[str]],
    *,
    payload: bytes,
    timeout_s: float,
    binds: Sequence[Bind] = (),
    workdir: Path | None = None,
    hide: Sequence[str] = (),
    output_cap: int = 64_000,
    channel_cap: int = 32_000_000,
) -> OneShotResult:
    """``argv(fd)`` builds the command given the channel's fd number inside the process.
    ``workdir`` (created here, deleted afterwards) becomes its writable current directory."""
    start = time.monotonic()
    read_ch, write_ch = os.pipe()
    uid = sandbox.allocate_uid()
    cwd = Bind(prepare_dir(workdir, uid), WORKSPACE, writable=True) if workdir is not None else None
    try:
        proc = sandbox.spawn(argv(write_ch), uid=uid, binds=[*binds, *([cwd] if cwd else [])], cwd=cwd, hide=hide,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             pass_fds=(write_ch,))  # fmt: skip
    except BaseException:
        os.close(read_ch)
        if uid is not None:
            sandbox.release_uid(uid)
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    finally:
        os.close(write_ch)
    out, err, ch = _Sink(output_cap), _Sink(output_cap), _Sink(channel_cap)
    try:
        timed_out = _pump(proc, read_ch, payload, start + timeout_s, (out, err, ch))
    finally:
        os.close(read_ch)
        rc = proc.popen.poll()
        proc.kill()  # also reaps anything the submission left running
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    return OneShotResult(
        rc, timed_out, out.bytes(), err.bytes(), ch.bytes(), ch.overflow, time.monotonic() - start
    )


def _pump(
    proc: Confined, read_ch: int, payload: bytes, deadline: float, outs: tuple[_Sink, _Sink, _Sink]
) -> bool:
    """Feed stdin and drain stdout, stderr and the channel until they close or the deadline
    passes; True when the deadline passed."""
    popen = proc.popen
    assert popen.stdin is not None and popen.stdout is not None and popen.stderr is not None
    sinks = {popen.stdout.fileno(): outs[0], popen.stderr.fileno(): outs[1], read_ch: outs[2]}
    sel = selectors.DefaultSelector()
    for fd in sinks:
        sel.register(fd, selectors.EVENT_READ)
    stdin_fd, view = popen.stdin.fileno(), memoryview(payload)
    os.set_blocking(stdin_fd, False)
    sel.register(stdin_fd, selectors.EVENT_WRITE)
    open_reads = len(sinks)
    try:
        while open_reads:
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            if sinks[read_ch].overflow:  # a flood on the result channel: stop, it cannot be graded
                return False
            for key, _ in sel.select(timeout=min(left, 0.5)):
                fd = key.fd
                if fd == stdin_fd:
                    try:
                        view = view[os.write(fd, view[:_CHUNK]) :]
                    except (BrokenPipeError, BlockingIOError) as e:
                        view = view[:0] if isinstance(e, BrokenPipeError) else view
                    if not view:
                        sel.unregister(fd)
                        popen.stdin.close()
                    continue
                data = os.read(fd, _CHUNK)
                if data:
                    sinks[fd].add(data)
                else:
                    sel.unregister(fd)
                    open_reads -= 1
        try:
            popen.wait(timeout=max(0.0, min(2.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            pass
        return False
    finally:
        sel.close()
        if not popen.stdin.closed:
            popen.stdin.close()
