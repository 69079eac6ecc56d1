"""The bundled practice items (``curriculum/practice/``): every file valid, ids unique, every
multiple-choice item with exactly one right option, and at least six items (two not multiple
choice) on every topic of the catalog. Code items run in the sandbox in
tests/integration/test_practice_items.py."""

from __future__ import annotations

import pytest

from curriculum.catalog import load_catalog
from curriculum.practice import MIN_ITEMS, PRACTICE_DIR, bundled_practice, by_topic, load_file, load_practice

FILES = sorted(PRACTICE_DIR.glob("*.yaml"))
CATALOG = load_catalog()


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_file_is_valid(path) -> None:  # type: ignore[no-untyped-def]
    items = load_file(path, CATALOG.topics)  # PracticeError lists every problem
    for item in items:
        if item.kind == "multiple_choice":
            assert sum(c.correct for c in item.choices) == 1, item.id
            assert all(c.feedback.strip() for c in item.choices), item.id


def test_ids_are_unique_over_all_files() -> None:
    load_practice(strict=True)


@pytest.mark.parametrize("topic_id", list(CATALOG.topics))
def test_every_topic_has_enough_items(topic_id: str) -> None:
    items = by_topic(bundled_practice()).get(topic_id, [])
    assert len(items) >= MIN_ITEMS, f"{topic_id}: {len(items)} practice items, {MIN_ITEMS} needed"
    assert sum(1 for i in items if i.kind != "multiple_choice") >= 2, topic_id
