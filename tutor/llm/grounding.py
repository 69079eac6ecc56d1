"""Is a sentence supported by the passages it cites? Token overlap, no model needed.

A sentence counts as supported when most of its content words occur in a cited passage in the
passage's order, it does not loop ("a model is a model is a model"), AND most of its word pairs
occur in the passage too: the second test catches a small model's favourite failure, real note
words stitched into a new (wrong) claim. Limits: it cannot tell a negated copy ("is not") from
the original when the rest overlaps, and paraphrase by a larger model can fail it (then the
caller falls back to quoting the notes, which is the safe side).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

STOPWORDS = frozenset(
    "a an the and or but if of to in on at by for with from as is are was were be been being it its this that "
    "these those there their they them you your we our i he she his her not no so than then too very can could "
    "will would should may might must do does did done have has had into over under about which what when where "
    "who whom why how all any each both few more most other some such only own same just also".split()
)
MARKER = re.compile(r"\s*\[(\d+)\]")
_WORD = re.compile(r"[a-z0-9]+(?:[._\-'][a-z0-9]+)*")
# a sentence ends at . ! ? (not in "e.g." & co) plus any citation markers, before a space or the end
_BOUNDARY = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\betc)(?<!\bvs)[.!?]((?:\s*\[\d+\])*)(?:\s+|$)")

MIN_UNIGRAM = 0.8
MIN_BIGRAM = 0.6


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS and len(w) > 1]


def split_sentences(text: str) -> list[str]:
    """Sentences (and lines) with their trailing citation markers kept attached."""
    out: list[str] = []
    for line in text.splitlines():
        pos = 0
        for m in _BOUNDARY.finditer(line):
            piece = line[pos : m.end(1)].strip()
            if piece:
                out.append(piece)
            pos = m.end()
        tail = line[pos:].strip()
        if tail:
            out.append(tail)
    return out


def cited(sentence: str) -> list[int]:
    return [int(n) for n in MARKER.findall(sentence)]


def strip_markers(sentence: str) -> str:
    return MARKER.sub("", sentence).strip()


@dataclass(frozen=True)
class Support:
    supported: bool
    passage: int | None  # 1-based index of the best supporting passage
    unigram: float
    bigram: float


def support(sentence: str, passages: Sequence[str], allowed: Sequence[int] = ()) -> Support:
    """Best support of ``sentence`` among ``passages`` (only ``allowed`` ones when given, 1-based)."""
    body = strip_markers(sentence)
    cw = content_words(body)
    ws = words(body)
    if len(cw) < 2:  # "Yes." or a bare marker carries nothing checkable
        return Support(False, None, 0.0, 0.0)
    bigrams = list(zip(ws, ws[1:], strict=False))
    best = Support(False, None, 0.0, 0.0)
    trigrams = list(zip(ws, ws[1:], ws[2:], strict=False))
    if len(set(trigrams)) < len(trigrams) or len(set(cw)) < 0.6 * len(cw):
        return best  # "a model is a model is a model": a loop, not a claim
    for n, text in enumerate(passages, 1):
        if allowed and n not in allowed:
            continue
        pw = words(text)
        pbig = set(zip(pw, pw[1:], strict=False))
        # content words must come in the passage's order, not just occur somewhere in it
        uni = in_order(cw, [w for w in pw if w not in STOPWORDS and len(w) > 1]) / len(cw)
        bi = sum(b in pbig for b in bigrams) / len(bigrams) if bigrams else uni
        cand = Support(uni >= MIN_UNIGRAM and bi >= MIN_BIGRAM, n, uni, bi)
        if (cand.supported, cand.unigram + cand.bigram) > (best.supported, best.unigram + best.bigram):
            best = cand
    return best


def in_order(seq: Sequence[str], passage: Sequence[str]) -> int:
    """Length of the longest common subsequence of ``seq`` and ``passage`` (word order kept)."""
    prev = [0] * (len(passage) + 1)
    for a in seq:
        cur = [0]
        for j, b in enumerate(passage, 1):
            cur.append(prev[j - 1] + 1 if a == b else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def question_score(sentence: str, question: str) -> float:
    """How well a passage sentence answers a question: shared content words, favouring short."""
    q = set(content_words(question))
    s = content_words(sentence)
    if not q or not s:
        return 0.0
    return len(q & set(s)) / len(q) + 0.1 / (1 + len(s) / 25)
