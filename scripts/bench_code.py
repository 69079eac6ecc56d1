"""Benchmarks of the code tools (``make bench``): warm-pool run latency, kernel start, grading
throughput. Prints a table; ``--json`` prints one JSON document on stdout instead.

    python scripts/bench_code.py [--runs 50] [--starts 5] [--rounds 2] [--url http://127.0.0.1:7860]

With ``--url`` the run latency is also measured through ``POST /api/run`` of a running tutor
(``--api-key`` if it needs one). Figures depend on the machine and its load: compare on one box.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from curriculum.exercises import load_exercises  # noqa: E402
from tools._kernel_process import SandboxedKernel  # noqa: E402
from tools.grader import Grader  # noqa: E402
from tools.kernel import KernelManager  # noqa: E402
from tools.sandbox import Sandbox  # noqa: E402

REFERENCE_SUBMISSIONS = {
    "gradient-descent": "pass_vectorised.py",
    "attention": "pass_numpy.py",
    "positional-encoding": "pass_numpy.py",
    "classification-metrics": "pass_loops.py",
    "kmeans": "pass_kmeanspp.py",
    "pca": "pass_svd.py",
    "digits-classifier": "pass_svc.py",
    "mlp-forward": "pass_numpy.py",
}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_runs(root: Path, runs: int, sandbox: bool) -> dict[str, float]:
    """``execute('1+1')`` without a session, each on a kernel taken from a warm pool."""
    with KernelManager(root, sandbox=sandbox, pool_size=2) as km:
        times = []
        for _ in range(runs):
            _wait_pool(km)
            start = time.perf_counter()
            result = km.execute("1 + 1")
            times.append(time.perf_counter() - start)
            assert result.status == "ok", result
    return {"p50_ms": 1000 * statistics.median(times), "p90_ms": 1000 * _pct(times, 0.9), "n": runs}


def bench_http(url: str, api_key: str | None, runs: int) -> dict[str, float]:
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    times = []
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        for _ in range(runs):
            time.sleep(1.0)  # let the pool refill, as between a learner's runs
            start = time.perf_counter()
            r = client.post("/api/run", json={"code": "1 + 1"})
            times.append(time.perf_counter() - start)
            r.raise_for_status()
    return {"p50_ms": 1000 * statistics.median(times), "p90_ms": 1000 * _pct(times, 0.9), "n": runs}


def _wait_pool(km: KernelManager, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while km.stats()["pool"] < 1 and time.monotonic() < end:
        time.sleep(0.02)


def bench_starts(root: Path, starts: int, sandbox: bool) -> dict[str, float]:
    box = Sandbox(enabled=sandbox)
    times = []
    for _ in range(starts):
        start = time.perf_counter()
        kernel = SandboxedKernel(box, root).start()
        times.append(time.perf_counter() - start)
        kernel.close()
    return {"median_s": statistics.median(times), "max_s": max(times), "n": starts}


def bench_grading(root: Path, rounds: int, sandbox: bool, workers: int) -> dict[str, Any]:
    grader = Grader(load_exercises(), root, sandbox=sandbox, max_busy=workers)
    subs = REPO / "tests" / "data" / "submissions"
    jobs = [(ex, (subs / ex / name).read_text()) for ex, name in REFERENCE_SUBMISSIONS.items()] * rounds
    per: dict[str, list[float]] = {}
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        reports = list(pool.map(lambda job: grader.grade(*job), jobs))
    elapsed = time.perf_counter() - start
    for (ex, _), report in zip(jobs, reports, strict=True):
        assert report.passed, (ex, report.feedback)
        per.setdefault(ex, []).append(report.duration_s)
    return {
        "submissions": len(jobs),
        "seconds": elapsed,
        "per_minute": 60 * len(jobs) / elapsed,
        "workers": workers,
        "median_s_by_exercise": {ex: statistics.median(v) for ex, v in per.items()},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=50, help="trivial runs on a warm pool")
    ap.add_argument("--starts", type=int, default=5, help="cold kernel starts")
    ap.add_argument("--rounds", type=int, default=2, help="rounds over the 8 reference submissions")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="concurrent gradings")
    ap.add_argument("--url", help="also time POST /api/run on this running tutor")
    ap.add_argument("--api-key")
    ap.add_argument("--unsafe", action="store_true", help="without the sandbox (for comparison only)")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args(argv)
    sandbox = not args.unsafe
    with tempfile.TemporaryDirectory(prefix="tutor-bench-") as tmp:
        root = Path(tmp)
        out: dict[str, Any] = {
            "sandbox": sandbox,
            "cpus": os.cpu_count(),
            "load_avg_1m": os.getloadavg()[0],
            "warm_run": bench_runs(root / "runs", args.runs, sandbox),
            "kernel_start": bench_starts(root / "starts", args.starts, sandbox),
            "grading": bench_grading(root / "grading", args.rounds, sandbox, args.workers),
        }
    if args.url:
        out["http_run"] = bench_http(args.url, args.api_key, args.runs)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    run, start, grading = out["warm_run"], out["kernel_start"], out["grading"]
    rows = [
        ("warm-pool run '1 + 1' p50 / p90", f"{run['p50_ms']:.1f} / {run['p90_ms']:.1f} ms"),  # type: ignore[index]
        ("kernel start (sandboxed) median / max", f"{start['median_s']:.2f} / {start['max_s']:.2f} s"),  # type: ignore[index]
        (
            f"grading throughput ({grading['workers']} workers)",
            f"{grading['per_minute']:.1f} submissions/min",
        ),  # type: ignore[index]
    ]
    if "http_run" in out:
        h = out["http_run"]
        rows.append(("POST /api/run p50 / p90", f"{h['p50_ms']:.1f} / {h['p90_ms']:.1f} ms"))  # type: ignore[index]
    for ex, s in grading["median_s_by_exercise"].items():  # type: ignore[index]
        rows.append((f"  grade {ex}", f"{s:.2f} s"))
    width = max(len(r[0]) for r in rows)
    print(f"code tools benchmark (sandbox={sandbox}, {out['cpus']} CPUs, load {out['load_avg_1m']:.1f})")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
