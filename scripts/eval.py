"""`make eval`: quality figures of retrieval, the bundled model and the agent, one part after
another (each part is its own script, runnable alone)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = [
    ("retrieval: recall@5, MRR, latency vs a dense-only baseline", ["eval_retrieval.py"]),
    ("model: held-out loss, plan validity, grounded explanations, speed", ["eval_model.py"]),
    ("agent: intent accuracy, citation accuracy, solution leaks, turn latency", ["eval_agent.py"]),
    (
        "answers: key points, first sentence, topic, readability, length (tests/data/answer_key.tsv)",
        ["eval_answers.py"],
    ),
]


def main() -> int:
    failed = 0
    for title, argv in PARTS:
        print(f"\n=== {title} ({argv[0]}) ===", flush=True)
        if not (HERE / argv[0]).exists():
            print(f"skipped: {argv[0]} is missing")
            failed += 1
            continue
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(HERE / argv[0]), *argv[1:]])
        print(f"--- {argv[0]} exit {rc} in {time.perf_counter() - t0:.0f}s")
        failed += rc != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
