"""Retrieval eval: hybrid retriever vs a dense-only baseline over naive 800-character chunks.

For each question set (TSV: topic_id<TAB>question) it reports recall@5 (the asked topic is among
the first 5 passages), MRR@10 and warm p50/p95 search latency, for both systems side by side,
plus the time to build each index from scratch. Everything is built in a temporary directory.

    python scripts/eval_retrieval.py            # table on stdout
    python scripts/eval_retrieval.py --json     # one JSON document on stdout
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
from knowledge.notes_format import split_front_matter  # noqa: E402
from knowledge.retriever import Retriever  # noqa: E402

DEFAULT_SETS = {
    "dev": REPO / "tests" / "data" / "dev_questions.tsv",
    "learner": REPO / "tests" / "data" / "learner_questions.tsv",
}


def read_questions(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8") as f:
        return [(r["topic_id"], r["question"]) for r in csv.DictReader(f, delimiter="\t")]


class DenseBaseline:
    """Dense-only search over fixed 800-character windows of each note's body (no headings kept)."""

    def __init__(self, notes_dir: Path, chroma_dir: Path, size: int = 800) -> None:
        import chromadb
        from chromadb.config import Settings

        self.embedder = get_embedder()
        client = chromadb.PersistentClient(
            path=str(chroma_dir), settings=Settings(anonymized_telemetry=False)
        )
        start = time.perf_counter()
        ids: list[str] = []
        docs: list[str] = []
        metas: list[Any] = []
        for path in sorted(notes_dir.glob("*.md")):
            meta, body = split_front_matter(path.read_text(encoding="utf-8"), str(path))
            for i in range(0, len(body), size):
                ids.append(f"{path.name}:{i}")
                docs.append(body[i : i + size])
                metas.append({"topic_id": str(meta["topic_id"])})
        self.coll = client.get_or_create_collection(
            "baseline", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
        )
        for i in range(0, len(ids), 128):
            vecs = self.embedder.embed(docs[i : i + 128])
            self.coll.add(
                ids=ids[i : i + 128],
                embeddings=vecs.tolist(),
                documents=docs[i : i + 128],
                metadatas=metas[i : i + 128],
            )
        self.chunks = len(ids)
        self.build_seconds = time.perf_counter() - start

    def topics(self, query: str, k: int) -> list[str]:
        vec = self.embedder.embed([query])[0].tolist()
        res = self.coll.query(query_embeddings=[vec], n_results=k, include=["metadatas"])
        return [str(m["topic_id"]) for m in (res["metadatas"] or [[]])[0]]


def evaluate(search: Any, questions: list[tuple[str, str]]) -> dict[str, Any]:
    search(questions[0][1])  # warm: first-call costs are not search latency
    hits, rr, lat, cpu, misses = 0, 0.0, [], [], []
    for topic, q in questions:
        t0, c0 = time.perf_counter(), time.process_time()
        ranked = search(q)
        lat.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        if topic in ranked[:5]:
            hits += 1
        else:
            misses.append({"topic_id": topic, "question": q, "got": ranked[:5]})
        if topic in ranked:
            rr += 1.0 / (ranked.index(topic) + 1)
    lat.sort()
    return {
        "n": len(questions),
        "recall@5": round(hits / len(questions), 4),
        "mrr@10": round(rr / len(questions), 4),
        "p50_ms": round(statistics.median(lat), 1),
        "p95_ms": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 1),
        # CPU time of this process per query: what a query costs when the machine is shared
        "cpu_p50_ms": round(statistics.median(cpu), 1),
        "misses": misses,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes-dir", type=Path, default=REPO / "knowledge" / "notes")
    ap.add_argument(
        "--set", action="append", metavar="NAME=TSV", help="question set (default: dev and learner)"
    )
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    ap.add_argument("--misses", action="store_true", help="list the questions each system missed")
    args = ap.parse_args()
    sets = dict(s.split("=", 1) for s in args.set) if args.set else DEFAULT_SETS

    t0 = time.perf_counter()
    get_embedder()
    load_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        index = NoteIndex(args.notes_dir, chroma_dir=Path(tmp) / "hybrid")
        summary = index.build()
        retriever = Retriever(index)
        retriever.warm_up()
        baseline = DenseBaseline(args.notes_dir, Path(tmp) / "baseline")

        def hybrid(q: str) -> list[str]:
            return [p.topic_id for p in retriever.search(q, k=10)]

        def dense(q: str) -> list[str]:
            return baseline.topics(q, 10)

        report: dict[str, Any] = {
            "notes": len(list(args.notes_dir.glob("*.md"))),
            "model_load_s": round(load_s, 2),
            "loadavg": [round(x, 1) for x in os.getloadavg()],  # latency means little on a busy machine
            "build": {
                "hybrid": {"chunks": summary.chunks, "seconds": summary.seconds},
                "baseline": {"chunks": baseline.chunks, "seconds": round(baseline.build_seconds, 2)},
            },
            "sets": {},
        }
        for name, path in sets.items():
            qs = read_questions(Path(path))
            report["sets"][name] = {"hybrid": evaluate(hybrid, qs), "baseline": evaluate(dense, qs)}

    if args.json:
        if not args.misses:
            for s in report["sets"].values():
                for r in s.values():
                    r.pop("misses")
        json.dump(report, sys.stdout, indent=2)
        print()
        return 0
    b = report["build"]
    print(
        f"notes: {report['notes']}   model load: {report['model_load_s']} s   load average: {report['loadavg']}"
    )
    print(
        f"build from scratch: hybrid {b['hybrid']['chunks']} chunks in {b['hybrid']['seconds']} s; "
        f"baseline {b['baseline']['chunks']} chunks in {b['baseline']['seconds']} s"
    )
    print(
        f"{'set':<10}{'system':<10}{'n':>5}{'recall@5':>10}{'MRR@10':>9}{'p50 ms':>9}{'p95 ms':>9}{'cpu p50':>9}"
    )
    for name, s in report["sets"].items():
        for system, r in s.items():
            print(
                f"{name:<10}{system:<10}{r['n']:>5}{r['recall@5']:>10.3f}{r['mrr@10']:>9.3f}"
                f"{r['p50_ms']:>9.1f}{r['p95_ms']:>9.1f}{r['cpu_p50_ms']:>9.1f}"
            )
    if args.misses:
        for name, s in report["sets"].items():
            for system, r in s.items():
                for m in r["misses"]:
                    print(f"MISS {name}/{system}: [{m['topic_id']}] {m['question']} -> {m['got']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
