"""tools/sandbox.py: the bubblewrap command line, the scrubbed environment, refusal without bwrap."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tools import _confined
from tools import sandbox as sb
from tools.sandbox import HOME, WORKSPACE, Bind, Sandbox, SandboxUnavailable, describe_exit


def _command(s: Sandbox, **kw: object) -> list[str]:
    args = dict(uid=654321, binds=[], cwd=None, hide=[], env=s.env(), passwd_fd=7, group_fd=8)
    args.update(kw)
    return s._command(["python", "-c", "pass"], **args)  # type: ignore[arg-type]


@pytest.fixture
def box(monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    monkeypatch.setattr(sb, "find_bwrap", lambda: "/usr/bin/bwrap")
    s = Sandbox()
    s.as_root = True
    return s


def test_missing_bwrap_refuses_with_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sb, "find_bwrap", lambda: None)
    s = Sandbox()
    assert not s.available
    with pytest.raises(SandboxUnavailable, match="apt-get install -y bubblewrap"):
        s.check()
    with pytest.raises(SandboxUnavailable, match="TUTOR_UNSAFE_NO_SANDBOX"):
        s.spawn(["true"], uid=None)


def test_unsafe_mode_needs_no_bwrap_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sb, "find_bwrap", lambda: None)
    s = Sandbox(enabled=False)
    s.check()
    assert s.available
    assert any("WITHOUT a sandbox" in n for n in s.notices())


def test_all_namespaces_are_new_and_the_environment_is_cleared(box: Sandbox) -> None:
    cmd = _command(box)
    for flag in ("--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--die-with-parent",
                 "--new-session", "--clearenv"):  # fmt: skip
        assert flag in cmd, flag
    assert "--share-net" not in cmd


def test_runs_as_its_own_uid_without_capabilities(box: Sandbox) -> None:
    cmd = _command(box, uid=654321)
    i = cmd.index("/usr/bin/setpriv")
    tail = cmd[i:]
    assert "--reuid=654321" in tail and "--regid=654321" in tail
    assert "--no-new-privs" in tail and "--bounding-set=-all" in tail and "--clear-groups" in tail
    with pytest.raises(ValueError, match="uid"):
        _command(box, uid=None)


def test_unprivileged_caller_maps_its_uid_through_a_user_namespace(box: Sandbox) -> None:
    box.as_root = False
    cmd = _command(box, uid=None)
    assert "--unshare-user" in cmd and "/usr/bin/setpriv" not in cmd


def test_python_is_read_only_and_binds_keep_their_mode(box: Sandbox, tmp_path: Path) -> None:
    work = Bind(tmp_path / "w", WORKSPACE, writable=True)
    cmd = _command(box, binds=[work], cwd=work)
    pairs = {(cmd[i], cmd[i + 1], cmd[i + 2]) for i in range(len(cmd) - 2)}
    venv = str(Path(sys.prefix).resolve())
    assert ("--ro-bind", venv, venv) in pairs or any(
        a == "--ro-bind" and venv.startswith(b + "/") for a, b, _ in pairs
    )
    assert ("--bind", str(tmp_path / "w"), WORKSPACE) in pairs
    assert ("--ro-bind", "/usr", "/usr") in pairs
    assert cmd[cmd.index("--chdir") + 1] == WORKSPACE


def test_host_secrets_and_data_are_not_bound(box: Sandbox) -> None:
    cmd = _command(box)
    joined = " ".join(cmd)
    assert "/etc/shadow" not in joined
    assert " /etc /etc" not in joined  # only single files of /etc
    assert str(Path(__file__).resolve().parents[2] / "tutor") not in cmd


def test_private_tmp_and_home_are_size_capped_tmpfs(box: Sandbox) -> None:
    cmd = _command(box)
    for dest in ("/tmp", HOME):
        i = cmd.index(dest, cmd.index("--tmpfs") - 1)
        assert cmd[i - 1] == "--tmpfs"
        assert cmd[i - 3] == "--size" and int(cmd[i - 2]) == box.limits.tmpfs_mb * 1024 * 1024


def test_hidden_paths_get_an_empty_tmpfs(box: Sandbox) -> None:
    cmd = _command(box, hide=["/some/pkg/data"])
    assert cmd[cmd.index("/some/pkg/data") - 1] == "--tmpfs"


def test_an_installed_copy_of_the_tutor_is_hidden(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A non-editable install puts curriculum/exercises (reference solutions) inside the venv."""
    pkg = tmp_path / "site-packages" / "curriculum"
    pkg.mkdir(parents=True)

    class Spec:
        submodule_search_locations = [str(pkg)]

    monkeypatch.setattr(sb.importlib.util, "find_spec", lambda name: Spec() if name == "curriculum" else None)
    assert sb._own_package_dirs([str(tmp_path)]) == [str(pkg.resolve())]
    assert sb._own_package_dirs(["/elsewhere"]) == []


def test_environment_is_scrubbed_and_single_threaded(box: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUTOR_API_KEYS", "secret:admin")
    env = box.env()
    assert not any(k.startswith("TUTOR_") for k in env)
    assert env["OPENBLAS_NUM_THREADS"] == "1" and env["MPLBACKEND"] == "Agg"
    assert env["HOME"] == HOME
    cmd = _command(box, env=env)
    assert "secret:admin" not in cmd
    assert ("--setenv", "OPENBLAS_NUM_THREADS", "1") in {tuple(cmd[i : i + 3]) for i in range(len(cmd) - 2)}


def test_uids_are_unique_and_released() -> None:
    a, b = _confined._UIDS.allocate(), _confined._UIDS.allocate()
    assert a != b and a >= _confined._UID_RANGE[0]
    _confined._UIDS.release(a)
    _confined._UIDS.release(b)
    assert a not in _confined._UIDS._used


def test_rlimits_wrap_the_command(box: Sandbox) -> None:
    if box.prlimit is None:
        pytest.skip("prlimit (util-linux) is not installed")
    prefix = box._limit_prefix(with_nproc=True)
    assert prefix[0].endswith("prlimit") and prefix[-1] == "--"
    assert f"--as={2048 * 1024 * 1024}" in prefix and "--nproc=256" in prefix and "--core=0" in prefix
    assert not any(p.startswith("--nproc") for p in box._limit_prefix(with_nproc=False))
    assert box._rlimits(with_nproc=True) is None  # no preexec_fn when prlimit does it


@pytest.mark.parametrize(
    ("code", "text"),
    [(0, "exit status 0"), (3, "exit status 3"), (137, "SIGKILL"), (139, "SIGSEGV"), (-9, "SIGKILL")],
)
def test_describe_exit(code: int, text: str) -> None:
    assert text in describe_exit(code)


def test_prepare_dir_is_private(tmp_path: Path) -> None:
    d = sb.prepare_dir(tmp_path / "a" / "b", uid=None)
    assert d.is_dir() and (d.stat().st_mode & 0o777) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to a sandbox uid needs root")
def test_prepare_dir_hands_the_dir_to_the_uid(tmp_path: Path) -> None:
    d = sb.prepare_dir(tmp_path / "c", uid=654322)
    assert d.stat().st_uid == 654322
