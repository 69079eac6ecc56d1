"""Training data of the recipe: the pre-training corpus and the generated fine-tuning examples.

Everything is generated from the repository's own sources with a seeded ``random.Random``:
- lesson plans: random learner states -> ``curriculum.planner.plan_lesson`` (the target);
- grounded explanations: a question about a note section + that section and two distractor
  passages, shuffled -> the section's first sentences with the right ``[n]`` marker;
- hints: an exercise and one of its tests -> the hint its author wrote (or a template), and the
  same with a request for the full solution -> a refusal followed by the hint.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from curriculum.catalog import Catalog
from curriculum.plan_reasons import study_path
from curriculum.planner import MASTERED, plan_lesson
from knowledge.notes_format import Chunk, Note, chunk_note, parse_note
from tutor.llm import chat_format as cf
from tutor.llm import grounding as g
from tutor.llm.tasks import REFUSAL, template_hint

logger = logging.getLogger(__name__)

QUESTION_TEMPLATES = ("What is {h}?", "Explain {h}.", "how does {h} work", "Tell me about {h}.", "{h}?")
HOURS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)


@dataclass(frozen=True)
class Example:
    kind: str  # "plan" | "explain" | "hint" | "text" (plain note text, loss on all of it)
    system: str
    user: str
    assistant: str


def load_notes(notes_dir: Path) -> list[Note]:
    notes = [parse_note(p) for p in sorted(notes_dir.glob("*.md"))]
    if not notes:
        raise FileNotFoundError(f"no course notes (*.md) in {notes_dir}; the recipe pre-trains on them")
    return notes


def split_notes(notes: list[Note], seed: int, share: float = 0.1) -> tuple[list[Note], list[Note]]:
    """(train, held out): a seeded ~10% of whole notes never seen in training, for honest loss."""
    n_out = max(1, round(len(notes) * share)) if len(notes) > 2 else 0
    out_ids = set(random.Random(seed).sample([n.topic_id for n in notes], n_out))
    return [n for n in notes if n.topic_id not in out_ids], [n for n in notes if n.topic_id in out_ids]


def note_text(note: Note) -> str:
    return f"# {note.title}\n\n{note.body.strip()}\n"


def curriculum_text(catalog: Catalog) -> str:
    """The curriculum as prose: teaches the model topic ids, titles and prerequisites."""
    out = []
    for m in catalog.modules:
        out.append(f"Module {m.id}: {m.title} (phase {m.phase}, {m.duration}).")
        for t in m.topics:
            pre = " ".join(t.prerequisites) or "none"
            out.append(
                f"Topic {t.id}: {t.title}. Prerequisites: {pre}. Study time: {t.minutes} minutes. "
                f"Covers: {', '.join(t.must_cover)}."
            )
        out.append("")
    return "\n".join(out)


# --- plans ---------------------------------------------------------------------------------


GOAL_SHARE, DUE_SHARE = 0.3, 0.25  # of learners with a goal, with reviews due (the evaluation's mix)


def random_learner(
    catalog: Catalog, rng: random.Random, goal_share: float = GOAL_SHARE, due_share: float = DUE_SHARE
) -> dict[str, Any]:
    """A plausible learner: mastery closed under prerequisites, some partly learned topics,
    a goal topic for ``goal_share`` of them and due reviews for ``due_share``. Values on a 0.1
    grid so the prompt shows them exactly."""
    eagerness = rng.uniform(0.0, 1.0)
    mastery: dict[str, float] = {}
    for tid in catalog.topological_order():
        ready = all(mastery.get(p, 0.0) >= MASTERED for p in catalog.topics[tid].prerequisites)
        if ready and rng.random() < eagerness:
            mastery[tid] = rng.choice((0.8, 0.9, 1.0))
        elif rng.random() < 0.25:
            mastery[tid] = rng.choice((0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7))
    open_topics = [t for t in catalog.topics if mastery.get(t, 0.0) < MASTERED]
    known = [t for t in catalog.topics if mastery.get(t, 0.0) >= MASTERED]
    goals = [rng.choice(open_topics)] if open_topics and rng.random() < goal_share else []
    due = rng.sample(known, min(len(known), rng.choice((1, 2)))) if known and rng.random() < due_share else []
    return {"mastery": mastery, "hours": rng.choice(HOURS), "goal_topics": goals, "due": due}


def plan_examples(
    catalog: Catalog,
    n: int,
    rng: random.Random,
    goal_share: float = GOAL_SHARE,
    due_share: float = DUE_SHARE,
) -> list[Example]:
    """``n`` learner states, each with the planner's plan as the target: items in order, and
    each item's reason (``curriculum.plan_reasons``) after it, so the model learns to say why.
    The shares may be above the evaluation's: the recipe trains more on the states a small
    model gets wrong most (a goal's path, due reviews) than they occur among learners."""
    order = catalog.topological_order()
    out = []
    for _ in range(n):
        s = random_learner(catalog, rng, goal_share, due_share)
        plan = plan_lesson(catalog, s["mastery"], s["hours"], s["goal_topics"], s["due"])
        path = study_path(catalog, s["mastery"], s["goal_topics"])
        user = cf.plan_prompt(s["mastery"], s["hours"], s["goal_topics"], s["due"], order=order, path=path)
        target = cf.format_plan((i.__dict__ for i in plan.items), budget=int(s["hours"] * 60))
        out.append(Example("plan", cf.PLAN_SYSTEM, user, target))
    return out


# --- explanations --------------------------------------------------------------------------


def _passages(notes: Sequence[Note]) -> list[tuple[Chunk, str]]:
    """(chunk, the text the model sees) for every chunk with at least one usable sentence."""
    out = []
    for note in notes:
        for c in chunk_note(note):
            shown = cf.trim_passage(cf.clean_passage(c.text))
            if any(_good(s) for s in g.split_sentences(shown)):
                out.append((c, shown))
    return out


def _good(sentence: str) -> bool:
    """A whole sentence worth quoting: ends like one, says something, is not a table or code."""
    return sentence.endswith((".", "!", "?")) and len(g.content_words(sentence)) >= 4 and "|" not in sentence


def answer_from(shown: str, marker: int, rng: random.Random) -> str:
    sents = [s for s in g.split_sentences(shown) if _good(s)][: rng.choice((1, 2))]
    return " ".join(f"{g.strip_markers(s)} [{marker}]" for s in sents)


def explain_examples(notes: Sequence[Note], n: int, rng: random.Random) -> list[Example]:
    pool = _passages(notes)
    if len(pool) < 3:
        return []
    out = []
    for _ in range(n):
        right, shown = rng.choice(pool)
        others = [p for p in rng.sample(pool, min(len(pool), 6)) if p[0].topic_id != right.topic_id]
        k = rng.choice((2, 3)) if len(others) >= 2 else 1 + len(others[:1])
        chosen = [shown] + [o[1] for o in others[: k - 1]]
        rng.shuffle(chosen)
        marker = chosen.index(shown) + 1
        heading = right.heading if rng.random() < 0.8 else right.title
        question = rng.choice(QUESTION_TEMPLATES).format(h=heading.lower() if rng.random() < 0.5 else heading)
        out.append(
            Example(
                "explain",
                cf.EXPLAIN_SYSTEM,
                cf.explain_prompt(question, chosen),
                answer_from(shown, marker, rng),
            )
        )
    return out


# --- hints ---------------------------------------------------------------------------------


def _exercises(exercises_dir: Path | None) -> list[Any]:
    try:
        from curriculum.exercises import load_exercises

        return (
            list(load_exercises(exercises_dir).values())
            if exercises_dir is None or exercises_dir.exists()
            else []
        )
    except Exception as e:  # noqa: BLE001 - exercises are optional input; the recipe goes on without
        logger.warning("no exercises for hint data (%s); the hint task falls back to its template", e)
        return []


def hint_examples(exercises_dir: Path | None, n: int, rng: random.Random) -> list[Example]:
    cases = []
    for ex in _exercises(exercises_dir):
        for t in ex.tests:
            msg = "" if t.hidden else (t.description or "assertion failed")
            cases.append((ex, {"name": t.name, "message": msg, "hidden": t.hidden}))
    if not cases:
        return []
    out = []
    for _ in range(n):
        ex, test = rng.choice(cases)
        wants = rng.random() < 0.3
        target = template_hint(ex, [test])
        user = cf.hint_prompt(ex.title, ex.statement, [test], wants_solution=wants)
        out.append(Example("hint", cf.HINT_SYSTEM, user, f"{REFUSAL} {target}" if wants else target))
    return out


# --- plain text ----------------------------------------------------------------------------


def text_examples(notes: Sequence[Note], n: int, rng: random.Random, max_chars: int = 700) -> list[Example]:
    """Note passages mixed into fine-tuning so the model keeps its language model (measured:
    fine-tuning on tasks alone raised the held-out loss from 5.2 to 6.2)."""
    pieces = [c.text[:max_chars] for note in notes for c in chunk_note(note) if len(c.text) > 80]
    return [Example("text", "", "", rng.choice(pieces)) for _ in range(n)] if pieces else []


# --- authored teaching material as pre-training text -----------------------------------------


def card_texts(cards: Sequence[Any], skip_topics: set[str]) -> list[str]:
    """Teaching cards (``knowledge/cards``) as plain documents: the first phrasing as a question,
    then the answer, why, example, pitfall and check. Cards of held-out topics are left out so
    the held-out notes stay unseen in substance, not only in wording."""
    out = []
    for c in cards:
        if c.topic_id in skip_topics:
            continue
        parts = [f"Q: {c.questions[0]}", c.answer, c.why, c.example, c.pitfall]
        if c.check is not None:
            parts.append(f"Check: {c.check.question} {c.check.answer}")
        out.append("\n\n".join(p.strip() for p in parts if p and p.strip()) + "\n")
    return out


def practice_texts(items: Sequence[Any], skip_topics: set[str]) -> list[str]:
    """Practice items (``curriculum/practice``) as documents: prompt, then the explanation a
    learner sees after answering (answers and solutions of code items are left out)."""
    return [
        f"{i.prompt.strip()}\n\n{i.explanation.strip()}\n"
        for i in items
        if i.topic_id not in skip_topics and i.explanation.strip()
    ]


# --- encoding ------------------------------------------------------------------------------


def encode_examples(tokenizer: Any, examples: Sequence[Example], block_size: int) -> dict[str, Any]:
    """Packed ids, a loss mask on the reply tokens (and the end marker), and example starts.
    Examples longer than the block are dropped (counted in ``dropped``)."""
    end_id = tokenizer.convert_tokens_to_ids(cf.END)
    prompts = [
        ""
        if e.kind == "text"
        else cf.render([{"role": "system", "content": e.system}, {"role": "user", "content": e.user}])
        for e in examples
    ]
    enc_p = tokenizer.backend_tokenizer.encode_batch(prompts, add_special_tokens=False)
    enc_a = tokenizer.backend_tokenizer.encode_batch(
        [e.assistant for e in examples], add_special_tokens=False
    )
    ids: list[int] = []
    mask: list[int] = []
    starts: list[int] = []
    dropped = 0
    nl = tokenizer.backend_tokenizer.encode("\n", add_special_tokens=False).ids
    eos = int(tokenizer.eos_token_id)
    for e, p, a in zip(examples, enc_p, enc_a, strict=True):
        seq_p, seq_a = p.ids, [*a.ids, eos if e.kind == "text" else end_id]
        if len(seq_p) + len(seq_a) + len(nl) > block_size:
            dropped += 1
            continue
        starts.append(len(ids))
        ids += seq_p + seq_a + nl
        mask += [0] * len(seq_p) + [1] * len(seq_a) + [0] * len(nl)
    return {
        "ids": np.asarray(ids, dtype=np.uint16 if len(tokenizer) < 65_535 else np.int32),
        "mask": np.asarray(mask, dtype=np.uint8),
        "starts": np.asarray(starts, dtype=np.int64),
        "dropped": dropped,
    }
