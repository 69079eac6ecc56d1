"""tools/training/runner.py: the local runner's standby worker (started, handed a job, replaced
by a fresh worker when it died, ended on close) and how a worker is recognised by pid."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.training_helpers import wait_until
from tools.training.runner import LocalRunner, is_worker

# a worker stand-in: standby prints "ready" (after STANDBY_S), reads its run dir from stdin and
# points its output there, as tools.training.worker does; it records how it got its run dir
FAKE = r"""
import os, sys, time
from pathlib import Path
if sys.argv[-1] == "--standby":
    if os.environ.get("FAKE_STANDBY_DIES"):
        sys.exit(5)
    time.sleep(float(os.environ.get("FAKE_STANDBY_S", "0")))
    try:
        sys.stdout.write("ready\n"); sys.stdout.flush()
    except OSError:  # handed a job before it was ready: the runner no longer reads the pipe
        pass
    line = sys.stdin.readline().strip()
    if not line:
        sys.exit(0)
    run_dir, how = Path(line), "standby"
    out = os.open(run_dir / "output.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(out, 1); os.dup2(out, 2)
else:
    run_dir, how = Path(sys.argv[-1]), "fresh"
(run_dir / "how").write_text(how)
print("working", flush=True)
time.sleep(float(os.environ.get("FAKE_JOB_S", "0.2")))
"""


@pytest.fixture()
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    script = tmp_path / "fake_worker.py"
    script.write_text(FAKE)
    monkeypatch.delenv("FAKE_STANDBY_DIES", raising=False)
    return [sys.executable, str(script)]


def run_dir(tmp_path: Path, name: str) -> Path:
    d = (tmp_path / "runs" / name).resolve()
    d.mkdir(parents=True)
    return d


def standby(fake: list[str]) -> tuple[LocalRunner, subprocess.Popen[bytes]]:
    """A runner with standby on, and the standby worker it started."""
    runner = LocalRunner(fake, standby=True)
    runner.keep_warm()
    assert runner._spare is not None
    return runner, runner._spare


def ended(runner: LocalRunner, job_id: str, timeout: float = 10) -> int:
    deadline = time.monotonic() + timeout
    while (ex := runner.poll(job_id)) is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return ex.code


def test_a_standby_worker_gets_the_job_and_is_known_by_its_output_log(
    fake: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_JOB_S", "1.0")
    assert not LocalRunner(fake, standby=True).warm()  # none until keep_warm starts one
    runner, spare = standby(fake)
    wait_until(runner.warm, 10)
    d = run_dir(tmp_path, "job-1")
    assert runner.start("job-1", d) == spare.pid  # the warm process took it
    wait_until(lambda: (d / "output.log").exists() and b"working" in (d / "output.log").read_bytes(), 10)
    assert is_worker(spare.pid, d)  # by its output, though its argv has no run dir
    assert not is_worker(spare.pid, run_dir(tmp_path, "job-2"))
    assert ended(runner, "job-1") == 0
    assert (d / "how").read_text() == "standby"
    assert not is_worker(spare.pid, d)


def test_a_job_handed_over_before_the_standby_is_ready_waits_for_it(
    fake: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_STANDBY_S", "0.5")
    runner, _ = standby(fake)
    d = run_dir(tmp_path, "job-1")
    runner.start("job-1", d)  # still "importing": it reads the run dir when it is done
    assert ended(runner, "job-1") == 0
    assert (d / "how").read_text() == "standby"


def test_a_dead_standby_is_replaced_by_a_fresh_worker(
    fake: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_STANDBY_DIES", "1")
    runner, spare = standby(fake)
    spare.wait(10)
    assert not runner.warm()
    d = run_dir(tmp_path, "job-1")
    pid = runner.start("job-1", d)
    # a fresh worker: the run dir is its argument (readable once exec has set it up)
    wait_until(lambda: is_worker(pid, d), 5)
    assert ended(runner, "job-1") == 0
    assert (d / "how").read_text() == "fresh"


def test_without_standby_no_process_waits(fake: list[str], tmp_path: Path) -> None:
    runner = LocalRunner(fake)
    runner.keep_warm()
    assert runner._spare is None and not runner.warm()
    d = run_dir(tmp_path, "job-1")
    runner.start("job-1", d)
    assert ended(runner, "job-1") == 0
    assert (d / "how").read_text() == "fresh"


def test_close_ends_the_standby_worker(fake: list[str]) -> None:
    runner, spare = standby(fake)
    wait_until(runner.warm, 10)
    runner.close()
    assert spare.returncode is not None and runner._spare is None
    runner.keep_warm()  # the next keep_warm starts another one
    assert runner._spare is not None and runner._spare.pid != spare.pid
    runner.close()


def test_a_standby_that_dies_on_its_own_is_reported_and_not_restarted_at_every_tick(
    fake: list[str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from tools.training import runner as r

    monkeypatch.setenv("FAKE_STANDBY_DIES", "1")
    runner, first = standby(fake)
    first.wait(10)
    runner.keep_warm()  # the manager's next tick
    assert runner._spare is None and "exited with code 5 before any job" in caplog.text
    runner.keep_warm()
    assert runner._spare is None  # backs off for STANDBY_RETRY_S
    monkeypatch.setattr(r, "STANDBY_RETRY_S", 0.0)
    runner.keep_warm()
    assert runner._spare is not None and runner._spare.pid != first.pid
    runner.close()


def test_the_worker_takes_a_run_dir_or_standby_not_both() -> None:
    from tools.training.worker import main

    for argv in ([], ["--standby", "/tmp/x"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2


def test_close_does_not_wait_for_a_standby_still_importing(
    fake: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_STANDBY_S", "30")
    runner, spare = standby(fake)
    t0 = time.monotonic()
    runner.close()
    assert time.monotonic() - t0 < 2 and spare.returncode is not None


def test_a_standby_worker_whose_tutor_went_away_exits_without_a_job(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    from tools.training import worker

    monkeypatch.setattr(worker, "warm_imports", lambda: None)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # EOF: the pipe's other end closed
    assert worker.main(["--standby"]) == worker.EXIT_OK
    assert capsys.readouterr().out == "ready\n"
