"""Auto-checking a learner's answer to a practice item (never by exact string).

- multiple choice: the option's text (case and spacing ignored; a unique close match counts) or
  its 0-based index; the reply carries that option's own feedback;
- numeric: a number (``"1/4"``, ``"25%"`` and "the answer is 4" are read too) within the item's
  absolute tolerance;
- short answer: the answer must make ``min_points`` key points (regexes) AND be close in meaning
  to the model answer or a right example (MiniLM cosine >= ``SHORT_THRESHOLD``), or be very close
  (>= ``SHORT_PARAPHRASE``) without the key words;
- code: run in the sandbox by ``tools/practice_grader.py``, verdict made outside it.

The two thresholds were MEASURED on the right_examples / wrong_examples the items carry, leave-one-
out (an example is never compared with itself), plus hard negatives: right answers to the other
short-answer items of the same topic that happen to make this item's key points: ``python -m curriculum.practice_check measure``
prints the sweep. Figures of the last run are in ``MEASURED``. Limits: a negated right answer
("it does NOT stop tokens seeing the future") can pass; embeddings do not read logic.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from curriculum.practice import PracticeItem, points_made
from tutor.errors import BadInput, Unavailable

SHORT_THRESHOLD = 0.14  # with the key points made; the middle of the best interval, see MEASURED
SHORT_PARAPHRASE = 0.78  # without them: above every wrong example's similarity, see MEASURED
MEASURED = """
`python -m curriculum.practice_check measure`, 46 short-answer items on 43 topics (138 right, 138
wrong examples, leave-one-out): keywords alone separate them (balanced accuracy 1.0); embeddings
alone at best 0.772; combined, 1.0 for any threshold in 0.00-0.28 (the lowest right example scores
0.287), so the shipped 0.14 is that interval's middle. The first guess, 0.55, rejected 20% of the
right examples (0.903 on the first 43 items). No authored wrong example makes the key points, and no
right answer to another item of the same topic does either, so the embedding gate is measured only
from above: it stops keyword salad far from every right answer, not subtle errors. The highest wrong
example scores 0.76, hence the 0.78 paraphrase bar.
"""
GIVE_UP = re.compile(r"^\s*(i\s*(do\s*n[o']?t|dont|don't) know|idk|no idea|give up|i give up|pass)\W*$", re.I)

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass
class Verdict:
    """The outcome of one answer; ``feedback`` is about the answer given (the item's explanation
    is added by the caller)."""

    correct: bool
    feedback: str
    details: dict[str, Any] = field(default_factory=dict)


class AnswerError(BadInput):
    """The answer cannot be read as an answer to this item (not counted as an attempt)."""


def check_answer(
    item: PracticeItem, answer: Any, *, embed: Embed | None = None, grade_code: Any = None
) -> Verdict:
    """Check ``answer`` for ``item``. ``embed`` (texts -> unit vectors) is needed for short
    answers, ``grade_code(item_id, code) -> GradeReport`` for code. AnswerError when unreadable."""
    if answer is None or (isinstance(answer, str) and not answer.strip()):
        raise AnswerError("the answer is empty")
    if item.kind == "multiple_choice":
        return _choice(item, answer)
    if item.kind == "numeric":
        return _numeric(item, answer)
    if item.kind == "short_answer":
        if embed is None:
            raise Unavailable("short answers need an embedding model")
        return check_short(item, str(answer), embed)
    if grade_code is None:
        raise Unavailable("code answers need the sandbox grader")
    if not isinstance(answer, str):
        raise AnswerError("a code answer must be Python source text")
    report = grade_code(item.id, answer)
    return Verdict(
        bool(report.passed), str(report.feedback), {"status": report.status, "score": report.score}
    )


def choice_index(item: PracticeItem, answer: Any) -> int:
    """0-based index of the option meant by ``answer`` (index or text), or AnswerError."""
    n = len(item.choices)
    if isinstance(answer, bool):
        raise AnswerError("a multiple-choice answer is an option's text or its 0-based index")
    if isinstance(answer, int) or (isinstance(answer, str) and answer.strip().isdigit()):
        i = int(answer)
        if not 0 <= i < n:
            raise AnswerError(f"option index {i} is out of range: there are {n} options (0..{n - 1})")
        return i
    if not isinstance(answer, str):
        raise AnswerError("a multiple-choice answer is an option's text or its 0-based index")
    norm = _norm(answer)
    texts = [_norm(c.text) for c in item.choices]
    if norm in texts:
        return texts.index(norm)
    inside = [i for i, t in enumerate(texts) if len(norm) >= 3 and (norm in t or t in norm)]
    if len(inside) == 1:
        return inside[0]
    close = difflib.get_close_matches(norm, texts, n=2, cutoff=0.8)
    if len(close) == 1:
        return texts.index(close[0])
    options = "; ".join(f"{i}: {c.text}" for i, c in enumerate(item.choices))
    raise AnswerError(f"{answer!r} is not one of the options ({options})")


def _choice(item: PracticeItem, answer: Any) -> Verdict:
    i = choice_index(item, answer)
    chosen = item.choices[i]
    return Verdict(chosen.correct, chosen.feedback, {"choice": i})


_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?:\s*/\s*\d+(?:\.\d*)?)?\s*%?")


def read_number(answer: Any) -> list[float]:
    """Candidate values of a numeric answer (two for a percentage: 25 and 0.25)."""
    if isinstance(answer, bool):
        raise AnswerError("a numeric answer must be a number")
    if isinstance(answer, int | float):
        if answer != answer or answer in (float("inf"), float("-inf")):
            raise AnswerError("the answer must be a finite number")
        return [float(answer)]
    if not isinstance(answer, str):
        raise AnswerError("a numeric answer must be a number")
    found = _NUMBER.findall(answer.replace(",", ""))
    if len(found) != 1:
        raise AnswerError(f"write one number (e.g. 0.25 or 1/4); could not read {answer[:80]!r}")
    text = found[0].replace(" ", "")
    percent = text.endswith("%")
    text = text.rstrip("%")
    try:
        value = float(Fraction(text)) if "/" in text else float(text)
    except (ValueError, ZeroDivisionError):
        raise AnswerError(f"could not read {answer[:80]!r} as a number") from None
    return [value, value / 100] if percent else [value]


def _numeric(item: PracticeItem, answer: Any) -> Verdict:
    assert item.answer is not None
    values = read_number(answer)
    tol = max(item.tolerance, 1e-9 * max(1.0, abs(item.answer)))
    ok = any(abs(v - item.answer) <= tol for v in values)
    shown = f"{values[0]:g}"
    if ok:
        return Verdict(True, f"Right: {shown} is correct.", {"value": values[0]})
    direction = "high" if values[0] > item.answer else "low"
    return Verdict(False, f"Not quite: {shown} is too {direction}.", {"value": values[0]})


def similarity(
    item: PracticeItem, answer: str, embed: Embed, *, exclude: str | None = None
) -> tuple[float, float]:
    """(best cosine to the model answer and right examples, best cosine to the wrong examples);
    ``exclude`` leaves one example out (for measuring)."""
    right = [t for t in (item.model_answer, *item.right_examples) if t != exclude]
    wrong = [t for t in item.wrong_examples if t != exclude]
    vecs = embed([answer, *right, *wrong])
    sims = vecs[1:] @ vecs[0]
    return float(sims[: len(right)].max(initial=-1.0)), float(sims[len(right) :].max(initial=-1.0))


def short_decision(points_ok: bool, sim_right: float, threshold: float, paraphrase: float) -> bool:
    return (points_ok and sim_right >= threshold) or sim_right >= paraphrase


def check_short(item: PracticeItem, answer: str, embed: Embed) -> Verdict:
    made = points_made(item.key_points, answer)
    sim_right, sim_wrong = similarity(item, answer, embed)
    ok = short_decision(made >= item.min_points, sim_right, SHORT_THRESHOLD, SHORT_PARAPHRASE)
    details = {"points": made, "needed": item.min_points, "similarity": round(sim_right, 3),
               "wrong_similarity": round(sim_wrong, 3)}  # fmt: skip
    if ok:
        return Verdict(True, "Right: your answer makes the key point.", details)
    if made < item.min_points:
        return Verdict(
            False, "Not quite: your answer misses a key point. Compare it with the model answer.", details
        )
    return Verdict(False, "Not quite: you use the right words, but the answer says something else.", details)


# --- measuring the thresholds ---
def measure(items: Sequence[PracticeItem], embed: Embed) -> dict[str, Any]:
    """Leave-one-out scores of every right/wrong example and the thresholds that separate them
    best (balanced accuracy; of the equally good thresholds, the middle one, for a margin on both
    sides). Each item's texts are embedded once, in one batch."""
    rows: list[tuple[bool, bool, float]] = []  # (is_right, points_ok, sim_right)
    shorts = [i for i in items if i.kind == "short_answer"]
    cross_rows = 0
    for item in shorts:
        refs = [item.model_answer, *item.right_examples]
        # hard negatives: right answers to OTHER questions of the same topic (on-topic words,
        # wrong answer); only those that make this item's key points test the embedding gate
        cross = [e for o in shorts if o.topic_id == item.topic_id and o.id != item.id for e in o.right_examples
                 if points_made(item.key_points, e) >= item.min_points]  # fmt: skip
        texts = [*refs, *item.wrong_examples, *cross]
        vecs = embed(texts)
        sims = vecs @ vecs[: len(refs)].T
        for k in range(1, len(texts)):  # the model answer (0) is the reference, not an example
            others = [j for j in range(len(refs)) if j != k]
            ok = points_made(item.key_points, texts[k]) >= item.min_points
            rows.append((k < len(refs), ok, float(sims[k, others].max())))
        cross_rows += len(cross)
    if not rows:
        return {"examples": 0}
    n_right = sum(1 for r in rows if r[0])
    n_wrong = len(rows) - n_right
    wrong_max = max((s for lab, _, s in rows if not lab), default=0.0)
    paraphrase = min(0.99, round(wrong_max + 0.02, 2))
    grid = [round(float(x), 2) for x in np.arange(0.0, 1.0, 0.01)]
    accs = [_balanced(rows, t, paraphrase, n_right, n_wrong) for t in grid]
    best_acc = max(accs)
    best = [t for t, a in zip(grid, accs, strict=True) if a == best_acc]
    t = best[len(best) // 2]
    kw_wrong = [s for lab, ok, s in rows if not lab and ok]
    embedding_only = max(
        _balanced([(a, True, s) for a, _, s in rows], x, 2.0, n_right, n_wrong) for x in grid
    )
    return {"examples": len(rows), "right": n_right, "wrong": n_wrong, "threshold": t,
            "best_interval": (best[0], best[-1]), "paraphrase": paraphrase,
            "balanced_accuracy": round(best_acc, 3),
            "accuracy_at_shipped": round(_balanced(rows, SHORT_THRESHOLD, SHORT_PARAPHRASE, n_right, n_wrong), 3),
            "keywords_only": round(_balanced(rows, -1.0, 2.0, n_right, n_wrong), 3),
            "embedding_only_best": round(embedding_only, 3),
            "wrong_with_key_points": len(kw_wrong), "cross_item_negatives": cross_rows,
            "min_right_similarity": round(min(s for lab, _, s in rows if lab), 3),
            "misses": [(lab, ok, round(s, 3)) for lab, ok, s in rows if short_decision(ok, s, t, paraphrase) != lab]}  # fmt: skip


def _balanced(
    rows: list[tuple[bool, bool, float]], t: float, para: float, n_right: int, n_wrong: int
) -> float:
    tp = sum(1 for lab, ok, s in rows if lab and short_decision(ok, s, t, para))
    tn = sum(1 for lab, ok, s in rows if not lab and not short_decision(ok, s, t, para))
    return 0.5 * (tp / max(1, n_right) + tn / max(1, n_wrong))


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "measure":
        print("usage: python -m curriculum.practice_check measure [PRACTICE_DIR]", file=sys.stderr)
        return 2
    from curriculum.practice import load_practice
    from knowledge.embedding import get_embedder

    items = list(load_practice(args[1] if len(args) > 1 else None).values())
    result = measure(items, get_embedder().embed)
    misses = result.pop("misses", [])
    for key, value in result.items():
        print(f"{key}: {value}")
    print(f"misclassified at the measured threshold: {len(misses)}")
    return 0


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[`*_]", "", text).lower().split()).strip(" .")


if __name__ == "__main__":
    raise SystemExit(main())
