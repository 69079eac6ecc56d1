"""The hostile cases once more with the tutor running as an unprivileged user, as deployments
should: bubblewrap then works through an unprivileged user namespace and every sandbox shares
the tutor's uid, so mounts, the pid namespace and the seccomp filter are what keep learners apart.

As root the test adds a temporary system user (``useradd``, removed afterwards) and runs this
file as a driver script under that user (``setpriv``); the driver builds a KernelManager and a
Grader in a temp data dir the user owns, attacks them, and prints one JSON document that the
tests below check. Not as root, the driver runs as the current (already unprivileged) user.
Unprivileged user namespaces must be allowed: as root the test switches the usual sysctls on
for its run and restores them; otherwise it skips and says why. Where the Python install sits
in a directory other users cannot enter (pyenv under /root), the driver runs in a private mount
namespace in which that directory is replaced by an empty one holding only the Python install.
One driver run for the whole module (~20 s)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.proc_helpers import processes_with
from tools.sandbox import find_bwrap, processes_of

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(find_bwrap() is None, reason="bubblewrap is not installed (make installs it)"),
]

REPO = Path(__file__).resolve().parents[2]
SUBMISSIONS = REPO / "tests" / "data" / "submissions"
SECRET = "s3cr3t-unpriv-value"
# the sysctls that gate unprivileged user namespaces on common kernels, and the value that opens them
USERNS_SYSCTLS = {
    "/proc/sys/user/max_user_namespaces": lambda v: int(v) > 0,
    "/proc/sys/kernel/unprivileged_userns_clone": lambda v: v == "1",  # Debian's older kernels
    "/proc/sys/kernel/apparmor_restrict_unprivileged_userns": lambda v: v == "0",  # Ubuntu 23.10+
}
USERNS_OPEN = {"/proc/sys/user/max_user_namespaces": "15000"}


# --- the driver: runs as the unprivileged user ---------------------------------------------------
def _kernel_cases(km: Any, data: Path, host_dir: Path, port: int) -> dict[str, Any]:
    marker = f"tutor-unpriv-orphan-{uuid.uuid4().hex[:8]}"  # made here: the driver's argv must not hold it
    out: dict[str, Any] = {"marker": marker}
    out["identity"] = km.execute(
        "import json, os, resource\n"
        "st = dict(l.split(':\\t', 1) for l in open('/proc/self/status').read().splitlines() if ':\\t' in l)\n"
        "print(json.dumps([os.getuid(), st['Seccomp'].strip(), st['NoNewPrivs'].strip(), st['CapEff'].strip(),\n"
        "                  resource.getrlimit(resource.RLIMIT_AS)[0] >> 20]))"
    ).stdout.strip()
    km.execute("open('mine.txt', 'w').write('private')", session_id="a")
    mine = km._sessions["a"].kernel.dir / "work"
    targets = ["/etc/shadow", str(data), f"{data}/tutor.db", f"/proc/{os.getpid()}/environ",
               str(mine), f"{mine}/mine.txt", "mine.txt", str(REPO / "tutor"), str(REPO / "curriculum"),
               str(host_dir)]  # fmt: skip
    out["reads"] = km.execute(
        "import os\nseen = []\n"
        f"for p in {targets!r}:\n"
        "    try:\n        os.listdir(p) if os.path.isdir(p) else open(p, 'rb').read(20)\n        seen.append(p)\n"
        "    except OSError:\n        pass\n"
        "init = open('/proc/1/environ', 'rb').read()  # readable here (same uid), but bwrap starts with none\n"
        "print(seen, sorted(k for k in os.environ if 'SECRET' in k or k.startswith('TUTOR')), init)",
        session_id="b",
    ).stdout.strip()
    out["network"] = km.execute(
        "import socket\nreached = []\n"
        f"for host, port in [('127.0.0.1', {port}), ('10.0.2.2', {port}), ('1.1.1.1', 53)]:\n"
        "    try:\n        socket.create_connection((host, port), timeout=1); reached.append(host)\n"
        "    except OSError as e:\n        reached.append(type(e).__name__)\n"
        "print(reached)",
        timeout_s=8,
    ).stdout.strip()
    out["writes"] = km.execute(
        "import sys\nok = []\n"
        f"for p in ['{host_dir}/x', '{data}/x', sys.prefix + '/x', '/usr/x', '/etc/x', '/tmp/{marker}', 'in-work.txt']:\n"
        "    try:\n        open(p, 'w').write('x'); ok.append(p)\n    except OSError:\n        pass\n"
        "print(ok)",
        session_id="b",
    ).stdout.strip()
    out["kills"] = km.execute(
        "import os, signal\nresults = []\n"
        f"for pid in [os.getppid(), 1, {os.getpid()}, -1]:\n"
        "    try:\n        os.kill(pid, signal.SIGKILL); results.append('sent')\n"
        "    except OSError as e:\n        results.append(type(e).__name__)\n"
        "print(results)",
        session_id="k",
    ).stdout.strip()
    out["alive_after_kills"] = km.execute("1 + 1", session_id="k").status  # the sandbox's init ignores it
    bomb = km.execute(
        "import os, subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(1000)', '{marker}'], start_new_session=True)\n"
        "n = 0\ntry:\n    while True:\n        if os.fork() == 0:\n            time.sleep(1000)\n"
        "        n += 1\nexcept OSError as e:\n    print('fork failed after', n, type(e).__name__)",
        session_id="bomb",
        timeout_s=8,
    )
    out["fork_bomb"] = bomb.stdout.strip()
    out["orphan_seen"] = bool(processes_with(marker))
    km.reset("bomb")
    end = time.monotonic() + 5
    while processes_with(marker) and time.monotonic() < end:
        time.sleep(0.05)
    out["orphan_left"] = bool(processes_with(marker))
    out["after_bomb"] = km.execute("1 + 1", timeout_s=8).status
    return out


def _grading_cases(grader: Any, data: Path, host_dir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    subs = {"__DATA_DIR__": str(data), "__HOST_DIR__": str(host_dir)}
    for name in ("forges_channel", "writes_outside", "reads_secrets"):
        code = (SUBMISSIONS / "gradient-descent" / f"hostile_{name}.py").read_text()
        for k, v in subs.items():
            code = code.replace(k, v)
        r = grader.grade("gradient-descent", code)
        out[name] = {"passed": r.passed, "score": r.score, "message": r.tests[0]["message"]}
    r = grader.grade(
        "positional-encoding", (SUBMISSIONS / "positional-encoding" / "pass_numpy.py").read_text()
    )
    out["right_answer"] = {"passed": r.passed, "status": r.status, "feedback": r.feedback}
    return out


def drive(data: Path, host_dir: Path, port: int) -> dict[str, Any]:
    from curriculum.exercises import load_exercises
    from tools.grader import Grader
    from tools.kernel import KernelManager

    (data / "tutor.db").write_text("secret learner data")
    result: dict[str, Any] = {
        "uid": os.getuid(),
        "euid": os.geteuid(),
        "env_secret": SECRET in os.environ.values(),
    }
    with KernelManager(data / "kernels", pool_size=2, default_timeout_s=4, max_timeout_s=10, grace_s=1) as km:
        result.update(_kernel_cases(km, data, host_dir, port))
    result.update(_grading_cases(Grader(load_exercises(), data / "grading"), data, host_dir))
    result["kernel_dirs_left"] = sorted(p.name for p in (data / "kernels").iterdir())
    return result


# --- the test side (as root or as the current user) ----------------------------------------------
_BOOT = "import runpy, sys; sys.path.insert(0, sys.argv[1]); del sys.argv[:2]; runpy.run_path(sys.argv[0], run_name='__main__')"


def _walk_up(path: Path) -> list[Path]:
    return [*reversed(path.parents), path]


def _closed_dir(path: Path) -> Path | None:
    """The first directory on the way to ``path`` that other users may not enter."""
    for p in _walk_up(path):
        if p.is_dir() and not os.stat(p).st_mode & stat.S_IXOTH:
            return p
    return None


@pytest.fixture(scope="module")
def userns() -> Iterator[list[str]]:
    """Unprivileged user namespaces allowed for the run; yields what was switched on."""
    closed = {}
    for path, is_open in USERNS_SYSCTLS.items():
        try:
            value = Path(path).read_text().strip()
        except OSError:
            continue
        if not is_open(value):
            closed[path] = value
    if closed and os.geteuid() != 0:
        pytest.skip(f"unprivileged user namespaces are off ({closed}) and only root may switch them on")
    for path in closed:
        Path(path).write_text(USERNS_OPEN.get(path, "0" if "apparmor" in path else "1"))
    try:
        yield [f"{p} was {v}" for p, v in closed.items()]
    finally:
        for path, value in closed.items():
            Path(path).write_text(value)


@pytest.fixture(scope="module")
def account() -> Iterator[tuple[int, int]]:
    """(uid, gid) to run the tutor as: a temporary system user when root, else the current user."""
    if os.geteuid() != 0:
        yield os.getuid(), os.getgid()
        return
    name = f"tutor-unpriv-{uuid.uuid4().hex[:8]}"
    made = subprocess.run(["useradd", "--system", "--no-create-home", "--user-group", "--shell",
                           "/usr/sbin/nologin", name], capture_output=True, text=True)  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"running as root, but no unprivileged user could be made: {made.stderr.strip()}")
    import pwd

    entry = pwd.getpwnam(name)
    try:
        yield entry.pw_uid, entry.pw_gid
    finally:
        for pid in processes_of(entry.pw_uid):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        subprocess.run(["userdel", name], capture_output=True)


def _command(uid: int, gid: int, args: list[str]) -> list[str]:
    python = str(Path(sys.executable).absolute())
    driver = [python, "-c", _BOOT, str(REPO), str(Path(__file__).resolve()), *args]
    if os.geteuid() != 0:
        return driver
    for path in (REPO, Path(sys.prefix)):
        if _closed_dir(path):
            pytest.skip(f"{path} is in {_closed_dir(path)}, which an unprivileged user cannot enter")
    become = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--", *driver]
    install = Path(sys.base_prefix).resolve()
    closed = _closed_dir(install)
    if closed is None:
        return become
    # a private mount namespace: ``closed`` (e.g. /root) becomes an empty dir holding only ``install``
    script = ('set -e; s=$(mktemp -d); mount --bind "$1" "$s"; mount -t tmpfs -o mode=0755,size=1m tmpfs "$2";'
              ' mkdir -p "$1"; mount --move "$s" "$1"; rmdir "$s"; shift 2; exec "$@"')  # fmt: skip
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", str(install),
            str(closed), *become]  # fmt: skip


@pytest.fixture(scope="module")
def run(userns: list[str], account: tuple[int, int]) -> Iterator[dict[str, Any]]:
    uid, gid = account
    base = Path(tempfile.mkdtemp(prefix="tutor-unpriv-"))
    data, host_dir = base / "var", base / "host"
    for d in (base, data, host_dir):
        d.mkdir(exist_ok=True)
        os.chown(d, uid, gid)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    accepted: list[Any] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept())
            except OSError:
                continue

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(base), "LANG": "C.UTF-8",
           "HF_HUB_OFFLINE": "1", "TUTOR_TEST_SECRET": SECRET}  # fmt: skip
    cmd = _command(uid, gid, [str(data), str(host_dir), str(server.getsockname()[1])])
    try:
        proc = subprocess.run(cmd, env=env, cwd=str(base), capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0 and proc.stdout.strip(), proc.stderr[-3000:]
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        marker = result["marker"]
        end = time.monotonic() + 5
        while (
            processes_with(marker) or (os.geteuid() == 0 and processes_of(uid))
        ) and time.monotonic() < end:
            time.sleep(0.05)
        result["left_after_exit"] = processes_with(marker) + (processes_of(uid) if os.geteuid() == 0 else [])
        result["host_dir"] = sorted(p.name for p in host_dir.iterdir())
        result["tmp_marker_on_host"] = Path(f"/tmp/{marker}").exists()
        result["accepted"] = len(accepted)
        result["userns_switched_on"] = userns
        yield result
    finally:
        stop.set()
        t.join()
        server.close()
        shutil.rmtree(base, ignore_errors=True)


def test_the_tutor_runs_unprivileged_and_so_do_its_sandboxes(run: dict[str, Any]) -> None:
    assert run["uid"] != 0 and run["euid"] != 0 and run["env_secret"]
    uid, seccomp, nnp, cap, as_mb = json.loads(run["identity"])
    assert uid == 1000 and seccomp == "2" and nnp == "1" and cap == "0000000000000000" and as_mb == 2048


def test_the_apps_files_env_and_other_learners_are_invisible(run: dict[str, Any]) -> None:
    assert run["reads"] == "[] [] b''", run["reads"]  # nothing of the list, no secret in the environment


def test_no_network(run: dict[str, Any]) -> None:
    assert run["network"] == "['PermissionError', 'PermissionError', 'PermissionError']"
    assert run["accepted"] == 0


def test_writes_stay_in_the_work_dir_and_private_tmp(run: dict[str, Any]) -> None:
    assert run["writes"].startswith("['/tmp/") and run["writes"].endswith("'in-work.txt']"), run["writes"]
    assert run["writes"].count(",") == 1
    assert run["host_dir"] == [] and not run["tmp_marker_on_host"]


def test_the_tutor_cannot_be_killed_from_a_sandbox(run: dict[str, Any]) -> None:
    """Same uid outside, but the tutor's pid is in another pid namespace: it cannot be named. The
    sandbox's own init (its parent, pid 1) takes the signal without effect."""
    parent, init, tutor, everyone = json.loads(run["kills"].replace("'", '"'))
    assert tutor == "ProcessLookupError" and everyone == "ProcessLookupError", run["kills"]
    assert run["alive_after_kills"] == "ok"


def test_fork_bombs_are_capped_and_leave_nothing(run: dict[str, Any]) -> None:
    """RLIMIT_NPROC counts every process of the tutor's uid here (docs/sandbox.md: a limit of
    unprivileged mode): the bomb stops below 256, and after the reset nothing of it is left."""
    words = run["fork_bomb"].split()
    assert words[:3] == ["fork", "failed", "after"] and words[4] == "BlockingIOError", run["fork_bomb"]
    assert int(words[3]) < 256
    assert run["orphan_seen"] and not run["orphan_left"]
    assert run["after_bomb"] == "ok"
    assert run["left_after_exit"] == [] and run["kernel_dirs_left"] == []


def test_grading_verdicts_cannot_be_forged_or_used_to_leak(run: dict[str, Any]) -> None:
    forged = run["forges_channel"]
    assert not forged["passed"] and forged["score"] == 0.0
    assert run["writes_outside"]["message"] == "raised RuntimeError: wrote: []"
    # the sandbox's init has the same uid here, so its environment is readable: it is empty
    assert run["reads_secrets"]["message"] == "raised RuntimeError: leaks: [('/proc/1/environ', b'')]"
    assert run["right_answer"]["passed"] and run["right_answer"]["status"] == "ok", run["right_answer"]


if __name__ == "__main__":
    data_arg, host_arg, port_arg = sys.argv[1:4]
    print(json.dumps(drive(Path(data_arg), Path(host_arg), int(port_arg))))
