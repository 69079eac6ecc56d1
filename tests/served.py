"""A real ``tutor serve`` in a subprocess, for integration tests, the browser test and the load
benchmark: a free loopback port, a temporary data dir, wait for ``/healthz``, and the server's
log dumped when something fails.

    with ServedTutor(tmp_path, env={"TUTOR_LLM_BACKEND": "fake"}) as srv:
        httpx.get(srv.url + "/healthz")

As a pytest fixture: ``from tests.served import served_tutor`` in a test module. All modules that
do so share ONE server for the whole session (startup costs ~15-20 s on 2 cores), so tests there
use their own learner names. Indexing all course notes on a fresh data dir takes minutes here, so
the served tests index the three small notes in ``tests/data/sample_notes`` (topic ids ``t1.*``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
TUTOR_BIN = REPO / ".venv" / "bin" / "tutor"
# what the served tests run with unless they say otherwise: the scripted chat model (no weights
# needed), a small kernel pool, and no sandbox where bubblewrap is missing.
DEFAULT_ENV = {
    "TUTOR_LLM_BACKEND": "fake",
    "TUTOR_KERNEL_POOL_SIZE": "1",
    "TUTOR_LOG_LEVEL": "WARNING",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "MPLBACKEND": "Agg",
    "TUTOR_NOTES_DIR": str(REPO / "tests" / "data" / "sample_notes"),
    "TUTOR_CARDS_DIR": str(REPO / "tests" / "data" / "sample_cards"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServedTutor:
    """Starts ``tutor serve`` on entry, stops it (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, root: Path, env: dict[str, str] | None = None, start_timeout_s: float = 90.0) -> None:
        self.root = Path(root)
        self.data_dir = self.root / "var"
        self.log_path = self.root / "serve.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = env or {}
        self.start_timeout_s = start_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TUTOR_")}
        env.update(DEFAULT_ENV)
        if shutil.which("bwrap") is None:
            env["TUTOR_UNSAFE_NO_SANDBOX"] = "1"
        env.update(TUTOR_DATA_DIR=str(self.data_dir), TUTOR_HOST="127.0.0.1", TUTOR_PORT=str(self.port))
        env.update(self.extra_env)
        return env

    def start(self) -> ServedTutor:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [str(TUTOR_BIN)] if TUTOR_BIN.exists() else [sys.executable, "-m", "tutor.cli"]
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [*cmd, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=REPO,
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its kernels and workers go with it
        )
        self._log = log
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"tutor serve exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(
            f"tutor serve did not answer /healthz in {self.start_timeout_s:.0f}s:\n{self.log_tail()}"
        )

    def wait_ready(self, timeout_s: float = 300.0) -> float:
        """Seconds until ``/readyz`` answered 200 (every part loaded); raises after ``timeout_s``."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout_s:
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return time.monotonic() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"/readyz did not say 200 in {timeout_s:.0f}s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 6000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=5)
        if getattr(self, "_log", None) is not None:
            self._log.close()

    def __enter__(self) -> ServedTutor:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


_shared: ServedTutor | None = None


@pytest.fixture(scope="session")
def served_tutor(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[ServedTutor]:
    """The session's served tutor (default test environment); its log is printed at the end of
    the session when a test failed, and on request by ``srv.log_tail()``."""
    global _shared
    if _shared is None or _shared.proc is None or _shared.proc.poll() is not None:
        _shared = ServedTutor(tmp_path_factory.mktemp("served"))
        _shared.start()
        srv = _shared

        def stop() -> None:
            srv.stop()
            if request.session.testsfailed:
                print(f"\n--- tutor serve log ({srv.log_path}) ---\n{srv.log_tail()}", file=sys.stderr)

        request.session.config.add_cleanup(stop)  # once, at the end of the session
    yield _shared
