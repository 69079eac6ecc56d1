"""Real sandboxed kernels against hostile code: every attack ends with the right status, nothing is
written outside, nothing secret is visible, no process is left, and the manager keeps serving.

One module-scoped KernelManager (2 pre-started kernels, 2 s default timeout, 1 s grace) serves
all tests; the ones that need a clean slate use their own session id."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.proc_helpers import processes_with
from tools.kernel import KernelManager
from tools.sandbox import find_bwrap, processes_of

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(find_bwrap() is None, reason="bubblewrap is not installed (make installs it)"),
]

TIMEOUT, GRACE = 2.0, 1.0
REPO = Path(__file__).resolve().parents[2]


def _gone(marker: str, within: float = 3.0) -> bool:
    end = time.monotonic() + within
    while processes_with(marker) and time.monotonic() < end:
        time.sleep(0.05)
    return not processes_with(marker)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("var")
    (d / "tutor.db").write_text("secret learner data")
    return d


@pytest.fixture(scope="module")
def km(data_dir: Path) -> Any:
    os.environ["TUTOR_TEST_SECRET"] = "s3cr3t-value"  # set before any kernel starts
    manager = KernelManager(data_dir / "kernels", default_timeout_s=TIMEOUT, max_timeout_s=10, grace_s=GRACE,
                            pool_size=2)  # fmt: skip
    yield manager
    manager.close()
    del os.environ["TUTOR_TEST_SECRET"]


def sid() -> str:
    return uuid.uuid4().hex


def test_sessions_keep_state_and_are_isolated(km: KernelManager) -> None:
    a, b = sid(), sid()
    assert km.execute("x = 41", session_id=a).status == "ok"
    r = km.execute("x + 1", session_id=a)
    assert r.status == "ok" and r.outputs == [{"mime_type": "text/plain", "data": "42"}]
    assert km.execute("x", session_id=b).error["name"] == "NameError"  # type: ignore[index]
    assert km.execute("x").error["name"] == "NameError"  # type: ignore[index]


def test_confinement_identity_limits_and_environment(km: KernelManager) -> None:
    code = (
        "import os, resource\n"
        "st = open('/proc/self/status').read()\n"
        "cap = [l.split()[1] for l in st.splitlines() if l.startswith('CapEff')][0]\n"
        "nnp = [l.split()[1] for l in st.splitlines() if l.startswith('NoNewPrivs')][0]\n"
        "print(os.getuid(), cap, nnp, resource.getrlimit(resource.RLIMIT_AS)[0] >> 20,\n"
        "      resource.getrlimit(resource.RLIMIT_NPROC)[0], os.getcwd(), os.environ['OPENBLAS_NUM_THREADS'],\n"
        "      sorted(k for k in os.environ if 'SECRET' in k or k.startswith(('TUTOR', 'JPY'))))"
    )
    out = km.execute(code).stdout.split()
    uid, cap, nnp, as_mb, nproc, cwd, blas = out[:7]
    assert int(uid) >= 200_000 and cap == "0000000000000000" and nnp == "1"
    assert int(as_mb) == 2048 and int(nproc) == 256 and cwd == "/workspace" and blas == "1"
    assert out[7] == "[]"


def test_an_infinite_loop_is_interrupted_and_state_kept(km: KernelManager) -> None:
    s = sid()
    km.execute("x = 5", session_id=s)
    start = time.monotonic()
    r = km.execute("while True:\n    pass", session_id=s)
    assert r.status == "timeout" and time.monotonic() - start < TIMEOUT + GRACE + 1
    assert any("kept" in n for n in r.notices)
    assert km.execute("x", session_id=s).outputs[0]["data"] == "5"


@pytest.mark.parametrize(
    "code",
    [
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
        "sum(range(10**13))",  # a loop in C: the interrupt is never looked at
    ],
    ids=["sigint-ignored", "c-level"],
)
def test_loops_that_ignore_interrupts_get_the_kernel_restarted(km: KernelManager, code: str) -> None:
    s = sid()
    km.execute("x = 5", session_id=s)
    start = time.monotonic()
    r = km.execute(code, session_id=s)
    assert r.status == "timeout" and time.monotonic() - start < TIMEOUT + GRACE + 1.5
    assert any("restarted" in n and "reset" in n for n in r.notices)
    assert km.execute("x", session_id=s).error["name"] == "NameError"  # type: ignore[index]


@pytest.mark.parametrize(
    "code",
    [
        "import ctypes\nctypes.string_at(0)",
        "import os\nos._exit(3)",
        "import os, signal\nos.kill(os.getpid(), 9)",
    ],
    ids=["segfault", "os-exit", "sigkill-self"],
)
def test_a_dying_kernel_is_reported_at_once(km: KernelManager, code: str) -> None:
    s = sid()
    start = time.monotonic()
    r = km.execute(code, session_id=s, timeout_s=8)
    assert r.status == "killed" and time.monotonic() - start < 3.0
    assert any("state was reset" in n for n in r.notices)
    assert km.execute("1 + 1", session_id=s).status == "ok"


def test_a_memory_bomb_becomes_memory_error(km: KernelManager) -> None:
    s = sid()
    r = km.execute(
        "hog = []\nwhile True:\n    hog.append(bytearray(256 * 1024 * 1024))", session_id=s, timeout_s=8
    )
    assert r.status == "error" and r.error["name"] == "MemoryError"  # type: ignore[index]
    assert km.execute("del hog; 2 + 2", session_id=s).outputs[0]["data"] == "4"


def test_fork_bombs_and_setsid_orphans_leave_no_process(km: KernelManager) -> None:
    marker = f"tutor-orphan-{uuid.uuid4().hex[:8]}"
    s = sid()
    code = (
        "import os, subprocess, sys, time\n"
        f"SLEEP = [sys.executable, '-c', 'import time; time.sleep(1000)', '{marker}']\n"
        "subprocess.Popen(SLEEP, start_new_session=True)\n"
        "if os.fork() == 0:\n    os.setsid()\n    os.execv(sys.executable, SLEEP)\n"
        "n = 0\ntry:\n    while True:\n        if os.fork() == 0:\n            time.sleep(1000)\n"
        "        n += 1\nexcept OSError as e:\n    print('fork failed after', n, type(e).__name__)"
    )
    r = km.execute(code, session_id=s, timeout_s=8)
    assert "fork failed after" in r.stdout and "BlockingIOError" in r.stdout, r
    assert int(r.stdout.split()[3]) < 256
    kernel = km._sessions[s].kernel
    assert kernel is not None and kernel.uid is not None
    uid = kernel.uid
    assert processes_with(marker) and len(processes_of(uid)) > 200  # they exist while the session lives...
    km.reset(s)
    assert _gone(marker) and processes_of(uid) == []  # ...and not a single one after


def test_secrets_the_data_dir_and_other_sessions_are_invisible(km: KernelManager, data_dir: Path) -> None:
    a, b = sid(), sid()
    km.execute("open('mine.txt', 'w').write('private')", session_id=a)
    targets = ["/etc/shadow", str(data_dir), f"{data_dir}/tutor.db", "/proc/1/environ", "mine.txt",
               "/work/main/tutor", "/root/.bash_history", str(Path(__file__).resolve())]  # fmt: skip
    code = (
        "import os\nseen = []\n"
        f"for p in {targets!r}:\n"
        "    try:\n"
        "        os.listdir(p) if os.path.isdir(p) else open(p, 'rb').read(20)\n"
        "        seen.append(p)\n"
        "    except OSError:\n        pass\n"
        "print(seen)"
    )
    assert km.execute(code, session_id=b).stdout.strip() == "[]"
    assert (
        km.execute(code.replace("print(seen)", "print('mine.txt' in seen)"), session_id=a).stdout.strip()
        == "True"
    )


def test_writes_outside_the_work_dir_do_not_reach_the_host(
    km: KernelManager, data_dir: Path, tmp_path: Path
) -> None:
    s = sid()
    marker = f"pwned-{uuid.uuid4().hex[:8]}"
    code = (
        "import sys\nok = []\n"
        f"for p in ['{tmp_path}/x', '{data_dir}/x', sys.prefix + '/x', '/usr/x', '/etc/x', '/tmp/{marker}', 'in-work.txt']:\n"
        "    try:\n        open(p, 'w').write('x'); ok.append(p)\n    except OSError:\n        pass\n"
        "print(ok)"
    )
    out = km.execute(code, session_id=s).stdout
    assert out.strip() == f"['/tmp/{marker}', 'in-work.txt']", out  # its private /tmp and its work dir
    assert (
        list(tmp_path.iterdir()) == []
        and not (data_dir / "x").exists()
        and not Path(f"/tmp/{marker}").exists()
    )
    work = km._sessions[s].kernel.dir / "work"  # type: ignore[union-attr]
    assert (work / "in-work.txt").read_text() == "x"


def test_no_network_not_even_the_tutors_own_port(km: KernelManager) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.1)
    port = server.getsockname()[1]
    code = (
        "import socket\nreached = []\n"
        f"for host, port in [('127.0.0.1', {port}), ('pypi.org', 443), ('1.1.1.1', 53)]:\n"
        "    try:\n        socket.create_connection((host, port), timeout=1); reached.append(host)\n"
        "    except OSError:\n        pass\n"
        "print(reached)"
    )
    try:
        assert km.execute(code, timeout_s=8).stdout.strip() == "[]"
        with pytest.raises(OSError):
            server.accept()
    finally:
        server.close()


def test_killing_the_parent_fails_and_the_manager_keeps_serving(km: KernelManager) -> None:
    s = sid()
    code = (
        "import os, signal\nresults = []\n"
        f"for pid in [os.getppid(), 1, {os.getpid()}, -1]:\n"
        "    try:\n        os.kill(pid, signal.SIGKILL); results.append('sent')\n"
        "    except OSError as e:\n        results.append(type(e).__name__)\n"
        "print(results)"
    )
    out = km.execute(code, session_id=s).stdout
    assert "sent" not in out, out
    assert km.execute("1 + 1").status == "ok"


def test_50_mb_of_output_is_truncated_while_streaming(km: KernelManager) -> None:
    r = km.execute("print('x' * 50_000_000)")
    assert r.status == "ok" and 0 < len(r.stdout) <= 1_000_000
    assert any("truncated" in n for n in r.notices)
    # a tight print flood outruns ipykernel's buffers: stopped at the limit or killed for memory
    r = km.execute("while True:\n    print('y' * 10_000)")
    assert r.status in ("timeout", "killed") and len(r.stdout) <= 1_000_000
    assert km.execute("1 + 1").status == "ok"


def test_rich_outputs_are_filtered_and_stdin_is_disabled(km: KernelManager) -> None:
    code = (
        "from IPython.display import HTML, Image, display\nimport base64\n"
        "png = base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==')\n"
        "display(HTML('<script>alert(1)</script>'))\ndisplay(Image(data=png))"
    )
    r = km.execute(code)
    assert [o["mime_type"] for o in r.outputs] == ["text/plain", "image/png"]
    assert "alert" not in str(r.outputs)
    assert any("text/html" in n for n in r.notices)
    r = km.execute("input('name? ')")
    assert r.status == "error" and r.error["name"] == "StdinNotImplementedError"  # type: ignore[index]


def test_close_leaves_no_process_and_no_files(tmp_path: Path) -> None:
    marker = f"tutor-close-{uuid.uuid4().hex[:8]}"
    manager = KernelManager(tmp_path / "kernels", pool_size=1, default_timeout_s=TIMEOUT)
    code = f"import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(1000)', '{marker}'], start_new_session=True)"
    manager.execute(code, session_id="s")
    uids = [k.uid for k in [manager._sessions["s"].kernel, *manager._pool] if k is not None]
    assert processes_with(marker)
    manager.close()
    assert _gone(marker)
    assert all(processes_of(u) == [] for u in uids if u is not None)
    assert list((tmp_path / "kernels").iterdir()) == []


def test_kernels_outlive_the_request_thread_that_asked_for_them(km: KernelManager) -> None:
    s = sid()
    t = threading.Thread(target=km.execute, args=("x = 7", s))
    t.start()
    t.join()
    time.sleep(0.3)
    assert km.execute("x", session_id=s).outputs[0]["data"] == "7"


def test_a_crashed_tutor_leaves_no_sandbox_behind(tmp_path: Path) -> None:
    """--die-with-parent: SIGKILL the process that owns the kernels; they and their orphans die."""
    marker = f"tutor-crash-{uuid.uuid4().hex[:8]}"
    sleeper = f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(1000)', '{marker}'], start_new_session=True)"
    script = (
        f"import sys, time\nsys.path.insert(0, {str(REPO)!r})\nfrom tools.kernel import KernelManager\n"
        f"km = KernelManager({str(tmp_path)!r}, pool_size=0)\n"
        f"print(km.execute({sleeper!r}, session_id='s').status, flush=True)\ntime.sleep(1000)"
    )
    app = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert app.stdout is not None and app.stdout.readline().strip() == b"ok"
        assert processes_with(marker)
    finally:
        app.kill()
        app.wait()
    assert _gone(marker, within=5)


def test_unsafe_mode_runs_unconfined_and_says_so(tmp_path: Path) -> None:
    with KernelManager(tmp_path / "kernels", sandbox=False, pool_size=0) as manager:
        os.environ["TUTOR_UNSAFE_TEST_SECRET"] = "x"
        try:
            r = manager.execute("import os; print(sorted(k for k in os.environ if 'SECRET' in k))")
        finally:
            del os.environ["TUTOR_UNSAFE_TEST_SECRET"]
    assert r.status == "ok" and r.stdout.strip() == "[]"  # the environment is still scrubbed
    assert any("WITHOUT a sandbox" in n for n in r.notices)
