"""Retrieval benchmark: indexing throughput (chunks/s) and search latency, on the real notes.

    python scripts/bench_retrieval.py [--repeat 3] [--json]

Builds the index from scratch in a temporary directory (model load timed apart), then times an
incremental no-op build, the first (cold) search that builds BM25, and warm searches over the
dev and learner questions.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from knowledge.embedding import get_embedder  # noqa: E402
from knowledge.index import NoteIndex  # noqa: E402
from knowledge.retriever import Retriever  # noqa: E402


def questions() -> list[str]:
    out = []
    for name in ("dev_questions.tsv", "learner_questions.tsv"):
        with (REPO / "tests" / "data" / name).open(encoding="utf-8") as f:
            out += [r["question"] for r in csv.DictReader(f, delimiter="\t")]
    return out


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(p * len(values)))], 2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes-dir", type=Path, default=REPO / "knowledge" / "notes")
    ap.add_argument("--repeat", type=int, default=3, help="passes over the questions")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    t0 = time.perf_counter()
    get_embedder()
    load_s = time.perf_counter() - t0
    qs = questions()
    with tempfile.TemporaryDirectory() as tmp:
        index = NoteIndex(args.notes_dir, chroma_dir=Path(tmp) / "chroma")
        full = index.build()
        noop = index.build()
        retriever = Retriever(index)
        t0 = time.perf_counter()
        retriever.search(qs[0], k=5)
        cold_ms = (time.perf_counter() - t0) * 1000
        lat, cpu = [], []
        for _ in range(args.repeat):
            for q in qs:
                t0, c0 = time.perf_counter(), time.process_time()
                retriever.search(q, k=5)
                lat.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
        t0 = time.perf_counter()
        embed_n = 50
        for q in qs[:embed_n]:
            index.embedder.embed([q])
        embed_ms = (time.perf_counter() - t0) * 1000 / embed_n

    report: dict[str, Any] = {
        "notes": len(list(args.notes_dir.glob("*.md"))),
        "model_load_s": round(load_s, 2),
        "loadavg": [round(x, 1) for x in os.getloadavg()],
        "index_full": {
            "chunks": full.chunks,
            "seconds": full.seconds,
            "chunks_per_s": round(full.chunks / full.seconds, 1),
        },
        "index_noop_s": noop.seconds,
        "search": {
            "queries": len(lat),
            "first_query_ms": round(cold_ms, 1),
            "p50_ms": pct(lat, 0.5),
            "p95_ms": pct(lat, 0.95),
            "cpu_p50_ms": pct(cpu, 0.5),
            "mean_ms": round(statistics.fmean(lat), 2),
            "query_embedding_ms": round(embed_ms, 2),
            "queries_per_s": round(1000 / statistics.fmean(lat), 1),
        },
    }
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        f, s = report["index_full"], report["search"]
        print(
            f"notes {report['notes']}, model load {report['model_load_s']} s, load average {report['loadavg']}"
        )
        print(f"index from scratch: {f['chunks']} chunks in {f['seconds']} s = {f['chunks_per_s']} chunks/s")
        print(f"incremental no-op build: {report['index_noop_s']} s")
        print(
            f"search ({s['queries']} warm queries, k=5): p50 {s['p50_ms']} ms, p95 {s['p95_ms']} ms, "
            f"CPU p50 {s['cpu_p50_ms']} ms, "
            f"{s['queries_per_s']} q/s; first query (builds BM25) {s['first_query_ms']} ms; "
            f"query embedding alone {s['query_embedding_ms']} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
