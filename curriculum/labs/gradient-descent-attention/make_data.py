"""Writes data/regression.csv: 200 SYNTHETIC points y = 4 + 3*x1 - 2*x2 + noise (seed 2).

Run ``python curriculum/labs/gradient-descent-attention/make_data.py``; the output is the same
every time (stdlib ``random`` with a fixed seed).
"""

from __future__ import annotations

import random
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data" / "regression.csv"


def main() -> None:
    rng = random.Random(2)
    lines = ["x1,x2,y"]
    for _ in range(200):
        x1, x2 = rng.uniform(0, 2), rng.gauss(0, 1)
        y = 4 + 3 * x1 - 2 * x2 + rng.gauss(0, 0.5)
        lines.append(f"{x1:.4f},{x2:.4f},{y:.4f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
