"""One real ipykernel inside the sandbox, driven by jupyter_client over ipc sockets.

Why these choices (measured, see docs/sandbox.md): inside a new network namespace
only ``transport="ipc"`` works, so the socket dir is bound in; interrupts go as messages on the
control channel (the kernel runs in its own session); and since ``os._exit`` or a segfault
leaves the client waiting for ever, the process is polled between messages so a death is
reported at once. The kernel starts through ``tools/_kernel_launcher.py`` (bound in read-only),
which keeps ipykernel off TCP so that the sandbox's seccomp filter can refuse every socket
that is not AF_UNIX.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from queue import Empty
from typing import Any, cast

from jupyter_client import BlockingKernelClient

from tools._outputs import OutputCollector, RunResult
from tools.sandbox import WORKSPACE, Bind, Confined, Sandbox, SandboxUnavailable, describe_exit, prepare_dir

log = logging.getLogger(__name__)

_POLL_S = 0.05
_MAX_SOCKET_PATH = 90  # AF_UNIX paths end at 107 bytes; ipc sockets are "<dir>/s-<port>"
RESET_NOTICE = "Its state was reset: variables, imports and files from earlier runs are gone."
_LAUNCHER = Bind(Path(__file__).resolve().parent / "_kernel_launcher.py", "/opt/kernel/launch.py")


class KernelStartError(SandboxUnavailable):
    """The sandboxed kernel did not come up; the message carries the end of its log."""


class SandboxedKernel:
    """A started kernel plus its sandbox process and private dirs. Not thread-safe: the manager
    lets one caller at a time use it."""

    def __init__(self, sandbox: Sandbox, root: Path) -> None:
        self.id = secrets.token_hex(6)
        self.sandbox = sandbox
        self.dir = root / f"k-{self.id}"
        self.uid = sandbox.allocate_uid()
        self.proc: Confined | None = None
        self.client: BlockingKernelClient | None = None
        self._ipc_tmp: Path | None = None
        self.last_used = time.monotonic()

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout_s: float = 30.0) -> SandboxedKernel:
        try:
            self._start(timeout_s)
        except BaseException:
            self.close()
            raise
        return self

    def _start(self, timeout_s: float) -> None:
        self.dir.mkdir(parents=True)
        work = Bind(prepare_dir(self.dir / "work", self.uid), WORKSPACE, writable=True)
        ipc_host = self.dir / "ipc"
        if len(str(ipc_host)) > _MAX_SOCKET_PATH:
            self._ipc_tmp = ipc_host = Path(tempfile.mkdtemp(prefix="tutor-ipc-"))
        ipc = Bind(prepare_dir(ipc_host, self.uid), "/run/kernel", writable=True)
        inside = self.sandbox.inside(ipc)
        info: dict[str, Any] = {
            "transport": "ipc", "ip": f"{inside}/s", "shell_port": 1, "iopub_port": 2, "stdin_port": 3,
            "control_port": 4, "hb_port": 5, "key": secrets.token_hex(16),
            "signature_scheme": "hmac-sha256", "kernel_name": "python3",
        }  # fmt: skip
        conn = ipc_host / "connection.json"
        conn.write_text(json.dumps(info))
        conn.chmod(0o644)
        argv = [self.sandbox.python, self.sandbox.inside(_LAUNCHER), "-f", f"{inside}/connection.json",
                "--HistoryManager.enabled=False"]  # fmt: skip
        # matplotlib's inline backend renders with Agg and sends PNGs, so plots reach the learner
        env = self.sandbox.env({"MPLBACKEND": "module://matplotlib_inline.backend_inline"})
        with open(self.dir / "kernel.log", "wb") as logf:
            self.proc = self.sandbox.spawn(argv, uid=self.uid, binds=[work, ipc, _LAUNCHER], cwd=work, env=env,
                                           stdout=logf, stderr=logf)  # fmt: skip
        kc = BlockingKernelClient()
        kc.load_connection_info(cast(Any, dict(info, ip=f"{ipc_host}/s")))  # a TypedDict in its stubs
        kc.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=True)
        self.client = kc
        self._wait_ready(timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:
        """kernel_info until a reply AND an iopub message arrive (iopub subscriptions connect late)."""
        assert self.client is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msg_id = self.client.kernel_info()
            got_reply = False
            until = time.monotonic() + 1.0
            while time.monotonic() < until and time.monotonic() < deadline:
                if not self.alive():
                    raise KernelStartError(f"the sandboxed kernel exited while starting: {self.log_tail()}")
                try:
                    if not got_reply:
                        msg = self.client.shell_channel.get_msg(timeout=_POLL_S)
                        got_reply = msg["parent_header"].get("msg_id") == msg_id
                    else:
                        self.client.iopub_channel.get_msg(timeout=_POLL_S)
                        self._drain_iopub()
                        return
                except Empty:
                    continue
        raise KernelStartError(
            f"the sandboxed kernel did not answer within {timeout_s:.0f} s: {self.log_tail()}"
        )

    def _drain_iopub(self) -> None:
        assert self.client is not None
        while True:
            try:
                self.client.iopub_channel.get_msg(timeout=0)
            except Empty:
                return

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    def close(self) -> None:
        """Kill the sandbox (and everything it started) and delete the kernel's dirs."""
        if self.client is not None:
            try:
                self.client.stop_channels()
            except Exception:  # sockets may already be gone; nothing to report
                log.debug("stop_channels failed", exc_info=True)
            self.client = None
        if self.proc is not None:
            self.proc.kill()
        elif self.uid is not None:
            self.sandbox.release_uid(self.uid)
        for d in (self.dir, self._ipc_tmp):
            if d is not None:
                shutil.rmtree(d, ignore_errors=True)

    def log_tail(self, n: int = 2000) -> str:
        try:
            data = (self.dir / "kernel.log").read_bytes()[-n:]
        except OSError:
            return "(no log)"
        return data.decode("utf-8", "replace").strip() or "(empty log)"

    # --- execution ---------------------------------------------------------------------------
    def execute(self, code: str, *, timeout_s: float, grace_s: float, output_limit: int) -> RunResult:
        """Run one cell. Returns with status ok/error/timeout/killed; after a kill the kernel is
        closed (``alive()`` is False) and the caller must start another."""
        assert self.client is not None and self.proc is not None
        self.last_used = start = time.monotonic()
        out = OutputCollector(output_limit)
        self._drain_iopub()
        msg_id = self.client.execute(
            code, silent=False, store_history=True, allow_stdin=False, stop_on_error=True
        )
        deadline, interrupted_at = start + timeout_s, None
        while True:
            now = time.monotonic()
            if interrupted_at is None and now >= deadline:
                interrupted_at = now
                self._interrupt()
            elif interrupted_at is not None and now >= interrupted_at + grace_s:
                self.close()
                notice = (f"The code did not stop within the {timeout_s:g} s time limit, even when "
                          f"interrupted, so the kernel was restarted. {RESET_NOTICE}")  # fmt: skip
                return out.result("timeout", time.monotonic() - start, [notice])
            if not self.proc.alive():
                code_ = self.proc.popen.returncode
                self.close()
                notice = (
                    f"The kernel stopped while running this code ({describe_exit(code_)}). {RESET_NOTICE}"
                )
                if out.truncated:  # a print flood fills ipykernel's buffers faster than they drain
                    notice += " It had printed more than the output limit, which can exhaust its memory."
                return out.result("killed", time.monotonic() - start, [notice])
            try:
                msg = self.client.iopub_channel.get_msg(timeout=_POLL_S)
            except Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out.stream(content.get("name", "stdout"), str(content.get("text", "")))
            elif kind in ("display_data", "execute_result"):
                out.rich(content.get("data") or {})
            elif kind == "error":
                out.set_error(content)
            elif kind == "status" and content.get("execution_state") == "idle":
                break
        reply = self._drain_shell(msg_id)
        if reply.get("status") == "error" and not out.error:
            # the error message itself can be lost in a print flood; the reply still says so
            out.set_error(reply)
        elif reply.get("status") == "aborted" and not out.error:
            out.set_error(
                {"ename": "Aborted", "evalue": "the kernel aborted this execution", "traceback": []}
            )
        self.last_used = time.monotonic()
        if interrupted_at is not None:
            notice = f"Stopped at the {timeout_s:g} s time limit; variables from earlier runs are kept."
            return out.result("timeout", self.last_used - start, [notice])
        return out.result("error" if out.error else "ok", self.last_used - start, [])

    def _interrupt(self) -> None:
        assert self.client is not None
        msg = self.client.session.msg("interrupt_request", content={})
        self.client.control_channel.send(msg)

    def _drain_shell(self, msg_id: str) -> dict[str, Any]:
        """Consume the execute_reply (and stray replies) so the shell queue never grows; returns
        the reply's content ({} if it did not come within a second)."""
        assert self.client is not None
        reply: dict[str, Any] = {}
        until = time.monotonic() + 1.0
        while time.monotonic() < until:
            try:
                msg = self.client.shell_channel.get_msg(timeout=0.1)
            except Empty:
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                reply = msg["content"]
                break
        while True:  # interrupt replies (get_msgs() would block: it polls without a timeout)
            try:
                self.client.control_channel.get_msg(timeout=0)
            except Empty:
                return reply
