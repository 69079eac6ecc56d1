"""Jobs on a real Ray cluster: a local head on loopback (``ray start --head``), Ray Jobs API.

One head for the whole file (starting one takes ~20 s on 2 cores). At the end only the Ray
processes of this head are stopped (found by its own temp dir), not every Ray process on the
machine as ``ray stop`` would.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.store import Store
from tests.training_helpers import wait_until, write_corpus
from tools.training.jobs import JobManager

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RAY = Path(sys.executable).parent / "ray"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _our_processes(temp_dir: str, gcs_port: int) -> list:
    """This head's processes: those naming its temp dir or its GCS port, and their children."""
    import psutil

    roots = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if any(
            temp_dir in part or (part.startswith("--address=") and part.endswith(f":{gcs_port}"))
            for part in cmd
        ):
            roots.append(p)
    found = {p.pid: p for p in roots}
    for p in roots:
        try:
            found.update({c.pid: c for c in p.children(recursive=True)})
        except psutil.NoSuchProcess:
            pass
    return list(found.values())


@pytest.fixture(scope="module")
def ray_head() -> Iterator[str]:
    import psutil

    if not RAY.exists():
        pytest.skip(f"ray CLI not found at {RAY}")
    temp_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # unix socket paths must stay short
    port, dashboard, client = free_port(), free_port(), free_port()
    cmd = [
        str(RAY),
        "start",
        "--head",
        f"--port={port}",
        "--num-cpus=1",
        "--node-ip-address=127.0.0.1",
        "--include-dashboard=true",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dashboard}",
        f"--temp-dir={temp_dir}",
        "--disable-usage-stats",
        f"--ray-client-server-port={client}",
    ]  # not the default 10001, which another head may hold
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    started = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    try:
        if started.returncode != 0:
            pytest.fail(f"ray start failed:\n{started.stdout[-2000:]}\n{started.stderr[-2000:]}")
        yield f"http://127.0.0.1:{dashboard}"
    finally:
        procs = _our_processes(temp_dir, port)
        for p in procs:
            try:
                p.terminate()
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(procs, timeout=3)
        for p in alive:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_jobs_run_and_cancel_on_a_ray_cluster(ray_head: str, tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'tutor.db'}")
    jobs = JobManager(
        store,
        tmp_path / "runs",
        tmp_path / "models",
        tmp_path / "bundled",
        backend="ray",
        ray_address=ray_head,
        max_concurrent=2,
        poll_s=0.2,
    )
    try:
        done = jobs.submit("sklearn", {"dataset": "iris", "estimator": "knn", "cv": 3})
        corpus = write_corpus(tmp_path / "corpus.txt")
        long = jobs.submit(
            "gpt",
            {
                "data": str(corpus),
                "base": "scratch",
                "tokenizer": "char",
                "n_layer": 1,
                "n_head": 2,
                "n_embd": 16,
                "block_size": 16,
                "batch_size": 4,
                "max_steps": 1_000_000,
            },
        )
        done = jobs.wait(done["job_id"], timeout_s=120)
        assert done["status"] == "succeeded", (done["error"], done["logs_tail"])
        assert done["metrics"]["accuracy"] > 0.9 and done["pid"] is None  # ran under Ray, not as our child
        assert (jobs.run_dir(done["job_id"]) / "ray_submission_id").read_text().startswith("tutor-")

        wait_until(lambda: jobs.get(long["job_id"])["metrics"]["history"], 120, every_s=0.2)
        t0 = time.monotonic()
        assert jobs.cancel(long["job_id"])["status"] == "cancelled"
        assert time.monotonic() - t0 < 15
        from ray.job_submission import JobStatus

        sid = (jobs.run_dir(long["job_id"]) / "ray_submission_id").read_text()
        assert jobs.runner.client.get_job_status(sid) in (JobStatus.STOPPED, JobStatus.FAILED)  # type: ignore[attr-defined]
    finally:
        jobs.close()
        store.close()
