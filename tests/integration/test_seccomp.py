"""The seccomp filter (tools/seccomp.py) in real sandboxes: every denied system call fails with
EPERM in a learner kernel, in its children and in a grading sandbox; AF_UNIX sockets and
ordinary numpy / pandas / torch code still work; without the library nothing runs.

Each call is made with its raw number through ctypes, with arguments the kernel would reject
with a *different* error (ESRCH, EINVAL, EFAULT, EBADF...) or accept harmlessly. A control run
in the same sandbox under an allow-everything filter shows that the EPERM comes from the
filter and not from the sandbox's missing capabilities. One kernel serves the module (~15 s)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from curriculum.exercises import load_exercises
from tools import seccomp
from tools.grader import Grader
from tools.kernel import KernelManager
from tools.sandbox import Sandbox, SandboxUnavailable, find_bwrap

try:
    seccomp.bpf_program()
    _NO_FILTER = ""
except seccomp.SeccompUnavailable as e:
    _NO_FILTER = str(e)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(find_bwrap() is None, reason="bubblewrap is not installed (make installs it)"),
]
needs_filter = pytest.mark.skipif(bool(_NO_FILTER), reason=f"no seccomp filter: {_NO_FILTER}")

# name -> (system call or raw number, arguments); B is an invalid user pointer (EFAULT unfiltered)
PROBE = r"""
import ctypes, json, os
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
NR, B, L = __NR__, 1, ctypes.c_long
CALLS = {
    "ptrace": ("ptrace", 16, 0x3FFFFFFF, 0, 0),  # PTRACE_ATTACH to a pid that does not exist
    "process_vm_readv": ("process_vm_readv", 0x3FFFFFFF, 0, 0, 0, 0, 1),
    "process_vm_writev": ("process_vm_writev", 0x3FFFFFFF, 0, 0, 0, 0, 1),
    "pidfd_getfd": ("pidfd_getfd", -1, 0, 1),
    "mount": ("mount", 0, B, 0, 0, 0),
    "umount2": ("umount2", B, 0x7FFF0000),
    "pivot_root": ("pivot_root", B, B),
    "fsopen": ("fsopen", B, 0),
    "fsconfig": ("fsconfig", -1, 0, 0, 0, 0),
    "fsmount": ("fsmount", -1, 0, 0),
    "fspick": ("fspick", -1, B, 0),
    "move_mount": ("move_mount", -1, B, -1, B, 0),
    "open_tree": ("open_tree", -1, B, 0x7FFF0000),
    "mount_setattr": ("mount_setattr", -1, 0, 0x7FFF0000, 0, 0),
    "unshare": ("unshare", 0x7FFF0000),
    "setns": ("setns", -1, 0),
    "bpf": ("bpf", 9999, 0, 0),
    "perf_event_open": ("perf_event_open", B, 0, -1, -1, 0),
    "userfaultfd": ("userfaultfd", 3),
    "io_uring_setup": ("io_uring_setup", 0, 0),
    "io_uring_enter": ("io_uring_enter", -1, 0, 0, 0, 0, 0),
    "io_uring_register": ("io_uring_register", -1, 0, 0, 0),
    "keyctl": ("keyctl", 9999, 0, 0, 0, 0),
    "add_key": ("add_key", B, B, 0, 0, 0),
    "request_key": ("request_key", B, B, 0, 0),
    "kexec_load": ("kexec_load", 0, 0, 0, 0x7FFF0000),
    "kexec_file_load": ("kexec_file_load", -1, -1, 0, 0, 0x7FFF0000),
    "init_module": ("init_module", 0, 0, 0),
    "finit_module": ("finit_module", -1, 0, 0x7FFF0000),
    "delete_module": ("delete_module", B, 0),
    # a namespace flag with CLONE_THREAD but not CLONE_SIGHAND: EINVAL unfiltered, never a child
    **{"clone_" + name: ("clone", flag | 0x10000, 0, 0, 0, 0) for name, flag in __CLONE__.items()},
    "clone3": ("clone3", 0, 0),
    "socket_inet": ("socket", 2, 1, 0),
    "socket_inet6": ("socket", 10, 1, 0),
    "socket_netlink": ("socket", 16, 3, 0),
    "socket_packet": ("socket", 17, 3, 0),
    "socket_vsock": ("socket", 40, 1, 0),
    "socket_unix": ("socket", 1, 1, 0),
    "socket_inet_x32": (0x40000000 | NR["socket"], 2, 1, 0),  # the x32 ABI: another architecture
}
out = {}
for key, (call, *args) in CALLS.items():
    ctypes.set_errno(0)
    rc = _libc.syscall(L(call if isinstance(call, int) else NR[call]), *[L(a) for a in args])
    out[key] = ctypes.get_errno() if rc == -1 else 0
    if rc > 0 and key.startswith("socket"):
        os.close(rc)
"""
EXPECTED: dict[str, int] = {
    **{name: errno.EPERM for name in seccomp.DENIED},
    **{f"clone_{name}": errno.EPERM for name in seccomp._CLONE_NEW},
    "clone3": errno.ENOSYS,
    **{f"socket_{f}": errno.EPERM for f in ("inet", "inet6", "netlink", "packet", "vsock", "inet_x32")},
    "socket_unix": 0,
}
# without the filter these give another answer on any Linux (in the other cases the answer
# depends on the kernel's build and sysctls, or missing capabilities already give EPERM)
ONLY_THE_FILTER = {
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "mount", "umount2", "fsconfig",
    "open_tree", "mount_setattr", "unshare", "setns", "perf_event_open", "keyctl", "add_key",
    "request_key", "clone3", "socket_inet", "socket_inet6", "socket_netlink",
    *(f"clone_{name}" for name in seccomp._CLONE_NEW),
}  # fmt: skip


def probe_code() -> str:
    import pyseccomp

    names = {*seccomp.DENIED, "clone", "clone3", "socket"}
    numbers = {n: pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, n) for n in names}
    return PROBE.replace("__NR__", repr(numbers)).replace("__CLONE__", repr(seccomp._CLONE_NEW))


def _allow_all() -> bytes:
    """A filter that denies nothing (other ABIs included): the control run."""
    import pyseccomp

    f = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    f.set_attr(pyseccomp.Attr.ACT_BADARCH, pyseccomp.ALLOW)
    fd = os.memfd_create("allow-all")
    try:
        with os.fdopen(os.dup(fd), "wb", buffering=0) as handle:
            f.export_bpf(handle)
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 1 << 16)
    finally:
        os.close(fd)


def _run_in(sandbox: Sandbox, code: str) -> dict[str, int]:
    uid = sandbox.allocate_uid()
    proc = sandbox.spawn(
        [sandbox.python, "-c", code], uid=uid, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        out, err = proc.popen.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.popen.returncode == 0, err.decode()
    return dict(json.loads(out.decode().splitlines()[-1]))


@pytest.fixture(scope="module")
def km(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelManager]:
    manager = KernelManager(
        tmp_path_factory.mktemp("kernels"), pool_size=1, default_timeout_s=30, max_timeout_s=60
    )
    yield manager
    manager.close()


@pytest.fixture(scope="module")
def in_kernel(km: KernelManager) -> dict[str, int]:
    r = km.execute(probe_code() + "\nprint(json.dumps(out))")
    assert r.status == "ok", r
    return dict(json.loads(r.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def control() -> dict[str, int]:
    box = Sandbox()
    box.seccomp = _allow_all()
    return _run_in(box, probe_code() + "\nprint(json.dumps(out))")


@needs_filter
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_denied_call_fails_with_eperm_in_a_kernel(
    in_kernel: dict[str, int], control: dict[str, int], name: str
) -> None:
    want = EXPECTED[name]
    assert in_kernel[name] == want, f"{name}: {errno.errorcode.get(in_kernel[name], in_kernel[name])}"
    if name in ONLY_THE_FILTER:  # the same sandbox without the filter answers otherwise
        assert control[name] != want, f"{name}: {errno.errorcode.get(control[name], control[name])}"


@needs_filter
def test_the_filter_is_on_in_the_kernel_and_its_children(km: KernelManager) -> None:
    code = (
        "import json, socket, subprocess, sys\n"
        "st = dict(l.split(':\\t', 1) for l in open('/proc/self/status').read().splitlines() if ':\\t' in l)\n"
        "child = subprocess.run([sys.executable, '-c', 'import socket\\n"
        "try:\\n    socket.socket()\\nexcept PermissionError as e:\\n    print(e.errno)'],"
        " capture_output=True, text=True).stdout.strip()\n"
        "print(json.dumps([st['Seccomp'].strip(), int(st['Seccomp_filters']), st['NoNewPrivs'].strip(), child]))"
    )
    r = km.execute(code)
    mode, filters, nnp, child = json.loads(r.stdout.strip())
    assert mode == "2" and filters >= 1 and nnp == "1", r.stdout  # mode 2: filtering
    assert child == str(errno.EPERM), r  # inherited by a child process and what it starts


@needs_filter
def test_learner_code_gets_a_readable_python_error(km: KernelManager) -> None:
    code = (
        "import socket, urllib.request\nfor call in (socket.socket, lambda: socket.create_connection(('127.0.0.1', 80)),\n"
        "             lambda: urllib.request.urlopen('http://127.0.0.1/', timeout=1)):\n"
        "    try:\n        call()\n    except OSError as e:\n        print(type(e).__name__, getattr(e, 'errno', None) or getattr(e, 'reason', None))"
    )
    lines = km.execute(code).stdout.strip().splitlines()
    assert lines[0] == "PermissionError 1" and lines[1] == "PermissionError 1", lines
    assert "Operation not permitted" in lines[2], lines  # URLError wrapping the PermissionError
    r = km.execute("import socket\nsocket.socket(socket.AF_INET6)")
    assert r.error is not None and r.error["name"] == "PermissionError"
    assert "Operation not permitted" in r.error["message"]


@needs_filter
def test_unix_sockets_still_work(km: KernelManager) -> None:
    code = (
        "import socket, os\na, b = socket.socketpair()\na.sendall(b'ping')\nprint(b.recv(4).decode())\n"
        "srv = socket.socket(socket.AF_UNIX)\nsrv.bind('/tmp/s.sock')\nsrv.listen(1)\n"
        "cli = socket.socket(socket.AF_UNIX)\ncli.connect('/tmp/s.sock')\nconn, _ = srv.accept()\n"
        "cli.sendall(b'pong')\nprint(conn.recv(4).decode())"
    )
    assert km.execute(code).stdout.split() == ["ping", "pong"]


@needs_filter
def test_numpy_pandas_torch_threads_and_processes_still_run(km: KernelManager) -> None:
    """Threads (clone3 answers ENOSYS: glibc falls back to clone), fork()-ed workers with their
    output piped back, subprocesses, shared memory in /dev/shm, and the libraries' native code."""
    code = """
import multiprocessing as mp, subprocess, threading
import numpy as np, pandas as pd, torch
from torch.utils.data import DataLoader, TensorDataset
a = np.arange(12.0).reshape(3, 4)
print('numpy', float((a @ a.T).trace()))
df = pd.DataFrame({'g': ['x', 'y', 'x'], 'v': [1, 2, 3]})
print('pandas', df.groupby('g')['v'].sum().to_dict())
torch.set_num_threads(2)
w = torch.ones(3, requires_grad=True)
(w * torch.arange(3.0)).sum().backward()
print('torch', w.grad.tolist())
loader = DataLoader(TensorDataset(torch.arange(8.0)), batch_size=4, num_workers=2)
print('loader', [b[0].sum().item() for b in loader])
def square(x):
    print('worker', x, flush=True)
    return x * x
with mp.get_context('fork').Pool(2) as pool:
    print('pool', pool.map(square, [1, 2, 3]))
t = threading.Thread(target=print, args=('thread',))
t.start(); t.join()
print('sub', subprocess.run(['echo', 'hi'], capture_output=True, text=True).stdout.strip())
"""
    r = km.execute(code, timeout_s=60)
    assert r.status == "ok", r
    out = r.stdout
    for line in ("numpy 506.0", "pandas {'x': 4, 'y': 2}", "torch [0.0, 1.0, 2.0]", "loader [6.0, 22.0]",
                 "pool [1, 4, 9]", "thread", "sub hi"):  # fmt: skip
        assert line in out, out
    assert out.count("worker") == 3, out  # the forked workers' prints reach the learner (ipc pipe)


@needs_filter
def test_a_grading_sandbox_has_the_filter_too(tmp_path: Path) -> None:
    want = json.dumps(EXPECTED)
    code = (
        probe_code()
        + f"\nWANT = json.loads({want!r})\nBAD = sorted(k for k, v in WANT.items() if out[k] != v)\n"
        "def gradient_descent(X, y, lr=0.01, epochs=1000):\n    raise RuntimeError(f'bad: {BAD}')\n"
    )
    report = Grader(load_exercises(), tmp_path).grade("gradient-descent", code)
    assert not report.passed
    assert report.tests[0]["message"] == "raised RuntimeError: bad: []", report.tests[0]


def test_without_the_library_nothing_runs_unless_unsafe_mode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def missing() -> bytes:
        raise seccomp.SeccompUnavailable(seccomp.INSTALL_HINT)

    monkeypatch.setattr(seccomp, "bpf_program", missing)
    box = Sandbox()
    assert not box.available
    assert "pyseccomp" in box.unavailable_reason and "TUTOR_UNSAFE_NO_SANDBOX" in box.unavailable_reason
    with pytest.raises(SandboxUnavailable, match="pyseccomp"):
        box.spawn(["true"], uid=None)
    with KernelManager(tmp_path / "k", pool_size=1) as manager:
        assert not manager.available
        with pytest.raises(SandboxUnavailable, match="pyseccomp"):
            manager.execute("1 + 1")
    with pytest.raises(SandboxUnavailable, match="pyseccomp"):
        Grader(load_exercises(), tmp_path / "g").grade("pca", "def pca(X, k): pass")
    assert Sandbox(enabled=False).available  # TUTOR_UNSAFE_NO_SANDBOX: the same policy as bubblewrap


def test_a_missing_libseccomp_is_reported_with_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_pyseccomp(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "pyseccomp":
            raise RuntimeError("Unable to find libseccomp")  # what pyseccomp raises without the .so
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyseccomp)
    with pytest.raises(seccomp.SeccompUnavailable, match="libseccomp2.*Unable to find libseccomp"):
        seccomp.build_filter()
