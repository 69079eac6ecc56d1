"""Every runnable card example runs in the real sandboxed kernel and prints what the card says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge.cards import Card, load_cards, output_matches, runner_code
from tools.kernel import KernelManager
from tools.sandbox import find_bwrap

RUNNABLE = [c for c in load_cards() if c.example_code is not None]
pytestmark = pytest.mark.skipif(find_bwrap() is None, reason="bubblewrap is not installed")


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelManager]:
    with KernelManager(tmp_path_factory.mktemp("cards"), pool_size=1, max_timeout_s=60) as km:
        yield km


def test_most_cards_have_runnable_examples() -> None:
    assert len(RUNNABLE) >= 150


_last_topic: list[str] = []


@pytest.mark.parametrize("card", RUNNABLE, ids=[c.id for c in RUNNABLE])
def test_card_example_prints_what_the_card_says(kernels: KernelManager, card: Card) -> None:
    assert card.example_code is not None
    if _last_topic and _last_topic[-1] != card.topic_id:  # one kernel per topic, one at a time
        kernels.reset(_last_topic[-1])
    _last_topic.append(card.topic_id)
    result = kernels.execute(runner_code(card), session_id=card.topic_id, timeout_s=30)
    assert result.status == "ok", f"{card.id}: {result.error or result.stderr[:500]}"
    assert output_matches(card.example_code[1], result.stdout), (
        f"{card.id} printed:\n{result.stdout}\n--- the card says:\n{card.example_code[1]}"
    )


def test_a_wrong_output_is_caught(kernels: KernelManager, tmp_path: Path) -> None:
    card = Card(
        "t",
        "m1.numpy",
        ("a", "b"),
        "",
        "",
        "```python\nprint(2)\n```\nOutput:\n```text\n3\n```",
        "",
        None,
        tmp_path,
    )
    assert card.example_code is not None
    result = kernels.execute(runner_code(card), session_id="t", timeout_s=30)
    assert result.status == "ok" and not output_matches(card.example_code[1], result.stdout)
