"""The explain use case (tutor/usecases/explain.py) with fake searches: which card answers,
how a card is laid out for a novice, whole note paragraphs, follow-ups from the last card."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from knowledge.card_index import CardHit
from knowledge.cards import Card, Check
from tutor.usecases.explain import (
    CARD_THRESHOLD,
    Explainer,
    Learner,
    best_paragraphs,
    follow_up_kind,
    pick_card,
)

EXAMPLE = "```python\nprint(1 + 1)\n```\nOutput:\n```text\n2\n```"


def card(cid: str, topic: str = "m1.numpy", **kw: Any) -> Card:
    base: dict[str, Any] = {
        "id": cid,
        "topic_id": topic,
        "questions": (f"what is {cid}", f"explain {cid}"),
        "answer": f"{cid.capitalize()} is the answer to the question, stated outright in the first sentence.",
        "why": "Because the intuition says so, pictured in words.",
        "example": EXAMPLE,
        "pitfall": "",
        "check": Check("What is 1 + 1?", "2", "numpy-item"),
        "path": Path(f"{topic}.yaml"),
    }
    base.update(kw)
    return Card(**base)


@dataclass
class Passage:
    topic_id: str
    source: str
    heading: str
    text: str


class FakeRetriever:
    def __init__(self, passages: list[Passage]) -> None:
        self.passages = passages
        self.calls: list[dict[str, Any]] = []

    def search(self, query: str, k: int = 5, topic_id: str | None = None) -> list[Passage]:
        self.calls.append({"query": query, "topic_id": topic_id})
        return [p for p in self.passages if topic_id in (None, p.topic_id)][:k]


class FakeCards:
    def __init__(self, hits: list[CardHit]) -> None:
        self.hits = hits

    def search(self, query: str, k: int = 5, top_topic: str | None = None) -> list[CardHit]:
        return self.hits[:k]

    def cards(self) -> dict[str, Card]:
        return {h.card.id: h.card for h in self.hits}


NUMPY = Passage(
    "m1.numpy",
    "knowledge/notes/m1.numpy.md#broadcasting-rules",
    "NumPy > Broadcasting rules",
    "Broadcasting lets NumPy combine arrays of different shapes.\n\nThis works because axes of size 1 stretch.",
)


def explainer(hits: list[CardHit], passages: list[Passage] | None = None) -> Explainer:
    titles = {"m1.numpy": "NumPy", "m1.pandas": "Pandas"}
    return Explainer(
        FakeCards(hits),
        FakeRetriever(passages if passages is not None else [NUMPY]),
        lambda t: titles.get(t, t),
        lambda t: [],
    )


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("why?", "why"),
        ("but why is that", "why"),
        ("can you show that in code?", "example"),
        ("show me", "example"),
        ("give me another example", "example"),
        ("I don't get it", "simpler"),
        ("simpler please", "simpler"),
        ("tell me more", "more"),
        ("more", "more"),
        ("explain overfitting like I'm new to this", None),  # a new question that says "this"
        ("why do we shuffle the training data?", None),
        ("what is it", None),
    ],
)
def test_follow_up_kind(text: str, kind: str | None) -> None:
    assert follow_up_kind(text) == kind


def test_a_card_answers_when_on_the_best_topics_and_above_the_threshold() -> None:
    on = CardHit(card("on"), CARD_THRESHOLD + 0.1, 0.6, "q")
    off = CardHit(card("off", topic="m9.mlops"), CARD_THRESHOLD + 0.3, 0.8, "q")
    assert pick_card([off, on], ["m1.numpy", "m1.pandas"], CARD_THRESHOLD) is on
    weak = CardHit(card("weak"), CARD_THRESHOLD - 0.01, 0.5, "q")
    assert pick_card([weak], ["m1.numpy"], CARD_THRESHOLD) is None
    verbatim = CardHit(card("verbatim", topic="m9.mlops"), 0.9, 0.9, "q")
    assert pick_card([verbatim], ["m1.numpy"], CARD_THRESHOLD) is verbatim


def test_card_answer_comes_first_then_why_example_check_and_sources() -> None:
    c = card("broadcasting")
    out = explainer([CardHit(c, 0.9, 0.9, "q")]).answer("what is broadcasting?")
    text = out.text
    assert out.kind == "card" and out.card_id == "broadcasting" and out.check_item == "numpy-item"
    assert text.startswith("Broadcasting is the answer")
    order = [
        text.index(s)
        for s in ("is the answer", "**Why:**", "**Example:**", "**Check yourself:**", "**Sources:**")
    ]
    assert order == sorted(order)
    assert "[NumPy › Broadcasting rules](notes/m1.numpy#broadcasting-rules)" in text
    assert out.citations[0].section == "Broadcasting rules" and out.citations[0].card_id == "broadcasting"
    assert "2" not in text.split("**Check yourself:**")[1].split("Say")[0].replace(
        "1 + 1", ""
    )  # answer kept back


def test_a_novice_sees_display_maths_after_the_intuition_and_example() -> None:
    answer = "Softmax turns scores into probabilities that sum to one. $$p_i = e^{s_i} / \\sum_j e^{s_j}$$ It is smooth."
    c = card("softmax", answer=answer)
    novice = explainer([CardHit(c, 0.9, 0.9, "q")]).answer("softmax?", Learner({}))
    assert novice.text.index("$$") > novice.text.index("**Example:**")
    expert = explainer([CardHit(c, 0.9, 0.9, "q")]).answer("softmax?", Learner({"m1.numpy": 0.9}))
    assert expert.text.index("$$") < expert.text.index("**Why:**")


def test_long_cards_drop_the_pitfall_before_the_answer() -> None:
    c = card("long", why=" ".join(["word"] * 200), pitfall=" ".join(["careful"] * 200))
    out = explainer([CardHit(c, 0.9, 0.9, "q")]).answer("long?")
    assert "**Watch out:**" not in out.text and out.text.startswith("Long is the answer")


def test_without_a_card_whole_paragraphs_and_never_a_dangling_start() -> None:
    out = explainer([]).answer("why do axes of size 1 stretch?")
    assert out.kind == "notes"
    body = out.text.split("\n\n", 1)[1]
    assert body.startswith("Broadcasting lets NumPy")  # "This works because..." brings its antecedent
    assert "This works because axes of size 1 stretch." in body


def test_self_check_sections_and_questions_are_never_quoted() -> None:
    check = Passage(
        "m1.numpy", "knowledge/notes/m1.numpy.md#self-check", "NumPy > Self-check", "Why divide by 2?"
    )
    found = best_paragraphs("why divide by 2", [check, NUMPY])
    assert found is not None and "Why divide" not in found[0]


def test_follow_ups_go_on_from_the_last_card() -> None:
    c = card("broadcasting", pitfall="Mixing up (3,) and (3, 1) shapes.")
    ex = explainer([CardHit(c, 0.9, 0.9, "q")])
    why = ex.follow_up("why", "broadcasting", "m1.numpy")
    assert why is not None and why.text.startswith("Because the intuition") and "**Watch out:**" in why.text
    example = ex.follow_up("example", "broadcasting", "m1.numpy")
    assert example is not None and "print(1 + 1)" in example.text
    simpler = ex.follow_up("simpler", "broadcasting", "m1.numpy")
    assert simpler is not None and simpler.text.startswith("Put simply:")
    more = ex.follow_up("more", "broadcasting", "m1.numpy")
    assert more is not None and "Broadcasting lets NumPy" in more.text
    assert ex.follow_up("why", "no-such-card", "m1.numpy") is None


def test_an_off_course_question_is_declined_not_answered_from_a_random_note() -> None:
    weak = Passage("m1.numpy", "knowledge/notes/m1.numpy.md#x", "NumPy > X", "Arrays hold numbers.")
    weak.score = 0.5  # type: ignore[attr-defined]
    far = CardHit(card("numpy-far"), 0.2, 0.2, "q")
    out = explainer([far], passages=[weak]).answer("how do I bake bread?")
    assert out.kind == "none" and "our course covers" in out.text


def test_nothing_found_says_so_instead_of_guessing() -> None:
    out = explainer([], passages=[]).answer("how do I bake bread?")
    assert out.kind == "none" and "won't guess" in out.text


def test_a_sentence_that_runs_through_display_maths_is_finished() -> None:
    text = (
        "LoRA freezes the weight and learns a low-rank\n\n$$W' = W + BA$$\n\n"
        "update, where $B$ and $A$ are small.\n\nAnother paragraph about memory."
    )
    p = Passage("m8.fine-tuning", "knowledge/notes/m8.fine-tuning.md#lora", "Fine-tuning > LoRA", text)
    found = best_paragraphs("how does lora learn a low-rank weight", [p])
    assert found is not None and found[0].rstrip().endswith("are small.")
