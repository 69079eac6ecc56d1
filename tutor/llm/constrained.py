"""Constrained decoding of lesson plans: the GPT may only write real topic ids and activities.

``PlanConstraint`` is a logits processor over the plan grammar (one ``topic activity minutes``
line per item, optionally followed by `` | `` and a free-text reason that the planner checks
afterwards, then the end token). It works on characters, not on one tokenizer's pieces, so
it fits our BPE, a char tokenizer or a user's Qwen alike: a token is allowed when the text so far
plus that token is still the start of a sentence of the grammar.

Two levels:
- ``"ids"``: real topic ids, real activities, a whole number of minutes, no topic twice (a
  review of a topic followed by its study is allowed, as ``validate_plan`` allows it). What is
  left to the model: prerequisites, mastery, hours.
- ``"strict"``: also only topics whose prerequisites are mastered or already planned, reviews
  only of due topics, minutes within the hours left, and no end while a planner block (15 min)
  of time is left and a topic is open; with goal topics, only topics on the goals' path (their
  prerequisite closure not yet mastered). A plan decoded this way passes
  ``validate_plan`` by construction; the model still chooses which topics and how long.

Greedy decoding only needs the best allowed token, so candidates are checked in order of the
model's scores and the scan stops after a few allowed ones: a step costs microseconds when the
model is already on track and at worst one pass over the vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from curriculum.catalog import Catalog
from curriculum.planner import ACTIVITIES, MASTERED, MIN_BLOCK
from tutor.llm.chat_format import MAX_REASON_CHARS, REASON_SEP

MAX_MINUTES = 240
_PIECES: dict[int, list[str]] = {}


def _split_reason(text: str) -> tuple[str, str | None]:
    """A plan line's ``topic activity minutes`` and its reason (None when no separator yet)."""
    head, sep, reason = text.partition(REASON_SEP)
    return (head, reason) if sep else (text, None)


def token_pieces(tokenizer: Any) -> list[str]:
    """Text of every token id (cached per tokenizer; partial UTF-8 pieces become '\\ufffd')."""
    key = id(tokenizer)
    if key not in _PIECES:
        n = len(tokenizer)
        special = set(tokenizer.all_special_ids)
        _PIECES[key] = ["" if i in special else tokenizer.decode([i]) for i in range(n)]
    return _PIECES[key]


def _minutes_prefix_ok(digits: str, lo: int, hi: int) -> bool:
    """Can ``digits`` still grow into a whole number of minutes in [lo, hi]?"""
    if digits == "":
        return hi >= lo
    if not digits.isdigit() or digits.startswith("0"):
        return False
    d = int(digits)
    scale = 1
    while d * scale <= hi:  # completions with k more digits: [d*10^k, (d+1)*10^k - 1]
        if (d + 1) * scale - 1 >= lo:
            return True
        scale *= 10
    return False


class PlanGrammar:
    """Which plan texts are still valid prefixes, given the learner's state."""

    def __init__(
        self,
        catalog: Catalog,
        mastery: Mapping[str, float],
        hours: float,
        due: Iterable[str] = (),
        level: str = "strict",
        goal_topics: Iterable[str] = (),
    ):
        if level not in ("ids", "strict"):
            raise ValueError(f"constraint level must be 'ids' or 'strict', got {level!r}")
        self.catalog, self.mastery, self.level = catalog, mastery, level
        self.budget = int(hours * 60)
        self.due = [t for t in due if t in catalog.topics]
        self.min_minutes = 5 if level == "strict" else 1
        goals = [g for g in goal_topics if g in catalog.topics]
        self.path: set[str] | None = None
        if goals:
            from curriculum.plan_reasons import goal_path

            self.path = set(goal_path(catalog, mastery, goals))

    def _state(self, lines: list[tuple[str, str, int]]) -> tuple[set[str], set[str], int]:
        planned = {t for t, a, _ in lines if a != "review"}
        reviewed = {t for t, a, _ in lines if a == "review"}
        return planned, reviewed, sum(m for _, _, m in lines)

    def options(self, lines: list[tuple[str, str, int]]) -> tuple[dict[str, tuple[str, ...]], int]:
        """Allowed topic -> activities for the next line, and the most minutes it may take."""
        planned, reviewed, used = self._state(lines)
        if self.level == "ids":  # each topic once (a due review may precede its study, as validated)
            every: dict[str, tuple[str, ...]] = {}
            for t in self.catalog.topics:
                left_acts = tuple(a for a in ACTIVITIES if not (a == "review" and t in reviewed))
                if t not in planned and left_acts:
                    every[t] = left_acts
            return every, MAX_MINUTES
        left = self.budget - used
        out: dict[str, tuple[str, ...]] = {}
        for tid, topic in self.catalog.topics.items():
            acts: tuple[str, ...] = ()
            if tid in self.due and tid not in reviewed and tid not in planned and left >= 1:
                acts += ("review",)
            ready = all(self.mastery.get(p, 0.0) >= MASTERED or p in planned for p in topic.prerequisites)
            on_path = self.path is None or tid in self.path
            if (
                tid not in planned
                and tid not in reviewed
                and ready
                and on_path
                and self.mastery.get(tid, 0.0) < MASTERED
            ):
                acts += ("study", "practice")
            if acts:
                out[tid] = acts
        return (out, left) if left >= self.min_minutes else ({}, 0)

    def _line_prefix_ok(self, text: str, lines: list[tuple[str, str, int]], opts: Any = None) -> bool:
        head, reason = _split_reason(text)
        if reason is not None:  # "topic activity minutes | free text": the head must be complete
            ok = len(reason) <= MAX_REASON_CHARS and (reason.isprintable() or reason.endswith("\ufffd"))
            return ok and self._head(head, lines) is not None
        parts = head.split(" ")
        if len(parts) == 4:  # "... 45 " or "... 45 |": the reason separator is being written
            return parts[3] in ("", "|") and self._head(" ".join(parts[:3]), lines) is not None
        opts, max_min = opts or self.options(lines)
        if len(parts) == 1:
            return any(t.startswith(parts[0]) for t in opts)
        if parts[0] not in opts:
            return False
        if len(parts) == 2:
            return any(a.startswith(parts[1]) for a in opts[parts[0]])
        if len(parts) > 3 or parts[1] not in opts[parts[0]]:
            return False
        return _minutes_prefix_ok(parts[2], self.min_minutes, max_min)

    def _head(self, text: str, lines: list[tuple[str, str, int]]) -> tuple[str, str, int] | None:
        """A complete ``topic activity minutes`` that the grammar allows next, or None."""
        parts = text.split(" ")
        if len(parts) != 3 or not parts[2].isdigit() or not self._line_prefix_ok(text, lines):
            return None
        if not self.min_minutes <= int(parts[2]) <= self.options(lines)[1]:
            return None
        return parts[0], parts[1], int(parts[2])

    def _line(self, text: str, lines: list[tuple[str, str, int]]) -> tuple[str, str, int] | None:
        head, reason = _split_reason(text)
        if reason is not None and not (reason.strip() and len(reason) <= MAX_REASON_CHARS):
            return None  # a separator promises a reason
        return self._head(head, lines)

    def parse(self, text: str) -> tuple[list[tuple[str, str, int]], str] | None:
        """Complete lines and the open last line, or None when ``text`` left the grammar."""
        *done, cur = text.split("\n")
        lines: list[tuple[str, str, int]] = []
        for raw in done:
            line = self._line(raw, lines)
            if line is None:
                return None
            lines.append(line)
        if cur and not self._line_prefix_ok(cur, lines):
            return None
        if cur == "" and done and not self.options(lines)[0]:
            return None  # a newline only when another line can follow
        return lines, cur

    def can_end(self, text: str) -> bool:
        parsed = self.parse(text)
        if parsed is None:
            return False
        lines, cur = parsed
        if cur:
            line = self._line(cur, lines)
            if line is None:
                return False
            lines = [*lines, line]
        elif lines:
            return False  # after a newline another line must follow
        if self.level != "strict":
            return True
        # strict also fills the hours, as the planner does: the plan may end only when no topic
        # is open or less than a planner block of time is left
        opts, left = self.options(lines)
        return not opts or left < MIN_BLOCK


class PlanConstraint:
    """Logits processor (HF-compatible call signature) that keeps decoding inside ``PlanGrammar``."""

    def __init__(self, grammar: PlanGrammar, tokenizer: Any, end_ids: Iterable[int], keep: int = 4):
        self.grammar, self.tokenizer = grammar, tokenizer
        self.pieces = token_pieces(tokenizer)
        self.end_ids = [i for i in end_ids if i < len(self.pieces)]
        self.keep = keep
        self.prompt_len: int | None = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        if self.prompt_len is None:
            self.prompt_len = int(input_ids.shape[1])
        text = self.tokenizer.decode(input_ids[0, self.prompt_len :].tolist(), skip_special_tokens=True)
        allowed: list[int] = []
        if self.grammar.can_end(text):
            allowed += self.end_ids
        parsed = self.grammar.parse(text)
        if parsed is not None:
            lines, cur = parsed
            opts = self.grammar.options(lines)  # the same for every piece without a newline
            for tid in torch.argsort(scores[0], descending=True).tolist():
                if len(allowed) >= self.keep + len(self.end_ids):
                    break
                piece = self.pieces[tid] if tid < len(self.pieces) else ""
                if not piece or "\ufffd" in piece:
                    continue
                if "\n" in piece:
                    ok = self.grammar.parse(text + piece) is not None
                else:
                    ok = self.grammar._line_prefix_ok(cur + piece, lines, opts)
                if ok:
                    allowed.append(tid)
        mask = torch.full_like(scores, float("-inf"))
        if not allowed:  # nothing fits (should not happen): let the model end the reply
            allowed = self.end_ids
        mask[0, allowed] = 0.0
        return scores + mask
