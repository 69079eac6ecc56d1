"""Real training jobs through JobManager and the real worker process: one per kind, cancel,
crash-and-resume. Tiny models, so the whole file takes well under a minute on 2 cores."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from storage.store import Store
from tests.training_helpers import wait_until, write_corpus, write_notes
from tools.training.jobs import JobManager

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TINY = {
    "base": "scratch",
    "tokenizer": "char",
    "n_layer": 2,
    "n_head": 2,
    "n_embd": 32,
    "block_size": 32,
    "batch_size": 8,
    "lr": 3e-3,
}


@pytest.fixture()
def jobs(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path / 'tutor.db'}")
    jm = JobManager(
        store,
        tmp_path / "runs",
        tmp_path / "models",
        tmp_path / "bundled",
        notes_dir=write_notes(tmp_path / "notes"),
        max_concurrent=2,
        poll_s=0.1,
    )
    yield jm
    jm.close()
    store.close()


def group_members(pgid: int) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                pids.append(int(proc.name))
    return pids


def test_sklearn_job(jobs: JobManager) -> None:
    job = jobs.submit(
        "sklearn", {"dataset": "digits", "estimator": "svm", "params": {"C": 2.0}, "cv": 3}, learner_id="ada"
    )
    job = jobs.wait(job["job_id"], timeout_s=90)
    assert job["status"] == "succeeded", job["error"]
    assert job["metrics"]["accuracy"] > 0.9 and len(job["metrics"]["history"]) == 3
    plot = next(a for a in job["artifacts"] if a["name"] == "confusion_matrix")
    assert Path(plot["path"]).read_bytes().startswith(b"\x89PNG")
    assert [j["job_id"] for j in jobs.list("ada")] == [job["job_id"]]


def test_gpt_job_from_scratch_then_lora_fine_tune(jobs: JobManager, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus.txt")
    job = jobs.wait(
        jobs.submit("gpt", {**TINY, "data": str(corpus), "max_steps": 40})["job_id"], timeout_s=120
    )
    assert job["status"] == "succeeded", job["error"]
    m = job["metrics"]
    assert m["val_loss"] < 3.5 and m["tokens_per_s"] > 0 and m["steps"] == 40
    assert [h["step"] for h in m["history"] if "val_loss" in h] == [10, 20, 30, 40]
    # the training worker spins its OpenMP threads briefly (this process has no spin count)
    assert "GOMP_SPINCOUNT" not in os.environ
    log = (tmp_path / "runs" / job["job_id"] / "worker.log").read_text()
    assert "OpenMP wait policy PASSIVE, spin count 3000000" in log
    model = jobs.registry.get(job["model_id"])
    assert model["available"] and model["base"] is None and model["metrics"]["val_loss"] == m["val_loss"]
    jobs.registry.set_active(job["model_id"])

    # the default base is now that model: a LoRA fine-tune on one module's notes
    tuned = jobs.submit("gpt", {"data": ["m8"], "lora": True, "max_steps": 10, "batch_size": 4})
    tuned = jobs.wait(tuned["job_id"], timeout_s=120)
    assert tuned["status"] == "succeeded", tuned["error"]
    model = jobs.registry.get(tuned["model_id"])
    assert model["base"] == job["model_id"] and model["data"]["topics"] == ["m8.attention", "m8.gpt"]

    from transformers import AutoModelForCausalLM, AutoTokenizer

    loaded = AutoModelForCausalLM.from_pretrained(model["path"])
    tok = AutoTokenizer.from_pretrained(model["path"])
    assert loaded.config.n_embd == 32 and len(tok) == loaded.config.vocab_size
    assert not any("lora" in k for k in loaded.state_dict())  # adapters merged: a plain model dir


def test_cancel_within_15_s_leaves_no_process(jobs: JobManager, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus.txt")
    job_id = jobs.submit("gpt", {**TINY, "data": str(corpus), "max_steps": 100_000})["job_id"]
    wait_until(lambda: jobs.get(job_id)["metrics"]["history"], 60, every_s=0.1)
    pid = jobs.get(job_id)["pid"]
    t0 = time.monotonic()
    job = jobs.cancel(job_id)
    assert time.monotonic() - t0 < 15
    assert job["status"] == "cancelled"
    assert group_members(pid) == []


def test_killed_worker_resumes_to_the_uninterrupted_result(jobs: JobManager, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus.txt")
    params = {**TINY, "data": str(corpus), "max_steps": 200, "eval_interval": 25}
    straight = jobs.submit("gpt", params)["job_id"]
    crashed = jobs.submit("gpt", params)["job_id"]  # both run at once (max_concurrent=2)
    state = jobs.run_dir(crashed) / "model" / "checkpoint" / "state.json"
    wait_until(state.exists, 90, every_s=0.02)
    assert jobs.get(crashed)["status"] == "running"
    os.kill(jobs.get(crashed)["pid"], signal.SIGKILL)
    job = wait_until(lambda: (j := jobs.get(crashed))["status"] == "interrupted" and j, 15)
    assert "resume" in job["error"]
    jobs.resume(crashed)
    a, b = jobs.wait(straight, timeout_s=120), jobs.wait(crashed, timeout_s=120)
    assert a["status"] == b["status"] == "succeeded", (a["error"], b["error"])
    assert abs(a["metrics"]["val_loss"] - b["metrics"]["val_loss"]) < 0.02
    assert [h["step"] for h in b["metrics"]["history"]] == [h["step"] for h in a["metrics"]["history"]]


def test_a_standby_worker_runs_the_next_job_and_another_waits_after_it(tmp_path: Path) -> None:
    """TUTOR_JOB_STANDBY: the real worker does its imports before a job comes, runs it like a
    fresh worker (the same result, its log in the run dir), and a new standby starts once the
    job is done, never while it runs."""
    from tools.training.runner import is_worker

    store = Store(f"sqlite:///{tmp_path / 'tutor.db'}")
    jm = JobManager(
        store, tmp_path / "runs", tmp_path / "models", tmp_path / "bundled", poll_s=0.1, standby=True
    )
    try:
        wait_until(jm.warm, 120)
        standby_pid = jm.runner._spare.pid  # type: ignore[attr-defined]
        corpus = write_corpus(tmp_path / "corpus.txt")
        job_id = jm.submit("gpt", {**TINY, "data": str(corpus), "max_steps": 300})["job_id"]
        run_dir = (tmp_path / "runs" / job_id).resolve()
        wait_until(lambda: jm.get(job_id)["status"] == "running" and jm.get(job_id)["progress"] > 0, 60)
        assert jm.get(job_id)["pid"] == standby_pid and is_worker(standby_pid, run_dir)
        assert jm.runner._spare is None  # type: ignore[attr-defined]  # none starts while a job runs
        job = jm.wait(job_id, timeout_s=120)
        assert job["status"] == "succeeded", job["error"]
        assert "succeeded" in (run_dir / "worker.log").read_text()
        assert "succeeded" in (run_dir / "output.log").read_text()  # its stderr went there
        wait_until(jm.warm, 120)
        assert jm.runner._spare.pid != standby_pid  # type: ignore[attr-defined]
    finally:
        jm.close()
        store.close()
    assert jm.runner._spare is None  # type: ignore[attr-defined]
