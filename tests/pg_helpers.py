"""A real, throwaway PostgreSQL server on loopback for integration tests.

``with running_postgres() as pg: pg.url`` runs ``initdb`` into a temporary directory and starts
``postgres`` on a free port (unix socket in the same directory), without fsync: about 2 s.
PostgreSQL refuses to run as root, so when the tests run as root the server runs as ``nobody``.
``PostgresUnavailable`` says why it cannot start; tests turn that into a skip with the reason.

In a test module::

    @pytest.fixture(scope="module")
    def pg_url():
        with postgres_or_skip() as pg:
            yield pg.url
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

START_TIMEOUT_S = 30


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be started here; the message says why and what to install."""


@dataclass
class PgServer:
    url: str  # postgresql://postgres@127.0.0.1:PORT/postgres (libpq and SQLAlchemy both take it)
    port: int
    root: Path
    proc: subprocess.Popen[bytes]

    def sqlalchemy_url(self) -> str:
        return self.url.replace("postgresql://", "postgresql+psycopg://", 1)


def find_bin_dir() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with initdb and postgres."""
    for d in sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True
    ):
        if (d / "initdb").exists() and (d / "postgres").exists():
            return d
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise PostgresUnavailable(
        "PostgreSQL binaries not found in /usr/lib/postgresql/*/bin; `apt-get install -y postgresql`"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> dict[str, Any]:
    """subprocess arguments that drop root to ``nobody`` (postgres will not run as root)."""
    if os.geteuid() != 0:
        return {}
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        raise PostgresUnavailable(
            "running as root and there is no `nobody` user to run postgres as"
        ) from None
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def start_postgres() -> PgServer:
    bin_dir = find_bin_dir()
    root = Path(tempfile.mkdtemp(prefix="tutor-pg-"))
    drop = _run_as()
    if drop:
        os.chown(root, drop["user"], drop["group"])
    os.chmod(root, 0o700)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(root), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    data = root / "data"
    init = subprocess.run(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        ],
        env=env,
        cwd=root,
        capture_output=True,
        timeout=120,
        **drop,
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresUnavailable(f"initdb failed: {init.stderr.decode(errors='replace')[-500:]}")
    port = _free_port()
    log = open(root / "postgres.log", "wb")  # noqa: SIM115 (closed with the server)
    settings = [
        "listen_addresses=127.0.0.1",
        "fsync=off",
        "synchronous_commit=off",
        "full_page_writes=off",
        "max_connections=40",
    ]
    cmd = [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(root)]
    for s in settings:
        cmd += ["-c", s]
    proc = subprocess.Popen(cmd, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT, **drop)
    server = PgServer(f"postgresql://postgres@127.0.0.1:{port}/postgres", port, root, proc)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            if _accepts_queries(server.url):
                return server
        time.sleep(0.1)
    text = (root / "postgres.log").read_text(errors="replace")[-800:]
    stop_postgres(server)
    raise PostgresUnavailable(f"postgres did not start within {START_TIMEOUT_S} s: {text}")


def _accepts_queries(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.OperationalError:  # still starting up ("the database system is starting up")
        return False


def stop_postgres(server: PgServer) -> None:
    """Fast shutdown (SIGINT), then kill after 10 s; removes the data directory."""
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGINT)
        try:
            server.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(timeout=5)
    shutil.rmtree(server.root, ignore_errors=True)


@contextlib.contextmanager
def running_postgres() -> Iterator[PgServer]:
    server = start_postgres()
    try:
        yield server
    finally:
        stop_postgres(server)


@contextlib.contextmanager
def postgres_or_skip() -> Iterator[PgServer]:
    """``running_postgres()``, or ``pytest.skip`` with the reason it cannot start here."""
    import pytest

    try:
        server = start_postgres()
    except PostgresUnavailable as e:
        pytest.skip(f"no PostgreSQL here: {e}")
    try:
        yield server
    finally:
        stop_postgres(server)
