"""Teaching cards (knowledge/cards/*.yaml): schema, lengths, first sentences, maths, coverage.

Examples are run in the sandboxed kernel by tests/integration/test_card_examples.py.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from knowledge.cards import (
    CARDS_DIR,
    MIN_CARDS,
    Card,
    card_problems,
    load_cards,
    math_problems,
    parse_cards,
    validate,
)

REPO = Path(__file__).resolve().parents[2]
TOPICS = {
    row["topic_id"]: row
    for row in csv.DictReader((REPO / "tests" / "data" / "topics.tsv").open(encoding="utf-8"), delimiter="\t")
}
CARDS = load_cards()


def _practice_ids() -> set[str]:
    from curriculum.practice import bundled_practice

    return set(bundled_practice())


def test_all_cards_are_valid() -> None:
    problems = validate(CARDS, topic_ids=set(TOPICS), practice_ids=_practice_ids())
    assert not problems, "\n".join(problems[:40])


@pytest.mark.parametrize("topic_id", sorted(TOPICS))
def test_every_topic_has_enough_cards(topic_id: str) -> None:
    path = CARDS_DIR / f"{topic_id}.yaml"
    assert path.exists(), f"no cards file for {topic_id}"
    assert len(parse_cards(path)) >= MIN_CARDS


@pytest.mark.parametrize("topic_id", sorted(TOPICS))
def test_cards_cover_the_topics_must_cover_items(topic_id: str) -> None:
    """Each must_cover item has a card that names it (any of its longer words, stemmed loosely)."""
    text = " ".join(
        " ".join([*c.questions, c.answer, c.why, c.example]) for c in CARDS if c.topic_id == topic_id
    ).lower()
    missing = []
    for item in re.split(r",\s*(?![^()]*\))", TOPICS[topic_id]["must_cover"]):
        stems = [w[:5] for w in re.findall(r"[a-z][a-z-]{3,}", item.lower())] or [item.lower().strip()]
        if not any(s in text for s in stems):
            missing.append(item)
    assert not missing, f"{topic_id}: no card mentions {missing}"


def test_validator_catches_what_it_should(tmp_path: Path) -> None:
    bad = Card(
        id="Bad Id",
        topic_id="m1.numpy",
        questions=("only one",),
        answer="This is short?",
        why="too short",
        example="```python\nprint(1)\n```",
        pitfall="",
        check=None,
        path=tmp_path / "m1.numpy.yaml",
    )
    problems = " | ".join(card_problems(bad))
    for expected in ("id", "2-4", "answer has", "first sentence", "why has", "exactly one", "check needs"):
        assert expected in problems


def test_math_problems_finds_bare_tex_and_unbalanced_dollars() -> None:
    assert math_problems(r"the scores are divided by \sqrt{d_k}") == ["TeX outside $...$: \\sqrt"]
    assert math_problems("costs $5 and") == ["unbalanced $ delimiters"]
    assert math_problems(r"divide by $\sqrt{d_k}$ and `x\times`") == []
