"""`make bench`: runs every benchmark script and prints their figures one after another.

Each part is its own script (so it can be run alone); a part that fails is reported and the rest
still run. Figures depend on the machine: the README quotes those measured on a 2-core CPU box.

The training part needs nanoGPT's tiny Shakespeare text (``input.txt``, 1.1 MB), which the repo
does not ship: pass its path as ``--shakespeare PATH`` or ``BENCH_SHAKESPEARE=PATH``
(``make bench SHAKESPEARE=PATH``); without it that part is skipped, saying so.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHAKESPEARE_ENV = "BENCH_SHAKESPEARE"

PARTS: list[tuple[str, list[str]]] = [
    ("retrieval: indexing throughput and search latency", ["bench_retrieval.py"]),
    ("code: warm-pool run latency, kernel start, grading throughput", ["bench_code.py"]),
    ("model: load time, first-token latency, tokens/s", ["eval_model.py", "--speed-only"]),
    (
        "training: nanoGPT tiny-Shakespeare recipe through the job tool",
        ["bench_training.py", "SHAKESPEARE"],
    ),
    (  # side by side with a plain nanoGPT-style loop: wall-time ratio and val losses (2000 steps)
        "training: plain nanoGPT loop vs the job tool, side by side",
        ["bench_reference.py", "SHAKESPEARE"],
    ),
    ("serving: concurrent chat sessions and code runs", ["bench_load.py"]),
]


def main(argv_in: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--shakespeare",
        type=Path,
        default=os.environ.get(SHAKESPEARE_ENV) or None,
        help=f"tiny Shakespeare text for the training part (default ${SHAKESPEARE_ENV})",
    )
    shakespeare: Path | None = ap.parse_args(argv_in).shakespeare
    failed = 0
    for title, argv in PARTS:
        script = HERE / argv[0]
        print(f"\n=== {title} ({argv[0]}) ===", flush=True)
        if not script.exists():
            print(f"skipped: {script.name} is missing")
            failed += 1
            continue
        if "SHAKESPEARE" in argv:
            if shakespeare is None or not shakespeare.is_file():
                where = f"{shakespeare} not found" if shakespeare else "no tiny Shakespeare text given"
                print(f"skipped: {where}; pass --shakespeare PATH or set {SHAKESPEARE_ENV}=PATH")
                continue
            argv = [str(shakespeare) if a == "SHAKESPEARE" else a for a in argv]
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(script), *argv[1:]])
        print(f"--- {argv[0]} exit {rc} in {time.perf_counter() - t0:.0f}s")
        failed += rc != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
