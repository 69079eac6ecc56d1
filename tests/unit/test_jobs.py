"""JobManager scheduling, cancel, crash handling, restart recovery and resume, with a fake worker.

The fake worker is a small script that behaves according to the job's ``seed`` (0 succeed,
1 crash, 2 run until SIGTERM, 3 ignore SIGTERM with a child process), so these tests check the
manager's bookkeeping in seconds; tests/integration/test_jobs_e2e.py runs the real worker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storage.store import Store
from tests.training_helpers import wait_until
from tools.training.jobs import JobManager
from tools.training.runner import LocalRunner, is_worker
from tutor.errors import Conflict

FAKE_WORKER = r"""
import json, os, signal, subprocess, sys, time
from pathlib import Path
from storage.store import Store
run_dir = Path(sys.argv[-1])
spec = json.loads((run_dir / "spec.json").read_text())
store, job_id, mode = Store(spec["db_url"]), spec["job_id"], spec["params"]["seed"]
with open(run_dir / "attempts", "a") as f:
    f.write("x")
if mode == 0:
    time.sleep(0.3)
    store.update_job(job_id, status="succeeded", progress=1.0, metrics={"history": [{"step": 1, "loss": 2.0}]})
elif mode == 1:
    os._exit(9)
elif mode == 2:
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    store.update_job(job_id, progress=0.5, metrics={"history": [{"step": 1, "loss": 3.0}, {"step": 2, "loss": 2.5}]})
    while not stop:
        time.sleep(0.05)
    store.update_job(job_id, status="interrupted")
    sys.exit(3)
elif mode == 3:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen(["sleep", "60"])
    (run_dir / "child_pid").write_text(str(child.pid))
    time.sleep(60)
"""

SUCCEED, CRASH, RUN_UNTIL_STOPPED, IGNORE_SIGTERM = 0, 1, 2, 3


@pytest.fixture()
def env(tmp_path: Path) -> dict:
    worker = tmp_path / "fake_worker.py"
    worker.write_text(FAKE_WORKER)
    return {"store": Store(f"sqlite:///{tmp_path / 'db.sqlite'}"), "tmp": tmp_path, "worker": worker}


def manager(env: dict, **kw: object) -> JobManager:
    kw.setdefault("poll_s", 0.05)
    return JobManager(
        env["store"],
        env["tmp"] / "runs",
        env["tmp"] / "models",
        env["tmp"] / "bundled",
        runner=LocalRunner([sys.executable, str(env["worker"])]),
        **kw,  # type: ignore[arg-type]
    )


def submit(jm: JobManager, mode: int) -> str:
    return jm.submit("sklearn", {"dataset": "iris", "estimator": "knn", "seed": mode})["job_id"]


def status_is(jm: JobManager, job_id: str, *statuses: str) -> bool:
    return jm.get(job_id)["status"] in statuses


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/cmdline").read_bytes() != b""  # a zombie has an empty cmdline


def test_jobs_queue_and_at_most_max_concurrent_run(env: dict) -> None:
    jm = manager(env, max_concurrent=1)
    try:
        ids = [submit(jm, SUCCEED) for _ in range(3)]
        most = 0
        deadline = time.monotonic() + 30
        while not all(status_is(jm, i, "succeeded") for i in ids):
            assert time.monotonic() < deadline, [jm.get(i)["status"] for i in ids]
            most = max(most, sum(j["status"] == "running" for j in jm.list()))
            time.sleep(0.02)
        assert most == 1
        job = jm.get(ids[0])
        assert job["kind"] == "sklearn" and job["progress"] == 1.0 and job["error"] is None
        assert set(job) >= {"job_id", "kind", "status", "progress", "metrics", "model_id", "error"}
        assert jm.loss_curve(ids[0]).startswith(b"\x89PNG")
    finally:
        jm.close()


def test_crashed_worker_is_interrupted_and_can_resume(env: dict) -> None:
    jm = manager(env)
    try:
        job_id = submit(jm, CRASH)
        wait_until(lambda: status_is(jm, job_id, "interrupted"), 15)
        assert "code 9" in jm.get(job_id)["error"] and "resume" in jm.get(job_id)["error"]
        assert jm.resume(job_id)["status"] in ("queued", "running")
        wait_until(lambda: (jm.run_dir(job_id) / "attempts").read_text() == "xx", 15)
        wait_until(lambda: status_is(jm, job_id, "interrupted"), 15)
    finally:
        jm.close()


def test_resume_refuses_by_the_jobs_state_with_conflict(env: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lost race (someone resumed it first) and a vanished run dir are the job's state, not the
    caller's input: Conflict (409), and the job is left as it was."""
    jm = manager(env)
    try:
        job_id = submit(jm, CRASH)
        wait_until(lambda: status_is(jm, job_id, "interrupted"), 15)
        with monkeypatch.context() as m:
            m.setattr(jm.store, "transition_job", lambda *a, **k: False)
            with pytest.raises(Conflict, match="meanwhile; it was not resumed"):
                jm.resume(job_id)
        (jm.run_dir(job_id) / "spec.json").unlink()
        with pytest.raises(Conflict, match="has no run dir"):
            jm.resume(job_id)
        assert status_is(jm, job_id, "interrupted")
    finally:
        jm.close()


def test_cancel_a_running_job(env: dict) -> None:
    jm = manager(env)
    try:
        job_id = submit(jm, RUN_UNTIL_STOPPED)
        wait_until(lambda: jm.get(job_id)["progress"] == 0.5, 15)
        pid = jm.get(job_id)["pid"]
        t0 = time.monotonic()
        job = jm.cancel(job_id)
        assert time.monotonic() - t0 < 5
        assert job["status"] == "cancelled" and not alive(pid)
        assert jm.resume(job_id)["status"] in ("queued", "running")  # a cancelled job may go on
        with pytest.raises(Conflict, match="only interrupted, failed, cancelled"):  # now queued
            jm.resume(job_id)
        assert jm.cancel(job_id)["status"] == "cancelled"
    finally:
        jm.close()


def test_cancel_kills_a_worker_that_ignores_sigterm_and_its_children(env: dict) -> None:
    jm = manager(env, stop_grace_s=1.0)
    try:
        job_id = submit(jm, IGNORE_SIGTERM)
        child_file = jm.run_dir(job_id) / "child_pid"
        wait_until(child_file.exists, 15)
        pid, child = jm.get(job_id)["pid"], int(child_file.read_text())
        t0 = time.monotonic()
        assert jm.cancel(job_id)["status"] == "cancelled"
        assert time.monotonic() - t0 < 4
        wait_until(lambda: not alive(child), 2)
        assert not alive(pid)
    finally:
        jm.close()


def test_cancel_a_queued_job_never_starts_it(env: dict) -> None:
    jm = manager(env, max_concurrent=1)
    try:
        first = submit(jm, RUN_UNTIL_STOPPED)
        wait_until(lambda: status_is(jm, first, "running"), 15)
        second = submit(jm, SUCCEED)
        assert jm.cancel(second)["status"] == "cancelled"
        jm.cancel(first)
        time.sleep(0.3)
        assert not (jm.run_dir(second) / "attempts").exists()
        assert jm.cancel(second)["status"] == "cancelled"  # cancelling twice is harmless
    finally:
        jm.close()


def test_close_interrupts_and_a_new_manager_resumes(env: dict) -> None:
    jm = manager(env)
    job_id = submit(jm, RUN_UNTIL_STOPPED)
    wait_until(lambda: jm.get(job_id)["progress"] == 0.5, 15)
    pid = jm.get(job_id)["pid"]
    jm.close()
    assert jm.get(job_id)["status"] == "interrupted" and not alive(pid)
    with pytest.raises(RuntimeError, match="closed"):
        submit(jm, SUCCEED)
    jm2 = manager(env)
    try:
        assert jm2.get(job_id)["status"] == "interrupted"
        jm2.resume(job_id)
        wait_until(lambda: (jm2.run_dir(job_id) / "attempts").read_text() == "xx", 15)
        assert jm2.cancel(job_id)["status"] == "cancelled"
    finally:
        jm2.close()


def test_cancel_from_another_manager_stops_the_worker(env: dict) -> None:
    server, cli = manager(env), manager(env)
    try:
        job_id = submit(server, RUN_UNTIL_STOPPED)
        wait_until(lambda: server.get(job_id)["progress"] == 0.5, 15)
        pid = server.get(job_id)["pid"]
        assert cli.cancel(job_id)["status"] == "cancelled"
        # by command line, not bare pid: pids wrap quickly here (pid_max 32768) under a full suite
        run_dir = (env["tmp"] / "runs" / job_id).resolve()
        wait_until(lambda: not is_worker(pid, run_dir), 5)
        time.sleep(0.2)  # the owning manager reaps it and must not overwrite the status
        assert server.get(job_id)["status"] == "cancelled"
    finally:
        server.close()
        cli.close()


def test_restart_marks_a_job_whose_worker_is_gone_interrupted(env: dict) -> None:
    store: Store = env["store"]
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store.create_job("sklearn-old", "sklearn", {})
    store.update_job("sklearn-old", status="running", pid=dead.pid)
    jm = manager(env)
    try:
        job = jm.get("sklearn-old")
        assert job["status"] == "interrupted" and "worker is gone" in job["error"]
    finally:
        jm.close()


def test_unknown_jobs_and_refused_submissions(env: dict) -> None:
    jm = manager(env)
    try:
        for call in (jm.get, jm.cancel, jm.resume):
            with pytest.raises(LookupError, match="job 'nope' not found"):
                call("nope")
        with pytest.raises(ValueError, match="unknown dataset"):
            jm.submit("sklearn", {"dataset": "mnist", "estimator": "svm"})
        assert jm.list() == []
        done = submit(jm, SUCCEED)
        wait_until(lambda: status_is(jm, done, "succeeded"), 15)
        with pytest.raises(Conflict, match="job .* is succeeded; only interrupted"):
            jm.resume(done)
        spec = json.loads((jm.run_dir(done) / "spec.json").read_text())
        assert spec["db_url"] == env["store"].url and spec["kind"] == "sklearn"
    finally:
        jm.close()


def test_worker_history_after_resume_has_no_duplicate_steps(env: dict) -> None:
    from tools.training.worker import Worker

    store: Store = env["store"]
    run_dir = env["tmp"] / "run"
    run_dir.mkdir()
    spec = {
        "job_id": "gpt-x",
        "kind": "gpt",
        "db_url": store.url,
        "models_dir": str(env["tmp"]),
        "bundled_models_dir": str(env["tmp"]),
    }
    (run_dir / "spec.json").write_text(json.dumps(spec))
    store.create_job("gpt-x", "gpt", {})
    w = Worker(run_dir)
    for step in (10, 20, 30):  # checkpoint at 20, then killed after 30
        w.on_progress(
            {"step": step, "loss": 4.0 - step / 100, "val_loss": 4.0, "lr": 1e-3, "progress": step / 40}
        )
    resumed = Worker(run_dir)  # reads the history written so far
    resumed.on_progress({"step": 30, "loss": 3.7, "val_loss": 3.9, "lr": 1e-3, "progress": 0.75})
    resumed.on_progress(
        {"step": 40, "loss": 3.6, "val_loss": 3.8, "lr": 1e-3, "tokens_per_s": 99.0, "progress": 1.0}
    )
    job = store.get_job("gpt-x")
    assert job is not None
    assert [h["step"] for h in job["metrics"]["history"]] == [10, 20, 30, 40]
    assert (
        job["metrics"]["val_loss"] == 3.8
        and job["metrics"]["tokens_per_s"] == 99.0
        and job["progress"] == 1.0
    )


def test_sigkill_of_the_scheduler_owner_is_seen_by_pid(env: dict) -> None:
    # a worker killed with SIGKILL leaves no status behind; its manager marks it interrupted
    jm = manager(env)
    try:
        job_id = submit(jm, RUN_UNTIL_STOPPED)
        wait_until(lambda: jm.get(job_id)["progress"] == 0.5, 15)
        os.kill(jm.get(job_id)["pid"], signal.SIGKILL)
        wait_until(lambda: status_is(jm, job_id, "interrupted"), 5)
        assert "-9" in jm.get(job_id)["error"]
    finally:
        jm.close()


def test_worker_stops_on_a_cancel_recorded_in_the_store_and_keeps_that_status(env: dict) -> None:
    from tools.training.worker import Worker

    store: Store = env["store"]
    run_dir = env["tmp"] / "run"
    run_dir.mkdir()
    spec = {
        "job_id": "gpt-y",
        "kind": "gpt",
        "db_url": store.url,
        "models_dir": str(env["tmp"]),
        "bundled_models_dir": str(env["tmp"]),
    }
    (run_dir / "spec.json").write_text(json.dumps(spec))
    store.create_job("gpt-y", "gpt", {})
    store.update_job("gpt-y", status="running")
    w = Worker(run_dir)
    w.on_progress({"step": 10, "loss": 3.0, "val_loss": 3.1, "progress": 0.1})
    assert not w.stop.is_set()
    store.update_job("gpt-y", status="cancelled")  # e.g. cancelled from a tutor on another host
    w.on_progress({"step": 20, "loss": 2.9, "val_loss": 3.0, "progress": 0.2})
    assert w.stop.is_set()
    w._finish("interrupted", metrics={"history": w.history}, error="stopped")
    job = store.get_job("gpt-y")
    assert job is not None and job["status"] == "cancelled" and len(job["metrics"]["history"]) == 2


def test_worker_throttles_progress_writes(env: dict) -> None:
    from tools.training import worker as worker_mod

    store: Store = env["store"]
    run_dir = env["tmp"] / "run"
    run_dir.mkdir()
    spec = {
        "job_id": "gpt-z",
        "kind": "gpt",
        "db_url": store.url,
        "models_dir": str(env["tmp"]),
        "bundled_models_dir": str(env["tmp"]),
    }
    (run_dir / "spec.json").write_text(json.dumps(spec))
    store.create_job("gpt-z", "gpt", {})
    w = worker_mod.Worker(run_dir)
    writes = []
    w.store.update_job = lambda job_id, **f: writes.append(f)  # type: ignore[method-assign]
    for step in range(1, 51):  # what train_gpt sends between evaluations: val_loss None
        w.on_progress({"step": step, "loss": 3.0, "val_loss": None, "lr": 1e-3, "progress": step / 100})
    assert len(writes) == 1  # the first one; the rest fall within WRITE_EVERY_S
    w.on_progress({"step": 51, "loss": 3.0, "val_loss": 2.9, "lr": 1e-3, "progress": 0.51})
    assert len(writes) == 2 and writes[-1]["metrics"]["val_loss"] == 2.9
