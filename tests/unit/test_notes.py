"""Every course note: front matter, coverage of its topic row, length, and code that runs.

The topic table is tests/data/topics.tsv (one row per topic: its id and what its note must cover).
Each test is parametrised over the 43 topics, so a missing note fails by name. The code
check runs all ```python blocks of a note (not ```python no-run) as one script in a fresh
subprocess in a temporary directory, like a learner pasting the whole note into a new notebook;
notes run in parallel in a small pool, started once for the whole module.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from knowledge.notes_format import Note, parse_note, prose, runnable_code

REPO = Path(__file__).resolve().parents[2]
NOTES = REPO / "knowledge" / "notes"
TOPICS_TSV = REPO / "tests" / "data" / "topics.tsv"
MIN_WORDS, MAX_WORDS = 600, 1500
CODE_TIMEOUT_S = 60


def _topics() -> dict[str, dict[str, str]]:
    with TOPICS_TSV.open(encoding="utf-8") as f:
        return {row["topic_id"]: row for row in csv.DictReader(f, delimiter="\t")}


TOPICS = _topics()


def _split_depth_aware(text: str) -> list[str]:
    """Split on ', ' outside parentheses: 'choosing k (elbow, silhouette)' stays one item."""
    items, depth, current = [], 0, ""
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and text.startswith(", ", i):
            items.append(current)
            current = ""
        elif not (depth == 0 and ch == " " and text[i - 1 : i] == ","):
            current += ch
    return [*items, current]


def allowed_covers(must_cover: str) -> list[list[str]]:
    """The two readings of the table's list a note may copy: plain split on ', ', or depth-aware."""
    plain = [c.strip() for c in must_cover.split(", ")]
    aware = [c.strip() for c in _split_depth_aware(must_cover)]
    return [plain] if plain == aware else [plain, aware]


def cover_terms(item: str) -> list[str]:
    """Words a note must use for one covers item; list punctuation ( ) ; , separates terms."""
    return [t.strip() for t in re.split(r"[(),;]", item) if t.strip()]


def note_for(topic_id: str) -> Note:
    path = NOTES / f"{topic_id}.md"
    if not path.exists():
        pytest.fail(f"no note for topic {topic_id}: expected {path.relative_to(REPO)}")
    return parse_note(path)


@pytest.mark.parametrize("topic_id", sorted(TOPICS))
def test_front_matter_matches_topic_table(topic_id: str) -> None:
    note, row = note_for(topic_id), TOPICS[topic_id]
    assert note.topic_id == topic_id == note.path.stem
    assert note.title == row["title"]
    assert note.module == row["module"]
    assert note.covers in allowed_covers(row["must_cover"]), (
        f"covers should be the topic's must_cover split on ', ': {allowed_covers(row['must_cover'])[0]}"
    )


@pytest.mark.parametrize("topic_id", sorted(TOPICS))
def test_every_covered_item_appears_in_the_body(topic_id: str) -> None:
    note = note_for(topic_id)
    body = " ".join(note.body.lower().split())
    missing = [
        t for item in note.covers for t in cover_terms(item) if " ".join(t.lower().split()) not in body
    ]
    assert not missing, f"{topic_id}: the body never mentions {missing}"


@pytest.mark.parametrize("topic_id", sorted(TOPICS))
def test_length_is_600_to_1500_words_of_prose(topic_id: str) -> None:
    words = len(prose(note_for(topic_id).body).split())
    assert MIN_WORDS <= words <= MAX_WORDS, f"{topic_id}: {words} words outside code blocks"


def test_no_note_without_a_topic() -> None:
    strays = sorted(p.name for p in NOTES.glob("*.md") if p.stem not in TOPICS)
    assert not strays, f"notes that match no topic in topics.tsv: {strays}"


# --- running the code ------------------------------------------------------------------------


@dataclass
class CodeRun:
    returncode: int
    output: str
    seconds: float


def run_note_code(code: str) -> CodeRun:
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONHASHSEED": "0",
        # notes run two at a time on a 2-core CI machine: one BLAS thread each
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="note-") as cwd:
        script = Path(cwd) / "note.py"
        script.write_text(code, encoding="utf-8")
        try:
            proc = subprocess.run(
                [sys.executable, str(script)],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=CODE_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            return CodeRun(-1, f"timed out after {CODE_TIMEOUT_S} s", time.perf_counter() - start)
    return CodeRun(proc.returncode, (proc.stdout + proc.stderr)[-3000:], time.perf_counter() - start)


@pytest.fixture(scope="module")
def code_runs(request: pytest.FixtureRequest) -> Iterator[dict[str, Future[CodeRun]]]:
    """Start every selected note's script at once in a small pool; each test waits for its own."""
    selected = [
        item.callspec.params["topic_id"]
        for item in request.session.items
        if getattr(item, "originalname", "") == "test_code_examples_run" and hasattr(item, "callspec")
    ]
    workers = max(1, min(4, os.cpu_count() or 1))
    pool = ThreadPoolExecutor(max_workers=workers)
    futures = {}
    for topic_id in selected:
        path = NOTES / f"{topic_id}.md"
        if path.exists():
            futures[topic_id] = pool.submit(run_note_code, runnable_code(parse_note(path).body))
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.slow
@pytest.mark.parametrize("topic_id", sorted(TOPICS))
def test_code_examples_run(topic_id: str, code_runs: dict[str, Future[CodeRun]]) -> None:
    note = note_for(topic_id)
    assert runnable_code(note.body).strip(), f"{topic_id}: no ```python example to run"
    future = code_runs.get(topic_id)  # a note written after the pool started runs here, inline
    run = future.result() if future else run_note_code(runnable_code(note.body))
    assert run.returncode == 0, f"{topic_id}: code failed (exit {run.returncode}):\n{run.output}"
    assert run.seconds < CODE_TIMEOUT_S
