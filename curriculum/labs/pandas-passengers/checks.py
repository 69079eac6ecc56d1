"""Checks of the pandas-passengers lab: expected values are recomputed here from the bundled
CSV (stdlib only), so a fact passes only when it is the right number."""

from __future__ import annotations

import csv
import statistics
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "passengers.csv"
Verdict = tuple[bool, str]


@lru_cache(maxsize=1)
def _rows() -> tuple[list[str], list[dict[str, str]]]:
    with DATA.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def _expected_missing() -> dict[str, int]:
    cols, rows = _rows()
    return {c: sum(1 for r in rows if r[c] == "") for c in cols}


def _clean_ages() -> list[float]:
    _, rows = _rows()
    medians = {}
    for k in ("1", "2", "3"):
        medians[k] = statistics.median(float(r["Age"]) for r in rows if r["Class"] == k and r["Age"])
    return [float(r["Age"]) if r["Age"] else medians[r["Class"]] for r in rows]


def _rates() -> dict[str, float]:
    _, rows = _rows()
    out = {}
    for k in ("1", "2", "3"):
        s = [int(r["Survived"]) for r in rows if r["Class"] == k]
        out[k] = sum(s) / len(s)
    return out


def check_load(facts: dict[str, Any]) -> Verdict:
    cols, rows = _rows()
    if facts.get("type") != "DataFrame":
        return (
            False,
            f"`df` is not a DataFrame yet (it is {facts.get('type', 'missing')}): read the file with `pd.read_csv`.",
        )
    shape = facts.get("shape")
    if shape != [len(rows), len(cols)]:
        return False, (f"`df` has shape {shape}, but the file has {len(rows)} rows and {len(cols)} columns: "
                       "read the whole file, with its first line as the header.")  # fmt: skip
    if facts.get("columns") != cols:
        return False, f"`df`'s columns are {facts.get('columns')}; expected {cols}."
    return (
        True,
        f"`df` holds all {len(rows)} passengers and {len(cols)} columns. `Age` is {facts.get('dtypes', {}).get('Age', '?')} because of its gaps.",
    )


def _series_check(facts: dict[str, Any], name: str, want: dict[str, float], tol: float) -> Verdict | None:
    got = facts.get(name)
    if facts.get(f"{name}_type") != "Series" or not isinstance(got, dict):
        return (
            False,
            f"`{name}` should be a pandas Series with one value per column; it is {facts.get(f'{name}_type', 'missing')}.",
        )
    for col, value in want.items():
        g = _num(got.get(col))
        if g is None:
            return False, f"`{name}` has no value for column `{col}`."
        if abs(g - value) > tol:
            return False, f"`{name}['{col}']` is {g:g}; expected {value:g}."
    return None


def check_missing(facts: dict[str, Any]) -> Verdict:
    want = _expected_missing()
    n = len(_rows()[1])
    bad = _series_check(facts, "missing", {k: float(v) for k, v in want.items()}, 0.0)
    if bad:
        return bad
    bad = _series_check(facts, "missing_share", {k: v / n for k, v in want.items()}, 1e-6)
    if bad:
        return False, bad[1] + " (the share is the count divided by the number of rows)"
    gaps = ", ".join(f"{k} {v}" for k, v in want.items() if v)
    return True, f"Right: the gaps are {gaps}; Cabin is missing for {want['Cabin'] / n:.0%} of passengers."


def check_clean(facts: dict[str, Any]) -> Verdict:
    cols, rows = _rows()
    if facts.get("type") != "DataFrame":
        return False, f"`clean` should be a DataFrame (a copy of `df`), it is {facts.get('type', 'missing')}."
    if facts.get("same_object_as_df"):
        return False, "`clean` is the same object as `df`; start from `df.copy()` so `df` keeps the raw data."
    columns = facts.get("columns") or []
    if "Cabin" in columns:
        return False, "`clean` still has the `Cabin` column: drop it (too many gaps to fill)."
    if sorted(columns) != sorted(c for c in cols if c != "Cabin"):
        return False, f"`clean` should keep every column except Cabin; it has {columns}."
    if facts.get("shape", [None])[0] != len(rows):
        return (
            False,
            f"`clean` has {facts.get('shape', ['?'])[0]} rows; expected all {len(rows)}: fill the gaps, do not drop rows.",
        )
    if facts.get("missing_total") != 0:
        return False, f"`clean` still has {facts.get('missing_total')} missing values; fill Age and Embarked."
    if facts.get("df_missing_age") != _expected_missing()["Age"]:
        return (
            False,
            "`df` was changed in place: its Age gaps are gone. Re-run step 1 and fill the gaps in `clean` only.",
        )
    ages = _clean_ages()
    want = sum(ages) / len(ages)
    got = _num(facts.get("age_mean"))
    if got is None or abs(got - want) > 1e-3:
        overall = statistics.median(float(r["Age"]) for r in rows if r["Age"])
        if (
            got is not None
            and abs(
                got - (sum(a if r["Age"] else overall for a, r in zip(ages, rows, strict=True)) / len(rows))
            )
            < 1e-3
        ):
            return (
                False,
                "Age was filled with the overall median; use the median of each passenger's class instead.",
            )
        return (
            False,
            f"The mean age of `clean` is {got}; expected {want:.4f} when gaps get their class median.",
        )
    port = Counter(r["Embarked"] for r in rows if r["Embarked"]).most_common(1)[0][0]
    counts = facts.get("embarked_counts") or {}
    want_port = sum(1 for r in rows if r["Embarked"] in (port, ""))
    if counts.get(port) != want_port:
        return (
            False,
            f"Embarked should be filled with the most common port, {port!r} ({want_port} passengers after filling); got {counts}.",
        )
    return (
        True,
        f"`clean` has no gaps: Cabin dropped, ages filled per class (mean age {want:.2f}), two ports set to {port}.",
    )


def check_survival(facts: dict[str, Any]) -> Verdict:
    want = _rates()
    got = facts.get("rates")
    if facts.get("type") != "Series" or not isinstance(got, dict):
        return False, f"`rates` should be a Series indexed by Class; it is {facts.get('type', 'missing')}."
    if sorted(got) != sorted(want):
        return False, f"`rates` should have one value per class 1, 2, 3; its index is {sorted(got)}."
    for k, v in want.items():
        g = _num(got.get(k))
        if g is None or abs(g - v) > 1e-3:
            return (
                False,
                f"The survival rate of class {k} is {v:.3f}, but `rates` says {got.get(k)}: take the mean of Survived per Class.",
            )
    return (
        True,
        f"First class survived at {want['1']:.0%}, third at {want['3']:.0%}: a {want['1'] - want['3']:.0%} gap.",
    )


def check_plot(facts: dict[str, Any]) -> Verdict:
    if facts.get("type") != "Figure":
        return (
            False,
            f"`fig` should be a matplotlib Figure (`fig, ax = plt.subplots()`); it is {facts.get('type', 'missing')}.",
        )
    bars = facts.get("bars") or []
    want = sorted(_rates().values())
    if len(bars) != 3:
        return False, f"The chart has {len(bars)} bars; draw one per class (3) with `ax.bar`."
    if any(_num(b) is None for b in bars) or any(
        abs(a - b) > 1e-3 for a, b in zip(sorted(bars), want, strict=True)
    ):
        return False, f"The bar heights {bars} are not the survival rates {[round(w, 3) for w in want]}."
    missing = [name for name in ("xlabel", "ylabel", "title") if not str(facts.get(name) or "").strip()]
    if missing:
        return (
            False,
            f"The bars are right, but the chart has no {', no '.join(missing)}: set them with `ax.set_xlabel`, `ax.set_ylabel`, `ax.set_title`.",
        )
    return (
        True,
        f"A labelled bar chart: x '{facts['xlabel']}', y '{facts['ylabel']}', title '{facts['title']}'.",
    )


def check_dataset(facts: dict[str, Any]) -> Verdict:
    n = len(_rows()[1])
    if facts.get("type") != "Dataset":
        return False, f"`ds` should be a `datasets.Dataset`; it is {facts.get('type', 'missing')}."
    if facts.get("num_rows") != n:
        return False, f"`ds` has {facts.get('num_rows')} rows; expected {n} (built from `clean`)."
    if "Cabin" in (facts.get("columns") or []) or "__index_level_0__" in (facts.get("columns") or []):
        return (
            False,
            "`ds` should be built from `clean` with `preserve_index=False` (no Cabin, no index column).",
        )
    split = facts.get("split_rows")
    if facts.get("splits_type") != "DatasetDict" or not isinstance(split, dict):
        return (
            False,
            f"`splits` should be the DatasetDict from `ds.train_test_split`; it is {facts.get('splits_type', 'missing')}.",
        )
    if split.get("train") != n - n // 5 or split.get("test") != n // 5:
        return (
            False,
            f"The split has {split}; with test_size=0.2 expect train {n - n // 5} and test {n // 5}.",
        )
    return (
        True,
        f"`ds` has {n} rows; the split gives {split['train']} to train on and {split['test']} to test.",
    )
