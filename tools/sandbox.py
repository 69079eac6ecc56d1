"""How an untrusted process is confined: bubblewrap, rlimits, a scrubbed environment, its own uid.

A confined process sees a read-only root, ``/usr``, Python install and venv (at their real
paths, so the venv works), a private ``/proc``, a minimal ``/dev``, size-capped tmpfs ``/tmp``,
home and ``/dev/shm``, and only the directories its caller binds in (a per-session work dir, a
kernel's socket dir). It gets new pid/net/ipc/uts namespaces (no network at all, not even the host's
loopback), a cleared environment, ``--die-with-parent`` and, when the tutor runs as root, a
uid of its own with no capabilities and ``no_new_privs`` (so RLIMIT_NPROC counts only that
sandbox's processes and other sandboxes cannot be signalled). When the tutor is not root,
bubblewrap's user namespace maps the caller's uid instead. A seccomp filter (``tools.seccomp``,
loaded by bubblewrap right before it executes the command) denies ptrace, mounts, new
namespaces, bpf, perf events, userfaultfd, io_uring, keyrings, kexec and every socket that is
not AF_UNIX. Without bubblewrap or the seccomp library nothing runs (see ``check``); docs/sandbox.md
has the whole threat model.

What this does NOT protect against (limits, stated plainly): kernel exploits through the system
calls that stay allowed, CPU time (callers enforce wall-clock timeouts), disk filling of the bound work dir
beyond the per-file size limit, and anything when ``enabled=False`` (TUTOR_UNSAFE_NO_SANDBOX),
where code runs as the tutor's own user with only rlimits and a scrubbed environment.
"""

from __future__ import annotations

import importlib.util
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tools import seccomp
from tools._confined import _UIDS, Confined, processes_of
from tutor.errors import Unavailable

__all__ = ["Bind", "Confined", "Limits", "Sandbox", "SandboxUnavailable", "describe_exit", "processes_of"]

INSTALL_HINT = (
    "learner code runs only inside bubblewrap, which is not installed: install it with "
    "`apt-get install -y bubblewrap` (the Makefile does this as root), or set "
    "TUTOR_UNSAFE_NO_SANDBOX=1 to run code unconfined on a machine you own (never in production)"
)
UNSAFE_NOTICE = (
    "This code ran WITHOUT a sandbox (TUTOR_UNSAFE_NO_SANDBOX=1): it could read and change "
    "anything the tutor's own user can."
)
HOME = "/home/learner"
WORKSPACE = "/workspace"
_OWN_PACKAGES = ("tutor", "tools", "knowledge", "curriculum", "storage")


class SandboxUnavailable(Unavailable):
    """Learner code cannot be run: the sandbox is missing and unsafe mode is off."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one confined process tree (rlimits are inherited by its children)."""

    memory_mb: int = 2048  # RLIMIT_AS: a memory bomb becomes MemoryError
    nproc: int = 256  # RLIMIT_NPROC for the sandbox's own uid (threads count too)
    fsize_mb: int = 64  # RLIMIT_FSIZE: largest file it may write
    nofile: int = 512  # RLIMIT_NOFILE
    tmpfs_mb: int = 256  # size of each private tmpfs (/tmp, home): tmpfs is RAM


@dataclass(frozen=True)
class Bind:
    """A host directory or file made visible inside at ``dest``."""

    src: Path
    dest: str
    writable: bool = False


def find_bwrap() -> str | None:
    return shutil.which("bwrap") or ("/usr/bin/bwrap" if os.access("/usr/bin/bwrap", os.X_OK) else None)


class Sandbox:
    """Builds the bubblewrap command line and starts confined processes."""

    def __init__(
        self, *, enabled: bool = True, limits: Limits | None = None, python: str | None = None
    ) -> None:
        self.enabled = enabled
        self.limits = limits or Limits()
        self.python = python or str(Path(sys.prefix) / "bin" / "python")
        self.bwrap = find_bwrap() if enabled else None
        self.prlimit = shutil.which("prlimit")  # util-linux, like setpriv
        self.as_root = os.geteuid() == 0
        self.seccomp: bytes | None = None  # the compiled filter (tools.seccomp)
        self.seccomp_error = ""
        if enabled:
            try:
                self.seccomp = seccomp.bpf_program()
            except seccomp.SeccompUnavailable as e:
                self.seccomp_error = str(e)

    @property
    def available(self) -> bool:
        return not self.enabled or (self.bwrap is not None and self.seccomp is not None)

    @property
    def unavailable_reason(self) -> str:
        """Why code cannot run confined, with what to install ("" when it can)."""
        if self.available:
            return ""
        return INSTALL_HINT if self.bwrap is None else self.seccomp_error or seccomp.INSTALL_HINT

    def check(self) -> None:
        """Raise SandboxUnavailable with install instructions if code cannot be run confined
        (bubblewrap or the seccomp library is missing and unsafe mode is off)."""
        if not self.available:
            raise SandboxUnavailable(self.unavailable_reason)

    def notices(self) -> list[str]:
        return [] if self.enabled else [UNSAFE_NOTICE]

    def inside(self, bind: Bind) -> str:
        """Where a bound path appears to the confined process (its host path when unconfined)."""
        return bind.dest if self.enabled else str(bind.src)

    def allocate_uid(self) -> int | None:
        """A fresh uid for one sandbox (root only); the caller chowns its writable dirs to it."""
        return _UIDS.allocate() if self.enabled and self.as_root else None

    def release_uid(self, uid: int) -> None:
        """Give back a uid that was allocated but never used by a started process."""
        _UIDS.release(uid)

    def env(self, extra: Mapping[str, str] | None = None, *, home: str = HOME) -> dict[str, str]:
        venv_bin = str(Path(self.python).parent)
        env = {
            "HOME": home,
            "USER": "learner",
            "LOGNAME": "learner",
            "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "TMPDIR": "/tmp",
            # OpenBLAS misbehaves under RLIMIT_AS with many threads; one thread per sandbox also
            # keeps one busy kernel per core honest.
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "NUMEXPR_NUM_THREADS": "1",
            # glibc reserves a 64 MiB malloc arena per thread, which counts against RLIMIT_AS: a
            # fresh kernel's address space drops from ~660 to ~200 MiB, and torch + transformers
            # + chromadb (the RAG lab) fit under the 2 GiB limit (measured in a sandboxed kernel)
            "MALLOC_ARENA_MAX": "2",
            "MPLBACKEND": "Agg",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
            "HF_HUB_OFFLINE": "1",
        }
        env.update(extra or {})
        return env

    def spawn(
        self,
        argv: Sequence[str],
        *,
        uid: int | None,
        binds: Sequence[Bind] = (),
        cwd: Bind | None = None,
        hide: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        stdin: int | IO[Any] | None = subprocess.DEVNULL,
        stdout: int | IO[Any] | None = subprocess.DEVNULL,
        stderr: int | IO[Any] | None = subprocess.DEVNULL,
        pass_fds: Sequence[int] = (),
    ) -> Confined:
        """Start ``argv`` confined. ``cwd`` must be one of ``binds``; ``hide`` lists paths inside
        read-only binds to cover with an empty tmpfs (e.g. a data set that would give answers away)."""
        self.check()
        env = dict(env) if env is not None else self.env()
        common: dict[str, Any] = dict(
            stdin=stdin, stdout=stdout, stderr=stderr, start_new_session=True, close_fds=True
        )
        if not self.enabled:
            workdir = str(cwd.src) if cwd else None
            for key in ("HOME", "TMPDIR"):  # the sandbox's private paths do not exist out here
                if env.get(key) in (HOME, "/tmp"):
                    env[key] = workdir or "/tmp"
            popen = subprocess.Popen(
                [*self._limit_prefix(with_nproc=False), *argv], cwd=workdir, env=env, pass_fds=tuple(pass_fds),
                preexec_fn=self._rlimits(with_nproc=False), **common,
            )  # fmt: skip
            return Confined(popen, None, sandboxed=False)
        assert self.seccomp is not None  # check() passed
        passwd_r, group_r = _data_fd(_passwd(uid)), _data_fd(_group(uid))
        filter_fd = seccomp.memfd(self.seccomp)
        try:
            cmd = self._command(argv, uid=uid, binds=binds, cwd=cwd, hide=hide, env=env,
                                passwd_fd=passwd_r, group_fd=group_r, seccomp_fd=filter_fd)  # fmt: skip
            popen = subprocess.Popen(
                [*self._limit_prefix(with_nproc=True), *cmd], env={},
                pass_fds=(passwd_r, group_r, filter_fd, *pass_fds), preexec_fn=self._rlimits(with_nproc=True),
                **common,
            )  # fmt: skip
        finally:
            os.close(passwd_r)
            os.close(group_r)
            os.close(filter_fd)
        return Confined(popen, uid, sandboxed=True)

    def _limit_prefix(self, *, with_nproc: bool) -> list[str]:
        """``prlimit ... --`` in front of the command; the limits are inherited by everything the
        sandbox starts. RLIMIT_NPROC counts processes per real uid, so it is only set where the
        sandbox has a uid of its own."""
        if self.prlimit is None:
            return []
        mb, lim = 1024 * 1024, self.limits
        out = [self.prlimit, f"--as={lim.memory_mb * mb}", f"--fsize={lim.fsize_mb * mb}",
               f"--nofile={lim.nofile}", "--core=0"]  # fmt: skip
        if with_nproc:
            out.append(f"--nproc={lim.nproc}")
        return [*out, "--"]

    def _rlimits(self, *, with_nproc: bool) -> Callable[[], None] | None:
        """Fallback without the prlimit tool: set the limits between fork and exec."""
        if self.prlimit is not None:
            return None
        lim = self.limits

        def apply() -> None:  # syscalls only: this runs in the forked child
            mb = 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (lim.memory_mb * mb, lim.memory_mb * mb))
            resource.setrlimit(resource.RLIMIT_FSIZE, (lim.fsize_mb * mb, lim.fsize_mb * mb))
            resource.setrlimit(resource.RLIMIT_NOFILE, (lim.nofile, lim.nofile))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if with_nproc:
                resource.setrlimit(resource.RLIMIT_NPROC, (lim.nproc, lim.nproc))

        return apply

    def _command(
        self, argv: Sequence[str], *, uid: int | None, binds: Sequence[Bind], cwd: Bind | None,
        hide: Sequence[str], env: Mapping[str, str], passwd_fd: int, group_fd: int,
        seccomp_fd: int | None = None,
    ) -> list[str]:  # fmt: skip
        assert self.bwrap is not None
        tmpfs_size = str(self.limits.tmpfs_mb * 1024 * 1024)
        cmd = [self.bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
               "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--clearenv",
               "--hostname", "sandbox", "--proc", "/proc", "--dev", "/dev",
               # POSIX semaphores and shared memory (multiprocessing, torch DataLoader workers)
               "--perms", "1777", "--size", tmpfs_size, "--tmpfs", "/dev/shm",
               "--perms", "1777", "--size", tmpfs_size, "--tmpfs", "/tmp",
               "--perms", "0755", "--dir", "/home",
               "--perms", "1777", "--size", tmpfs_size, "--tmpfs", HOME]  # fmt: skip
        if not self.as_root:  # an unprivileged user namespace keeps the caller's uid outside
            cmd += ["--unshare-user", "--uid", "1000", "--gid", "1000"]
        cmd += _system_mounts()
        cmd += [
            "--ro-bind-data",
            str(passwd_fd),
            "/etc/passwd",
            "--ro-bind-data",
            str(group_fd),
            "/etc/group",
        ]
        made: set[str] = {"/", "/tmp", "/home", HOME, "/usr", "/etc"}
        ro_roots = _python_roots(self.python)
        for b in [*(Bind(Path(r), r) for r in ro_roots), *binds]:
            for parent in reversed(Path(b.dest).parents):  # bwrap makes missing parents 0700
                if str(parent) not in made:
                    made.add(str(parent))
                    cmd += ["--perms", "0755", "--dir", str(parent)]
            cmd += ["--bind" if b.writable else "--ro-bind", str(b.src), b.dest]
        for path in [*_own_package_dirs(ro_roots), *hide]:
            cmd += ["--tmpfs", path]
        # the sandbox's root is a tmpfs of bubblewrap's: read-only, or an unprivileged sandbox (which
        # owns it) could fill memory through /etc or / past the size-capped /tmp and home
        cmd += ["--remount-ro", "/", "--chdir", cwd.dest if cwd else HOME]
        if seccomp_fd is not None:  # loaded last, after the namespaces are set up, before the exec
            cmd += ["--seccomp", str(seccomp_fd)]
        for key, value in env.items():
            cmd += ["--setenv", key, value]
        if self.as_root:
            if uid is None:
                raise ValueError("a sandbox started as root needs a uid from allocate_uid()")
            # bwrap keeps only these two capabilities; setpriv uses them to become the sandbox uid
            # and then drops everything (bounding set, inheritable, no_new_privs).
            cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--",
                    "/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                    "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all"]  # fmt: skip
        return [*cmd, "--", *argv]


def describe_exit(returncode: int | None) -> str:
    """bwrap exits 128+N when its child dies of signal N; unconfined kernels report -N."""
    if returncode is None:
        return "still running"
    sig = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
    if sig:
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        why = {"SIGKILL": "killed, e.g. out of memory", "SIGSEGV": "a crash in native code"}.get(
            name, "a signal"
        )
        return f"{name}: {why}"
    return f"exit status {returncode}"


def prepare_dir(path: Path, uid: int | None) -> Path:
    """Create a writable dir for a sandbox and hand it to the sandbox uid."""
    path.mkdir(parents=True, exist_ok=True)
    if uid is not None:
        os.chown(path, uid, uid)
    path.chmod(0o700)
    return path


def _system_mounts() -> list[str]:
    """/usr read-only plus the top-level links (/bin, /lib...) the host has, and the few /etc
    files dynamic linking and time zones need. Nothing else of the host's /etc (no shadow)."""
    out = ["--ro-bind", "/usr", "/usr"]
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        p = Path("/") / top
        if p.is_symlink():
            out += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            out += ["--ro-bind", str(p), str(p)]
    out += ["--perms", "0755", "--dir", "/etc"]
    for f in (
        "/etc/ld.so.cache",
        "/etc/ld.so.conf",
        "/etc/localtime",
        "/etc/alternatives",
        "/etc/nsswitch.conf",
        "/etc/fonts",
    ):
        out += ["--ro-bind-try", f, f]
    return out


def _python_roots(python: str) -> list[str]:
    """The Python install and venv, resolved through symlinks, outside /usr (already bound)."""
    roots: list[str] = []
    for p in (
        sys.base_prefix,
        sys.prefix,
        str(Path(python).parent.parent),
        str(Path(python).resolve().parent.parent),
    ):
        r = str(Path(p).resolve())
        if not (r == "/usr" or r.startswith("/usr/")) and r not in roots and r != "/":
            roots.append(r)
    roots.sort(key=len)
    return [r for i, r in enumerate(roots) if not any(r.startswith(o + "/") for o in roots[:i])]


def _own_package_dirs(ro_roots: Sequence[str]) -> list[str]:
    """The tutor's own packages when installed inside a bound root (a non-editable install):
    hidden, since curriculum/exercises holds the reference solutions."""
    out = []
    for name in _OWN_PACKAGES:
        spec = importlib.util.find_spec(name)
        for loc in (spec.submodule_search_locations or []) if spec else []:
            real = str(Path(loc).resolve())
            if any(real.startswith(r + "/") for r in ro_roots):
                out.append(real)
    return out


def _passwd(uid: int | None) -> str:
    u = 1000 if uid is None else uid
    return f"root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nlearner:x:{u}:{u}:learner:{HOME}:/bin/sh\n"


def _group(uid: int | None) -> str:
    u = 1000 if uid is None else uid
    return f"root:x:0:\nlearner:x:{u}:\n"


def _data_fd(text: str) -> int:
    """A pipe holding ``text`` (small: fits the pipe buffer), read end returned for bwrap."""
    r, w = os.pipe()
    os.write(w, text.encode())
    os.close(w)
    return r
