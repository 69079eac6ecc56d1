"""Load benchmark (part of `make bench`): concurrent chat sessions and code runs against a served
tutor on loopback. Every request must succeed, every reply must land in its own learner's thread
(no cross-talk), every run must print its own session's value; prints p50/p95 latencies.

    .venv/bin/python scripts/bench_load.py                  # starts `tutor serve` itself
    .venv/bin/python scripts/bench_load.py --url http://127.0.0.1:7860 --chats 20 --runs 12
    .venv/bin/python scripts/bench_load.py --via gradio     # chat through the UI's /ask endpoint

When it starts the server itself it uses a temporary data dir (with a copy of ./var/chroma when
`make index` built one, so the index is warm) and the configured chat model, or the scripted
`fake` model when no model is built (`--llm` overrides; the report says which ran).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.served import ServedTutor  # noqa: E402

QUESTIONS = [
    "What is broadcasting in NumPy?",
    "How does k-means choose its clusters?",
    "What does dropout do?",
    "Explain the attention formula.",
    "What is a train/test split for?",
]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def chat_session(url: str, i: int, turns: int, via: str) -> dict[str, Any]:
    """One learner's conversation; checks that the thread holds exactly this learner's turns."""
    learner = f"bench-{i:02d}"
    latencies, thread_id, errors = [], None, []
    client = None
    if via == "gradio":
        from gradio_client import Client

        client = Client(url + "/", verbose=False)
    with httpx.Client(base_url=url, timeout=600) as http:
        sent = []
        for turn in range(turns):
            message = f"{QUESTIONS[(i + turn) % len(QUESTIONS)]} [ref {learner}/{turn}]"
            t0 = time.perf_counter()
            try:
                if client is not None:
                    out = client.predict(learner, message, thread_id or "", api_name="/ask")
                else:
                    r = http.post(
                        "/api/chat", json={"learner_id": learner, "message": message, "thread_id": thread_id}
                    )
                    r.raise_for_status()
                    out = r.json()
            except Exception as e:  # a failed turn is a result, not a crash of the benchmark
                errors.append(f"{learner} turn {turn}: {e}")
                break
            latencies.append(time.perf_counter() - t0)
            thread_id = out["thread_id"]
            sent.append((message, out["reply"]))
        if thread_id:
            th = http.get(f"/api/threads/{thread_id}").json()
            users = [m["content"] for m in th["messages"] if m["role"] == "user"]
            replies = [m["content"] for m in th["messages"] if m["role"] == "assistant"]
            if th.get("learner_id") != learner:
                errors.append(f"{learner}: thread {thread_id} belongs to {th.get('learner_id')}")
            if users != [m for m, _ in sent]:
                errors.append(f"{learner}: thread holds other messages than this learner's: {users}")
            if replies and sent and replies[-1] != sent[-1][1]:
                errors.append(f"{learner}: the reply it got is not the one stored in its thread")
    return {"latencies": latencies, "errors": errors}


def code_session(url: str, i: int) -> dict[str, Any]:
    """Two runs in one kernel session: the second must see the first's variable."""
    session, latencies, errors = f"bench-run-{i:02d}", [], []
    steps = [f"secret = {1000 + i}\nprint('set')", "print(secret * 2)"]
    with httpx.Client(base_url=url, timeout=300) as http:
        for step, code in enumerate(steps):
            t0 = time.perf_counter()
            r = http.post("/api/run", json={"code": code, "session_id": session})
            latencies.append(time.perf_counter() - t0)
            if r.status_code != 200 or r.json().get("status") != "ok":
                errors.append(f"{session} step {step}: {r.status_code} {r.text[:200]}")
                break
            if step == 1 and r.json()["stdout"].strip() != str(2 * (1000 + i)):
                errors.append(f"{session}: expected {2 * (1000 + i)}, got {r.json()['stdout']!r}")
    return {"latencies": latencies, "errors": errors}


def run_all(url: str, chats: int, turns: int, runs: int, via: str) -> dict[str, Any]:
    report: dict[str, Any] = {}
    with ThreadPoolExecutor(max_workers=chats + runs) as pool:
        t0 = time.perf_counter()
        chat_futs = [pool.submit(chat_session, url, i, turns, via) for i in range(chats)]
        run_futs = [pool.submit(code_session, url, i) for i in range(runs)]
        for name, futs in (("chat", chat_futs), ("run", run_futs)):
            results = [f.result() for f in futs]
            lat = [x for r in results for x in r["latencies"]]
            errors = [e for r in results for e in r["errors"]]
            report[name] = {
                "requests": len(lat),
                "failed": len(errors),
                "p50_s": round(pct(lat, 50), 3),
                "p95_s": round(pct(lat, 95), 3),
                "max_s": round(max(lat), 3) if lat else None,
                "mean_s": round(statistics.fmean(lat), 3) if lat else None,
                "errors": errors[:10],
            }
        report["wall_s"] = round(time.perf_counter() - t0, 1)
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", help="an already running tutor; default: start one")
    ap.add_argument("--chats", type=int, default=20, help="concurrent chat sessions")
    ap.add_argument("--turns", type=int, default=2, help="turns per chat session")
    ap.add_argument("--runs", type=int, default=12, help="concurrent code sessions (two runs each)")
    ap.add_argument(
        "--via", choices=["api", "gradio"], default="api", help="chat through /api/chat or the UI"
    )
    ap.add_argument(
        "--llm", choices=["auto", "local", "fake"], default="auto", help="chat model when starting one"
    )
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    ap.add_argument(
        "--warm",
        action="store_true",
        help="one chat and one run before the timings (default: none, "
        "the load starts the moment /readyz says 200)",
    )
    a = ap.parse_args()

    server = None
    llm = "as configured"
    url = a.url
    if not url:
        llm = a.llm
        if llm == "auto":
            llm = "local" if (REPO / "models" / "tutor-gpt" / "config.json").exists() else "fake"
        root = Path(tempfile.mkdtemp(prefix="tutor-bench-"))
        if (REPO / "var" / "chroma").is_dir():
            shutil.copytree(REPO / "var" / "chroma", root / "var" / "chroma")
        env = {
            "TUTOR_LLM_BACKEND": llm,
            "TUTOR_NOTES_DIR": str(REPO / "knowledge" / "notes"),
            "TUTOR_KERNEL_POOL_SIZE": "2",
        }
        server = ServedTutor(root, env=env, start_timeout_s=180).start()
        url = server.url
        ready_s = server.wait_ready()
        print(f"serving on {url} (chat model: {llm}); /readyz said 200 after {ready_s:.1f}s", file=sys.stderr)
        if a.warm:  # otherwise the load starts right after /readyz, as a proxy would send it
            chat_session(url, 99, 1, "api")
            code_session(url, 99)
    try:
        report = run_all(url, a.chats, a.turns, a.runs, a.via)
    finally:
        if server is not None:
            server.stop()
            shutil.rmtree(server.root, ignore_errors=True)
    report.update(chats=a.chats, turns=a.turns, runs=a.runs, via=a.via, llm=llm)
    if a.json:
        print(json.dumps(report, indent=1))
    else:
        print(
            f"{a.chats} chat sessions x {a.turns} turns (via {a.via}, model {llm}) and {a.runs} code sessions"
            f" x 2 runs, all at once: {report['wall_s']} s"
        )
        for name in ("chat", "run"):
            r = report[name]
            print(
                f"  {name:<5} {r['requests']:>3} ok-or-not requests, {r['failed']} failed;"
                f" p50 {r['p50_s']} s, p95 {r['p95_s']} s, max {r['max_s']} s"
            )
            for e in r["errors"]:
                print(f"    ! {e}")
    return 1 if report["chat"]["failed"] or report["run"]["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
