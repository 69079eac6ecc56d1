"""`make bench`: runs every benchmark script and prints their figures one after another.

Each part is its own script (so it can be run alone); a part that fails is reported and the rest
still run. Figures depend on the machine: the README quotes those measured on a 2-core CPU box.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHAKESPEARE = HERE.parent.parent / "shared" / "data" / "tinyshakespeare.txt"

PARTS: list[tuple[str, list[str]]] = [
    ("retrieval: indexing throughput and search latency", ["bench_retrieval.py"]),
    ("code: warm-pool run latency, kernel start, grading throughput", ["bench_code.py"]),
    ("model: load time, first-token latency, tokens/s", ["eval_model.py", "--speed-only"]),
    (
        "training: nanoGPT tiny-Shakespeare recipe through the job tool",
        ["bench_training.py", str(SHAKESPEARE)],
    ),
    ("serving: concurrent chat sessions and code runs", ["bench_load.py"]),
]


def main() -> int:
    failed = 0
    for title, argv in PARTS:
        script = HERE / argv[0]
        print(f"\n=== {title} ({argv[0]}) ===", flush=True)
        if not script.exists():
            print(f"skipped: {script.name} is missing")
            failed += 1
            continue
        if argv[0] == "bench_training.py" and not SHAKESPEARE.exists():
            print(f"skipped: {SHAKESPEARE} not found (pass the tiny Shakespeare path to bench_training.py)")
            continue
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(script), *argv[1:]])
        print(f"--- {argv[0]} exit {rc} in {time.perf_counter() - t0:.0f}s")
        failed += rc != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
