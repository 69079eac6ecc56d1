"""Writes data/passengers.csv: a SYNTHETIC passenger manifest (no real people), seed 14.

Run ``python curriculum/labs/pandas-passengers/make_data.py`` to regenerate; the output is
byte-for-byte the same. Realistic gaps: Age is missing for about a fifth of passengers (more in
third class), Cabin for most of second and third class, Embarked for two passengers.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data" / "passengers.csv"
N = 600
SURNAMES = ["Abbott", "Baker", "Carter", "Dalton", "Evans", "Fischer", "Garcia", "Hansen", "Ito", "Jensen",
            "Kowalski", "Larsen", "Moreau", "Nakamura", "Olsen", "Petrov", "Quinn", "Rossi", "Silva",
            "Tanaka", "Usman", "Varga", "Weber", "Xu", "Young", "Zeller"]  # fmt: skip
FIRST = {"male": ["Arthur", "Bruno", "Carl", "David", "Emil", "Felix", "George", "Hugo", "Ivan", "Jonas"],
         "female": ["Alice", "Berta", "Clara", "Dora", "Elsa", "Frida", "Greta", "Hanna", "Ida", "Julia"]}  # fmt: skip


def main() -> None:
    rng = random.Random(14)
    rows = []
    for pid in range(1, N + 1):
        pclass = rng.choices([1, 2, 3], weights=[0.24, 0.21, 0.55])[0]
        sex = "female" if rng.random() < 0.36 else "male"
        age: float | None = round(max(0.5, rng.gauss({1: 39, 2: 30, 3: 25}[pclass], 13)), 0)
        if rng.random() < {1: 0.1, 2: 0.12, 3: 0.28}[pclass]:
            age = None
        sibsp = rng.choices([0, 1, 2, 3, 4], weights=[68, 23, 4, 3, 2])[0]
        parch = rng.choices([0, 1, 2, 3], weights=[76, 13, 9, 2])[0]
        fare = round(rng.lognormvariate({1: 4.2, 2: 3.0, 3: 2.2}[pclass], 0.45) * (1 + 0.2 * parch), 2)
        cabin = ""
        if rng.random() < {1: 0.8, 2: 0.15, 3: 0.04}[pclass]:
            cabin = f"{rng.choice('ABCDE' if pclass == 1 else 'DEFG')}{rng.randint(1, 120)}"
        embarked = rng.choices(["S", "C", "Q"], weights=[72, 19, 9])[0]
        p_survive = 0.18 + (0.55 if sex == "female" else 0.0) + {1: 0.2, 2: 0.08, 3: -0.08}[pclass]
        if age is not None and age < 12:
            p_survive += 0.2
        survived = int(rng.random() < min(0.97, max(0.03, p_survive)))
        title = ("Mrs" if rng.random() < 0.6 else "Miss") if sex == "female" else "Mr"
        name = f"{rng.choice(SURNAMES)}, {title}. {rng.choice(FIRST[sex])}"
        rows.append([pid, name, pclass, sex, "" if age is None else f"{age:g}", sibsp, parch, f"{fare:.2f}",
                     cabin, embarked, survived])  # fmt: skip
    for pid in (62, 480):  # two passengers with no port of embarkation
        rows[pid - 1][9] = ""
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["PassengerId", "Name", "Class", "Sex", "Age", "SibSp", "Parch", "Fare", "Cabin", "Embarked",
                    "Survived"])  # fmt: skip
        w.writerows(rows)


if __name__ == "__main__":
    main()
