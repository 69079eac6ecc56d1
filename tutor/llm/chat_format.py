"""The chat format of our GPT, shared by the training recipe and the local backend.

A conversation is rendered as special-token-delimited turns::

    <|system|>You plan lessons...<|end|>
    <|user|>hours: 2 ...<|end|>
    <|assistant|>m1.numpy study 45
    ...<|end|>

The same format is saved as the tokenizer's Jinja ``chat_template``, so the local backend renders
our model's prompts and a Qwen/Llama model's prompts the same way (``apply_chat_template``).

The task prompts (plan / explain / hint) are also here: the recipe writes training examples
with them and ``tasks.py`` asks with them, so the two can never drift apart. They are plain
English so a larger model understands them without fine-tuning.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

SYSTEM, USER, ASSISTANT, END = "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"
SPECIAL_TOKENS = [SYSTEM, USER, ASSISTANT, END]
ROLE_TOKEN = {"system": SYSTEM, "user": USER, "human": USER, "assistant": ASSISTANT, "ai": ASSISTANT}

# Jinja twin of ``render`` below (tested to give identical text).
CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}<|system|>"
    "{% elif m['role'] == 'assistant' %}<|assistant|>"
    "{% else %}<|user|>{% endif %}"
    "{{ m['content'] }}<|end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)

PLAN_SYSTEM = "Plan lessons: one line per item, topic_id activity minutes | minutes left; reason."
EXPLAIN_SYSTEM = "Answer the question only from the numbered passages, citing them like [1]."
HINT_SYSTEM = "Give a short hint for the failing test. Never write the solution code."

# one plan line: "m1.numpy study 45 | 75 left; new topic in module 1" (the reason is optional).
# "75 left; " is the model's running count of the minutes still free after the item: a scratchpad
# (a small model cannot keep a sum in its head; it can subtract two numbers it sees), dropped
# from the reason when parsed, so learners see only the reason
REASON_SEP = " | "
LEFT = re.compile(r"^(-?\d+) left(?:;\s*|$)")
MAX_REASON_CHARS = 120
PLAN_LINE = re.compile(r"^\s*([a-z0-9][a-z0-9.\-]*)\s+([a-z]+)\s+(\d+)\s*(?:\|\s*(.*?))?\s*$")
MAX_PASSAGE_CHARS = 240
MASTERED = 0.8  # curriculum.planner.MASTERED (not imported: this module stays import-light)
_FENCED = re.compile(r"^\s*(```|~~~).*?^\s*(```|~~~)[^\n]*$", re.S | re.M)
_DROP_LINES = re.compile(r"^\s*(#+\s.*|\|.*)$", re.M)  # headings (the title again) and table rows
_MD = re.compile(r"(\*\*|__|\*|`|^\s*[-+]\s+|^\s*\d+\.\s+|^>\s*|\$)", re.M)


def render(messages: Sequence[Mapping[str, str]], add_generation_prompt: bool = True) -> str:
    """Python twin of CHAT_TEMPLATE: ``[{"role", "content"}]`` -> prompt text."""
    out = [f"{ROLE_TOKEN.get(m['role'], USER)}{m['content']}{END}\n" for m in messages]
    if add_generation_prompt:
        out.append(ASSISTANT)
    return "".join(out)


def plan_prompt(
    mastery: Mapping[str, float],
    hours: float,
    goal_topics: Iterable[str] = (),
    due: Iterable[str] = (),
    order: Sequence[str] | None = None,
    path: Sequence[str] = (),
) -> str:
    """Learner state as the plan task's user turn.

    Due reviews come first, so their ids sit at the same few positions in every prompt (the
    system turn before them is fixed): reviews come first in a plan, and a small model with
    learned absolute positions copies from a fixed position far more reliably than from a line
    that a variable-length path pushes around (behind the path, the model reviewed a
    neighbouring id in 10 of 200 held-out states). Then the time in minutes (the unit the items
    are written in), the goal and ``path`` (``curriculum.plan_reasons.study_path``: the goal's
    prerequisite closure not yet mastered, or without a goal every topic not yet mastered, in
    prerequisite order: a fact of the curriculum graph and the mastery, which a small model
    cannot work out in its head; choosing, ordering, timing and justifying the items stays the
    model's job, and the decoder does not hold it to the path), mastered topics by id, and
    partly learned ones with their mastery (floored to one decimal); topics not listed have
    mastery 0. Topics are listed in ``order`` (the curriculum's prerequisite order, which the
    recipe and the served task both pass), so a small model reads the state in the order it
    plans in; ids not in ``order`` follow alphabetically."""
    # floor to one decimal: the planner's thresholds (0.3, 0.8) are one-decimal numbers, so a
    # floored value is on the same side of each threshold as the exact one
    shown = {t: math.floor(float(p) * 10 + 1e-9) / 10 for t, p in mastery.items()}
    rank = {t: n for n, t in enumerate(order or ())}
    ids = sorted(shown, key=lambda t: (rank.get(t, len(rank)), t))
    known = " ".join(t for t in ids if shown[t] >= MASTERED)
    partial = " ".join(f"{t}={shown[t]:.1f}" for t in ids if 0 < shown[t] < MASTERED)
    return (
        f"due: {' '.join(due) or '-'}\n"
        f"minutes: {int(round(float(hours) * 60))}\n"
        f"goal: {' '.join(goal_topics) or '-'}\n"
        f"path: {' '.join(path) or '-'}\n"
        f"known: {known or '-'}\n"
        f"learning: {partial or '-'}"
    )


def format_plan(items: Iterable[Mapping[str, Any]], budget: int | None = None) -> str:
    """Plan items as the model writes them: ``topic activity minutes | reason`` per line (no
    `` | reason`` when an item has none). With ``budget`` (the learner's minutes), each reason
    starts with the minutes left after the item (``| 75 left; reason``), as the model learns to."""
    lines = []
    left = budget
    for i in items:
        reason = " ".join(str(i.get("reason") or "").split())
        if left is not None:
            left -= int(i["minutes"])
            reason = f"{left} left; {reason}" if reason else f"{left} left"
        reason = reason[:MAX_REASON_CHARS]
        line = f"{i['topic_id']} {i['activity']} {int(i['minutes'])}"
        lines.append(f"{line}{REASON_SEP}{reason}" if reason else line)
    return "\n".join(lines)


def parse_plan(text: str) -> list[dict[str, Any]]:
    """Plan lines -> items (with ``reason`` when the line has one); lines that do not parse are
    skipped (validation reports what is missing)."""
    items = []
    for line in text.split("\n"):  # only "\n" ends a line, as in the decoding grammar
        m = PLAN_LINE.match(line)
        if m:
            item: dict[str, Any] = {
                "topic_id": m.group(1),
                "activity": m.group(2),
                "minutes": int(m.group(3)),
            }
            reason = LEFT.sub("", m.group(4) or "", count=1).strip()
            if reason:
                item["reason"] = reason
            items.append(item)
    return items


def clean_passage(text: str) -> str:
    """Passage prose as the model sees it: no code blocks, no Markdown marks, one line."""
    text = _MD.sub("", _DROP_LINES.sub("", _FENCED.sub(" ", text)))
    return " ".join(text.split())


def trim_passage(text: str, limit: int = MAX_PASSAGE_CHARS) -> str:
    """First sentences of a passage up to ``limit`` chars (a small model has a short context)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind("? "), cut.rfind("! "))
    return cut[: end + 1] if end > limit // 3 else cut.rsplit(" ", 1)[0]


def explain_prompt(question: str, passages: Sequence[str]) -> str:
    lines = [f"question: {' '.join(question.split())}"]
    lines += [f"[{n}] {trim_passage(clean_passage(p))}" for n, p in enumerate(passages, 1)]
    return "\n".join(lines)


def hint_prompt(
    title: str, statement: str, failing: Sequence[Mapping[str, str]], wants_solution: bool = False
) -> str:
    lines = [f"exercise: {title}", f"task: {trim_passage(clean_passage(statement), 240)}"]
    for t in failing[:2]:
        lines.append(f"failing: {t.get('name', '?')}: {trim_passage(str(t.get('message', '')), 160)}")
    if wants_solution:
        lines.append("request: give me the full solution")
    return "\n".join(lines)
