"""tools/kernel.py and tools/_outputs.py with fake kernels: sessions, pool, queueing, culling,
output caps and MIME filtering. Real sandboxed kernels are in tests/integration/test_sandbox_hostile.py."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, cast

import pytest

from tools import kernel as kmod
from tools import sandbox as sb
from tools._outputs import OutputCollector, RunResult
from tools.kernel import KernelManager, KernelStartError, SandboxUnavailable


class FakeKernel:
    """Stands in for SandboxedKernel: counts starts, keeps a namespace, can 'die'."""

    started: list[FakeKernel] = []
    fail = False
    fail_first_after_s: float | None = None  # the first start fails after this many seconds
    start_s = 0.0  # how long a start takes (real ones: about a second)

    def __init__(self, sandbox: Any, root: Path) -> None:
        self.ns: dict[str, Any] = {}
        self.dead = False
        self.closed = False
        self.proc = None

    def start(self, timeout_s: float = 30) -> FakeKernel:
        if FakeKernel.fail:
            raise KernelStartError("bwrap: cannot mount")
        if FakeKernel.fail_first_after_s is not None:
            delay, FakeKernel.fail_first_after_s = FakeKernel.fail_first_after_s, None
            time.sleep(delay)
            raise KernelStartError("can't start new thread")
        time.sleep(FakeKernel.start_s)
        self.thread = threading.current_thread().name
        FakeKernel.started.append(self)
        return self

    def alive(self) -> bool:
        return not self.dead and not self.closed

    def execute(self, code: str, *, timeout_s: float, grace_s: float, output_limit: int) -> RunResult:
        if code == "die":
            self.dead = True
            return RunResult(status="killed")
        if code.startswith("sleep"):
            time.sleep(float(code.split()[1]))
        exec(code if not code.startswith("sleep") else "pass", self.ns)
        return RunResult(status="ok", stdout=repr(self.ns.get("x")))

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> type[FakeKernel]:
    FakeKernel.started = []
    FakeKernel.fail = False
    FakeKernel.fail_first_after_s = None
    FakeKernel.start_s = 0.0
    monkeypatch.setattr(kmod, "SandboxedKernel", FakeKernel)
    monkeypatch.setattr(sb, "find_bwrap", lambda: "/usr/bin/bwrap")
    return FakeKernel


def _wait(pred: Any, timeout: float = 3.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return False


def test_same_session_keeps_state_other_sessions_do_not(fake: type[FakeKernel], tmp_path: Path) -> None:
    with KernelManager(tmp_path, pool_size=0) as km:
        km.execute("x = 41", session_id="a")
        assert km.execute("x = x + 1", session_id="a").status == "ok"
        assert km.execute("pass", session_id="a").stdout == "42"
        assert km.execute("pass", session_id="b").stdout == "None"
        assert km.execute("pass").stdout == "None"  # no session: a fresh kernel


def test_run_without_session_retires_its_kernel(fake: type[FakeKernel], tmp_path: Path) -> None:
    with KernelManager(tmp_path, pool_size=0) as km:
        km.execute("x = 1")
        first = fake.started[-1]
        assert _wait(lambda: first.closed)


def test_pool_is_filled_and_used(fake: type[FakeKernel], tmp_path: Path) -> None:
    with KernelManager(tmp_path, pool_size=2) as km:
        assert _wait(lambda: km.stats()["pool"] == 2)
        pooled = list(km._pool)
        km.execute("x = 1", session_id="s")
        assert km._sessions["s"].kernel is pooled[0]
        assert _wait(lambda: km.stats()["pool"] == 2)  # refilled


def test_kernels_are_started_by_the_long_lived_pool_thread(fake: type[FakeKernel], tmp_path: Path) -> None:
    """bwrap's --die-with-parent follows the spawning thread: request threads must not spawn."""
    with KernelManager(tmp_path, pool_size=0) as km:
        t = threading.Thread(target=km.execute, args=("x = 1", "s"))
        t.start()
        t.join()
        km.execute("x = 1")
    assert fake.started and all(k.thread == "kernel-pool" for k in fake.started)


def test_a_failed_start_reaches_the_caller(fake: type[FakeKernel], tmp_path: Path) -> None:
    fake.fail = True
    with KernelManager(tmp_path, pool_size=0) as km, pytest.raises(KernelStartError, match="cannot mount"):
        km.execute("x = 1")
    assert issubclass(KernelStartError, SandboxUnavailable)


def test_a_start_that_began_before_the_caller_waited_fails_without_failing_the_caller(
    fake: type[FakeKernel], tmp_path: Path
) -> None:
    """The pool's standby start began (and failed, e.g. while another sandbox's fork bomb held
    every process slot) before this request: the request gets a fresh start, not that failure."""
    fake.fail_first_after_s, fake.start_s = 0.5, 0.3
    with KernelManager(tmp_path, pool_size=1) as km:
        assert _wait(lambda: fake.fail_first_after_s is None)  # the standby start is under way
        assert km.execute("x = 3").stdout == "3"
        assert km._failures == 1 and len(fake.started) >= 1


def test_dead_kernel_is_replaced_and_the_session_is_told(fake: type[FakeKernel], tmp_path: Path) -> None:
    with KernelManager(tmp_path, pool_size=0) as km:
        km.execute("x = 5", session_id="s")
        assert km.execute("die", session_id="s").status == "killed"
        r = km.execute("pass", session_id="s")
        assert r.stdout == "None"
        cast(FakeKernel, km._sessions["s"].kernel).dead = True  # died between runs (e.g. a background thread)
        r = km.execute("pass", session_id="s")
        assert any("state was reset" in n for n in r.notices)


def test_reset_and_close_kill_kernels(fake: type[FakeKernel], tmp_path: Path) -> None:
    km = KernelManager(tmp_path, pool_size=1)
    km.execute("x = 1", session_id="s")
    k = cast(FakeKernel, km._sessions["s"].kernel)
    km.reset("s")
    assert k.closed and "s" not in km._sessions
    km.reset("unknown")  # no-op
    km.close()
    assert all(k.closed for k in fake.started)
    with pytest.raises(SandboxUnavailable, match="shut down"):
        km.execute("1")
    km.close()  # idempotent


def test_idle_sessions_are_culled_busy_ones_kept(fake: type[FakeKernel], tmp_path: Path) -> None:
    with KernelManager(tmp_path, pool_size=0, idle_s=100) as km:
        km.execute("x = 1", session_id="old")
        km.execute("x = 1", session_id="busy")
        k = cast(FakeKernel, km._sessions["old"].kernel)
        assert km.cull_idle() == 0
        km._sessions["busy"].lock.acquire()
        try:
            assert km.cull_idle(now=time.monotonic() + 101) == 1
        finally:
            km._sessions["busy"].lock.release()
        assert k.closed and "old" not in km._sessions and "busy" in km._sessions


def test_at_most_max_busy_run_at_once(fake: type[FakeKernel], tmp_path: Path) -> None:
    with KernelManager(tmp_path, pool_size=0, max_busy=1) as km:
        start = time.monotonic()
        threads = [threading.Thread(target=km.execute, args=("sleep 0.3", f"s{i}")) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert time.monotonic() - start >= 0.85  # queued one after another


def test_queue_gives_up_with_a_timeout_result(fake: type[FakeKernel], tmp_path: Path) -> None:
    with KernelManager(tmp_path, pool_size=0, max_busy=1, queue_timeout_s=0.1) as km:
        t = threading.Thread(target=km.execute, args=("sleep 0.5", "a"))
        t.start()
        time.sleep(0.05)
        r = km.execute("x = 1", session_id="b")
        t.join()
        assert r.status == "timeout" and any("busy" in n for n in r.notices)


@pytest.mark.parametrize("bad", [0, -1, 61, "10", float("nan")])
def test_timeout_must_be_in_range(fake: type[FakeKernel], tmp_path: Path, bad: Any) -> None:
    with KernelManager(tmp_path, pool_size=0) as km, pytest.raises(ValueError, match="timeout_s"):
        km.execute("1", timeout_s=bad)


def test_bad_session_id_is_rejected(fake: type[FakeKernel], tmp_path: Path) -> None:
    with KernelManager(tmp_path, pool_size=0) as km, pytest.raises(ValueError, match="session_id"):
        km.execute("1", session_id="")


def test_without_bwrap_execute_refuses(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sb, "find_bwrap", lambda: None)
    km = KernelManager(tmp_path, pool_size=2)
    assert not km.available
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        km.execute("1")
    km.close()


def test_unsafe_mode_marks_every_result(fake: type[FakeKernel], tmp_path: Path) -> None:
    with KernelManager(tmp_path, sandbox=False, pool_size=0) as km:
        for sid in (None, "s"):
            assert any("WITHOUT a sandbox" in n for n in km.execute("x = 1", session_id=sid).notices)


# --- output filtering ----------------------------------------------------------------------------
def test_output_is_capped_while_streaming() -> None:
    out = OutputCollector(limit=10)
    out.stream("stdout", "abcdef")
    out.stream("stdout", "ghijklmnop")
    out.stream("stderr", "more")
    r = out.result("ok", 0.1, [])
    assert r.stdout == "abcdefghij" and r.stderr == ""
    assert any("truncated" in n and "10 bytes" in n for n in r.notices)


def test_cap_counts_bytes_not_characters() -> None:
    out = OutputCollector(limit=5)
    out.stream("stdout", "ééé")  # 6 bytes
    assert out.result("ok", 0, []).stdout == "éé"


def test_only_plain_text_and_images_pass() -> None:
    out = OutputCollector(limit=1000)
    out.rich({"text/html": "<script>alert(1)</script>", "text/plain": "<HTML>"})
    out.rich({"image/svg+xml": "<svg onload=alert(1)>"})
    out.rich({"application/javascript": "alert(1)"})
    out.rich({"image/png": "iVBORw0", "text/plain": "<Figure>"})
    r = out.result("ok", 0, [])
    assert r.outputs == [
        {"mime_type": "text/plain", "data": "<HTML>"},
        {"mime_type": "image/png", "data": "iVBORw0"},
    ]
    assert "alert" not in str(r.to_dict())
    assert any("text/html" in n and "image/svg+xml" in n for n in r.notices)


def test_an_image_over_the_cap_is_dropped_whole() -> None:
    out = OutputCollector(limit=10)
    out.rich({"image/png": "A" * 50, "text/plain": "<Figure>"})
    r = out.result("ok", 0, [])
    assert r.outputs == [{"mime_type": "text/plain", "data": "<Figure>"}]
    assert any("truncated" in n for n in r.notices)


def test_error_traceback_loses_ansi_colours() -> None:
    out = OutputCollector(limit=100)
    out.set_error({"ename": "ValueError", "evalue": "bad", "traceback": ["\x1b[31mValueError\x1b[0m: bad"]})
    r = out.result("error", 0, [])
    assert r.error == {"name": "ValueError", "message": "bad", "traceback": "ValueError: bad"}


def test_run_result_dict_has_the_contract_shape() -> None:
    d = RunResult(status="ok", stdout="hi", duration_s=0.123456).to_dict()
    assert set(d) == {"status", "stdout", "stderr", "outputs", "error", "duration_s", "notices"}
    assert d["duration_s"] == 0.1235


def test_tracebacks_show_library_frames_without_the_servers_paths() -> None:
    import numpy

    from tools._outputs import OutputCollector

    c = OutputCollector(10_000)
    c.set_error({"ename": "ValueError", "evalue": "bad", "traceback": [f'File "{numpy.__file__}", line 1']})
    assert c.error is not None
    assert c.error["traceback"] == 'File "<python>/numpy/__init__.py", line 1'
