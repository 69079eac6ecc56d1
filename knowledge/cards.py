"""Teaching cards: authored answers to the questions learners ask, one YAML file per topic.

A card holds 2-4 phrasings of one question, the direct answer, the intuition (``why``), an
optional worked example (a runnable ```python block followed by ``Output:`` and a ```text block
with exactly what it prints), an optional pitfall and a self-check question whose answer is kept
back. The format and its rules are in ``docs/content.md``; ``validate`` enforces them and
``python -m tools.card_check [TOPIC...]`` reports every problem (and runs the examples in
the sandboxed kernel).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from tutor.errors import BadInput

CARDS_DIR = Path(__file__).resolve().parent / "cards"
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_TOPIC = re.compile(r"^m\d+\.[a-z0-9-]+$")
_EXAMPLE = re.compile(
    r"```python[^\n]*\n(?P<code>.*?)^```\s*\n+\s*Output:\s*\n```text[^\n]*\n(?P<out>.*?)^```", re.S | re.M
)
_ANY_PY = re.compile(r"```python", re.I)
_DANGLING = re.compile(r"^(this|that|these|those|it|they|so|but|and|also|however)\b", re.I)
_TEX = re.compile(r"\\[a-zA-Z]{2,}")
ANSWER_WORDS = (40, 150)
WHY_WORDS = (25, 110)
PITFALL_WORDS = 70
CARD_WORDS = 330
MIN_CARDS = 8
MIN_EXAMPLE_SHARE = 0.7


class CardFormatError(ValueError):
    """A cards file that cannot be read (not YAML, wrong shape)."""


@dataclass(frozen=True)
class Check:
    question: str
    answer: str
    practice: str | None = None


@dataclass(frozen=True)
class Card:
    id: str
    topic_id: str
    questions: tuple[str, ...]
    answer: str
    why: str
    example: str
    pitfall: str
    check: Check | None
    path: Path

    @property
    def example_code(self) -> tuple[str, str] | None:
        """(code, expected output) when the example is a runnable block, else None."""
        m = _EXAMPLE.search(self.example)
        return (m.group("code"), m.group("out")) if m else None

    def to_dict(self) -> dict[str, Any]:
        """The card as shown to learners: everything but the check's answer."""
        return {
            "id": self.id,
            "topic_id": self.topic_id,
            "questions": list(self.questions),
            "answer": self.answer,
            "why": self.why,
            "example": self.example,
            "pitfall": self.pitfall,
            "check": {"question": self.check.question, "practice": self.check.practice}
            if self.check
            else None,
        }


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    return str(value).strip() if value is not None else ""


def parse_cards(path: Path) -> list[Card]:
    """The cards of one file; CardFormatError when it is not a cards file at all."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise CardFormatError(f"{path.name}: not valid YAML ({e})") from e
    if not isinstance(data, dict) or not isinstance(data.get("cards"), list):
        raise CardFormatError(f"{path.name}: expected a mapping with `topic_id` and a `cards` list")
    topic_id = str(data.get("topic_id") or "")
    cards = []
    for n, raw in enumerate(data["cards"], 1):
        if not isinstance(raw, dict):
            raise CardFormatError(f"{path.name}: card {n} is not a mapping")
        chk = raw.get("check")
        check = None
        if isinstance(chk, dict):
            check = Check(
                _text(chk, "question"),
                _text(chk, "answer"),
                (str(chk["practice"]) if chk.get("practice") else None),
            )
        qs = raw.get("questions") or []
        cards.append(
            Card(
                id=str(raw.get("id") or ""),
                topic_id=topic_id,
                questions=tuple(str(q).strip() for q in qs) if isinstance(qs, list) else (),
                answer=_text(raw, "answer"),
                why=_text(raw, "why"),
                example=_text(raw, "example"),
                pitfall=_text(raw, "pitfall"),
                check=check,
                path=path,
            )
        )
    return cards


def load_cards(directory: Path = CARDS_DIR) -> list[Card]:
    """Every card under ``directory`` (files named ``<topic_id>.yaml``), in file order."""
    out: list[Card] = []
    for path in sorted(directory.glob("*.yaml")):
        out.extend(parse_cards(path))
    return out


@lru_cache(maxsize=4)
def cards_by_id(directory: Path = CARDS_DIR) -> dict[str, Card]:
    return {c.id: c for c in load_cards(directory)}


def words(text: str) -> int:
    return len(text.split())


def prose_of(text: str) -> str:
    """Text with code blocks, inline code and maths removed (what a reader reads as sentences)."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    return re.sub(r"\$[^$\n]+\$", " ", text)


def first_sentence(text: str) -> str:
    flat = re.sub(r"\s+", " ", prose_of(text)).strip()
    m = re.match(r"(.+?[.!?])(\s|$)", flat)
    return m.group(1) if m else flat


def math_problems(text: str) -> list[str]:
    """Unbalanced ``$`` delimiters or TeX commands outside maths and code."""
    out = []
    no_code = re.sub(r"```.*?```", " ", text, flags=re.S)
    no_code = re.sub(r"`[^`]*`", " ", no_code)
    if no_code.replace("\\$", "").count("$") % 2:
        out.append("unbalanced $ delimiters")
    if tex := _TEX.findall(prose_of(text)):
        out.append(f"TeX outside $...$: {', '.join(tex[:3])}")
    return out


def card_problems(card: Card) -> list[str]:
    """What is wrong with one card (empty when it is valid)."""
    p: list[str] = []
    if not _ID.match(card.id):
        p.append(f"id {card.id!r} must match [a-z0-9-]+")
    if not 2 <= len(card.questions) <= 4 or any(not q for q in card.questions):
        p.append(f"needs 2-4 non-empty questions, has {len(card.questions)}")
    lo, hi = ANSWER_WORDS
    if not lo <= words(card.answer) <= hi:
        p.append(f"answer has {words(card.answer)} words, needs {lo}-{hi}")
    first = first_sentence(card.answer)
    if first.endswith("?") or _DANGLING.match(first) or re.match(r"^(yes|no)[.!,]?$", first.strip(), re.I):
        p.append(f"answer's first sentence must state the answer, got {first[:80]!r}")
    lo, hi = WHY_WORDS
    if not lo <= words(card.why) <= hi:
        p.append(f"why has {words(card.why)} words, needs {lo}-{hi}")
    if card.pitfall and words(card.pitfall) > PITFALL_WORDS:
        p.append(f"pitfall has {words(card.pitfall)} words, at most {PITFALL_WORDS}")
    total = sum(words(t) for t in (card.answer, card.why, card.example, card.pitfall))
    if total > CARD_WORDS:
        p.append(f"card has {total} words in all, at most {CARD_WORDS}")
    if card.example and _ANY_PY.search(card.example):
        if len(_ANY_PY.findall(card.example)) != 1 or card.example_code is None:
            p.append(
                "example with code needs exactly one ```python block, then 'Output:' and a ```text block"
            )
    if card.check is None or not card.check.question or not card.check.answer:
        p.append("check needs a question and an answer")
    for name in ("answer", "why", "example", "pitfall"):
        for m in math_problems(getattr(card, name)):
            p.append(f"{name}: {m}")
    if card.check:
        for m in math_problems(card.check.question):
            p.append(f"check.question: {m}")
    return p


def validate(
    cards: list[Card], topic_ids: set[str] | None = None, practice_ids: set[str] | None = None
) -> list[str]:
    """Problems over a set of cards, each prefixed with file and card id."""
    problems: list[str] = []
    seen: dict[str, Card] = {}
    by_topic: dict[str, list[Card]] = {}
    for c in cards:
        where = f"{c.path.name}:{c.id or '?'}"
        if c.path.stem != c.topic_id:
            problems.append(f"{where}: topic_id {c.topic_id!r} does not match the file name")
        if topic_ids is not None and c.topic_id not in topic_ids:
            problems.append(f"{where}: unknown topic_id {c.topic_id!r}")
        if c.id in seen:
            problems.append(f"{where}: duplicate card id (also in {seen[c.id].path.name})")
        seen[c.id] = c
        by_topic.setdefault(c.topic_id, []).append(c)
        problems.extend(f"{where}: {m}" for m in card_problems(c))
        if practice_ids is not None and c.check and c.check.practice and c.check.practice not in practice_ids:
            problems.append(f"{where}: check.practice {c.check.practice!r} is not a practice item")
    for topic, group in by_topic.items():
        if len(group) < MIN_CARDS:
            problems.append(f"{topic}: {len(group)} cards, needs at least {MIN_CARDS}")
        share = sum(1 for c in group if c.example) / len(group)
        if share < MIN_EXAMPLE_SHARE:
            problems.append(f"{topic}: {share:.0%} of cards have an example, needs {MIN_EXAMPLE_SHARE:.0%}")
    return problems


def output_matches(expected: str, got: str) -> bool:
    """Printed output equals the card's, line by line, ignoring trailing spaces and blank ends."""

    def norm(s: str) -> list[str]:
        return [line.rstrip() for line in s.strip("\n").splitlines()]

    return norm(expected) == norm(got)


RUNNER = (
    "import matplotlib\nmatplotlib.use('Agg')\n"
    "__card_src = {src!r}\n"
    "exec(compile(__card_src, '<card {card_id}>', 'exec'), {{'__name__': '__main__'}})\n"
)


def runner_code(card: Card) -> str:
    """What the sandboxed kernel runs for a card's example: the code in a fresh namespace."""
    code = card.example_code
    if code is None:
        raise BadInput(f"card {card.id} has no runnable example")
    return RUNNER.format(src=code[0], card_id=card.id)


def _main(argv: list[str]) -> int:  # pragma: no cover - a maintainer's command
    """The check command runs examples in kernels, a tool: it is ``tools/card_check.py``."""
    print("the cards' check moved: python -m tools.card_check [TOPIC_ID...] [--no-run]", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main(sys.argv[1:]))
