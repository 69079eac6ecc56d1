"""The seccomp filter every sandbox runs under: system calls learner code never needs, denied.

The filter is built with ``pyseccomp`` (ctypes bindings to the system's libseccomp) and compiled
to a BPF program once per tutor process; ``tools.sandbox`` hands the program to bubblewrap
(``--seccomp FD``), which loads it after it has set up the namespaces and right before it
executes the sandboxed command. So it applies to the kernel or grading harness, to all learner
code and to every process it starts (filters are inherited and cannot be removed), and not to
bubblewrap's own set-up.

Denied calls return an error (``EPERM``, ``ENOSYS`` for ``clone3``) rather than killing the
process, so learner code gets a Python ``PermissionError`` it can read. Everything not listed is
allowed: this is a deny list that narrows the kernel's attack surface, not an allow list.

- ptrace and reading other processes' memory: ``ptrace``, ``process_vm_readv/writev``,
  ``pidfd_getfd``
- mounts, old and new API: ``mount``, ``umount2``, ``pivot_root``, ``fsopen``, ``fsconfig``,
  ``fsmount``, ``fspick``, ``move_mount``, ``open_tree``, ``mount_setattr``
- new namespaces (a nested user namespace would hand out capabilities): ``unshare``, ``setns``,
  ``clone`` with any ``CLONE_NEW*`` flag, and ``clone3`` (its flags sit behind a pointer, so it
  answers ENOSYS and glibc falls back to ``clone``, as under Docker's default profile)
- ``bpf``, ``perf_event_open``, ``userfaultfd``, ``io_uring_setup/enter/register``
- kernel keyrings: ``keyctl``, ``add_key``, ``request_key``
- ``kexec_load``, ``kexec_file_load``, ``init_module``, ``finit_module``, ``delete_module``
- ``socket()`` for every address family but ``AF_UNIX`` (the kernel's ZeroMQ sockets are ipc,
  that is AF_UNIX; ``socketpair`` only makes AF_UNIX pairs anyway)
- system calls of another ABI (32-bit ``int 0x80``, x32) answer EPERM: the rules above are
  written for the native ABI only.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
from functools import lru_cache
from typing import Any

from tutor.errors import Unavailable

log = logging.getLogger(__name__)

__all__ = ["DENIED", "INSTALL_HINT", "SeccompUnavailable", "bpf_program", "memfd"]

INSTALL_HINT = (
    "learner code runs only under a seccomp filter, built with the pyseccomp package on the "
    "system's libseccomp: install them with `.venv/bin/pip install pyseccomp` and "
    "`apt-get install -y libseccomp2` (make does both), or set TUTOR_UNSAFE_NO_SANDBOX=1 to run "
    "code unconfined on a machine you own (never in production)"
)

# denied everywhere; building the filter fails if libseccomp does not know one of them
REQUIRED: tuple[str, ...] = (
    "ptrace", "mount", "umount2", "pivot_root", "bpf", "perf_event_open", "keyctl", "add_key",
    "request_key", "userfaultfd", "kexec_load", "kexec_file_load",
)  # fmt: skip
# denied too where libseccomp knows them (all of them since libseccomp 2.5); an older library
# leaves the unknown ones allowed and logs which
EXTRA: tuple[str, ...] = (
    "process_vm_readv", "process_vm_writev", "pidfd_getfd",
    "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
    "unshare", "setns", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "init_module", "finit_module", "delete_module",
)  # fmt: skip
DENIED = REQUIRED + EXTRA

# every CLONE_NEW* flag (linux/sched.h); clone(2) takes its flags as the first argument on x86_64
# and aarch64 (the only architectures the tutor is built for)
_CLONE_NEW = {
    "CLONE_NEWNS": 0x00020000, "CLONE_NEWCGROUP": 0x02000000, "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000, "CLONE_NEWUSER": 0x10000000, "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000, "CLONE_NEWTIME": 0x00000080,
}  # fmt: skip


class SeccompUnavailable(Unavailable):
    """pyseccomp or libseccomp is missing, or the filter could not be built."""


def _library() -> Any:
    try:
        import pyseccomp  # ctypes bindings; raises RuntimeError when libseccomp.so is missing
    except (ImportError, RuntimeError, OSError) as e:
        raise SeccompUnavailable(f"{INSTALL_HINT} ({type(e).__name__}: {e})") from e
    return pyseccomp


def build_filter() -> Any:
    """The filter as a ``pyseccomp.SyscallFilter`` (default: allow)."""
    sc = _library()
    deny = sc.ERRNO(errno.EPERM)
    f = sc.SyscallFilter(sc.ALLOW)
    f.set_attr(sc.Attr.ACT_BADARCH, deny)
    for name in REQUIRED:
        f.add_rule(deny, name)
    unknown = [n for n in EXTRA if sc.resolve_syscall(sc.Arch.NATIVE, n) < 0]
    if unknown:
        log.warning("libseccomp does not know %s: these stay allowed", ", ".join(unknown))
    for name in EXTRA:
        if name not in unknown:
            f.add_rule(deny, name)
    for flag in _CLONE_NEW.values():
        f.add_rule(deny, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    f.add_rule(deny, "socket", sc.Arg(0, sc.NE, socket.AF_UNIX))
    return f


@lru_cache(maxsize=1)
def bpf_program() -> bytes:
    """The compiled BPF program (built once); raises SeccompUnavailable."""
    f = build_filter()
    fd = os.memfd_create("tutor-seccomp-build", os.MFD_CLOEXEC)
    try:
        with os.fdopen(os.dup(fd), "r+b", buffering=0) as handle:
            f.export_bpf(handle)
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except OSError as e:
        raise SeccompUnavailable(f"the seccomp filter could not be compiled: {e}") from e
    finally:
        os.close(fd)
    program = b"".join(chunks)
    if not program or len(program) % 8:  # struct sock_filter is 8 bytes
        raise SeccompUnavailable(f"libseccomp exported a malformed BPF program ({len(program)} bytes)")
    return program


def memfd(program: bytes) -> int:
    """A readable fd holding ``program`` at offset 0, for ``bwrap --seccomp FD`` (the caller
    closes it after the spawn; it is inheritable only through ``pass_fds``)."""
    fd = os.memfd_create("tutor-seccomp", os.MFD_CLOEXEC)
    try:
        os.write(fd, program)
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd
