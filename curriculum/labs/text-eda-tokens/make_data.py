"""Writes data/note_sections.csv: one row per `## ` section of the course notes
(knowledge/notes/*.md, written by this project), with fenced code blocks removed.

Columns: topic_id, module, heading, text. Deterministic: files in sorted order, no randomness.
Run ``python curriculum/labs/text-eda-tokens/make_data.py`` after the notes change.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTES = HERE.parents[2] / "knowledge" / "notes"
OUT = HERE / "data" / "note_sections.csv"
_FENCE = re.compile(r"```.*?```", re.S)


def sections(path: Path) -> list[tuple[str, str, str, str]]:
    text = path.read_text(encoding="utf-8")
    meta: dict[str, str] = {}
    if text.startswith("---"):
        head, _, text = text[3:].partition("\n---")
        for line in head.splitlines():
            key, sep, value = line.partition(":")
            if sep and not line.startswith(" "):
                meta[key.strip()] = value.strip()
    text = _FENCE.sub(" ", text)
    out = []
    for part in re.split(r"^## ", text, flags=re.M)[1:]:
        heading, _, body = part.partition("\n")
        body = " ".join(body.split())
        if len(body.split()) >= 20:
            out.append((meta.get("topic_id", path.stem), meta.get("module", path.stem.split(".")[0]),
                        heading.strip(), body))  # fmt: skip
    return out


def main() -> None:
    rows = [row for path in sorted(NOTES.glob("*.md")) for row in sections(path)]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["topic_id", "module", "heading", "text"])
        w.writerows(rows)


if __name__ == "__main__":
    main()
