"""Hybrid search over the notes index: dense (Chroma) + BM25 (bm25s), fused by reciprocal rank.

Learners misspell and describe symptoms instead of names, so the query is first corrected word by
word against the notes' own vocabulary (rapidfuzz), then searched both ways: the dense model
catches paraphrases, BM25 catches exact terms (``groupby``, ``sqrt(d_k)``). Reciprocal rank fusion
(RRF) needs no score calibration between the two. Passages are then ordered by how relevant
their note is as a whole, and further passages of a note already listed are discounted, so a top-k
list spans several notes unless one note is clearly the answer.

Limits: the typo fixer only knows words that occur in the notes; very short words (< 4 letters)
are left alone because a one-letter change makes them a different word.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from difflib import get_close_matches
from typing import Any

import numpy as np

from knowledge.embedding import Embedder
from knowledge.index import IndexMissing, NoteIndex, StoredChunk, lexical_text
from tutor.errors import BadInput, NotFound

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 2000
MAX_K = 50
# Fusion settings, tuned with scripts/eval_retrieval.py on the dev and learner question sets
# (a small RRF constant trusts the first ranks more; the dense side carries paraphrases).
RRF_K = 10
DENSE_WEIGHT = 1.5
LEXICAL_WEIGHT = 1.0
DEPTH = 40  # candidates taken from each ranker before fusion
# a note's relevance: its best chunk scores weighted 1, 1/2, 1/4 (several matching sections count,
# but a long note's many weak dense neighbours do not outvote one exact hit)
NOTE_CHUNK_WEIGHTS = (1.0, 0.5, 0.25)
REPEAT_PENALTY = 0.6  # each further passage of an already-listed note counts this much less
_WORD = re.compile(r"(?u)\b\w\w+\b")


@dataclass(frozen=True)
class Passage:
    topic_id: str
    title: str
    source: str  # "knowledge/notes/m1.numpy.md#broadcasting-rules"
    heading: str  # "NumPy > Broadcasting rules"
    text: str
    score: float  # fused relevance in 0..1 (1.0: the note's best sections first in both rankings)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Lexical:
    """BM25 over the stored chunks plus the vocabulary used to correct typos."""

    def __init__(self, chunks: list[StoredChunk], fingerprint: str, version: int) -> None:
        import bm25s
        import Stemmer

        self.fingerprint, self.version = fingerprint, version
        self.chunks = chunks
        self.row = {c.id: i for i, c in enumerate(chunks)}
        self.topics = np.array([c.metadata["topic_id"] for c in chunks])
        self.modules = np.array([c.metadata["module"] for c in chunks])
        self.stemmer = Stemmer.Stemmer("english")
        texts = [lexical_text(c.metadata["heading_path"], c.text) for c in chunks]
        tokens = bm25s.tokenize(texts, stemmer=self.stemmer, show_progress=False)
        self.bm25 = bm25s.BM25()
        self.bm25.index(tokens, show_progress=False)
        self.vocab = dict(self.bm25.vocab_dict)
        words: dict[str, int] = {}
        for t in texts:
            for w in _WORD.findall(t.lower()):
                words[w] = words.get(w, 0) + 1
        self.words = words
        self.word_list = [w for w in words if w.isalpha() and len(w) >= 3]

    def correct(self, query: str) -> str:
        """Replace words unknown to the notes by their closest known word (if one is close)."""
        from rapidfuzz import fuzz, process

        def fix(m: re.Match[str]) -> str:
            word = m.group(0)
            low = word.lower()
            if len(low) < 4 or not low.isalpha() or low in self.words:
                return word
            if self.stemmer.stemWord(low) in self.vocab:
                return word
            cutoff = 80 if len(low) >= 6 else 75
            best = process.extract(low, self.word_list, scorer=fuzz.ratio, score_cutoff=cutoff, limit=3)
            if not best:
                return word
            # among equally close candidates prefer the word the notes use most
            top = max(best, key=lambda b: (b[1], self.words[b[0]]))[0]
            return top

        return _WORD.sub(fix, query)

    def scores(self, query: str, mask: np.ndarray | None) -> np.ndarray:
        import bm25s

        toks = bm25s.tokenize([query], stemmer=self.stemmer, show_progress=False, return_ids=False)[0]
        toks = [t for t in toks if t in self.vocab]
        if not toks:
            return np.zeros(len(self.chunks), dtype=np.float32)
        s = np.asarray(self.bm25.get_scores(toks), dtype=np.float32)
        return s if mask is None else np.where(mask, s, 0.0)


class Retriever:
    """``search(query, k, topic_id, module) -> list[Passage]``; loads BM25 once, refreshes on change."""

    def __init__(
        self,
        index: NoteIndex,
        *,
        auto_build: bool = False,
        refresh_s: float = 2.0,
    ) -> None:
        self.index = index
        self.auto_build = auto_build
        self.refresh_s = refresh_s
        self._lex: _Lexical | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        return self.index.embedder  # queries must be embedded by the model that embedded the notes

    # --- index state ----------------------------------------------------------------------------
    def _lexical(self) -> _Lexical:
        """The BM25 side, rebuilt when this or another process changed the index."""
        with self._lock:
            lex, now = self._lex, time.monotonic()
            if lex is not None and lex.version == self.index.version and now - self._checked < self.refresh_s:
                return lex
            status, fingerprint = self.index.state()
            if status != "ok":
                if not self.auto_build:
                    raise IndexMissing(
                        "built by another version of the chunker or embedding model"
                        if status == "stale"
                        else ""
                    )
                log.info("notes index %s; building it now", status)
                self.index.build()
                fingerprint = self.index.fingerprint()
            if lex is None or lex.fingerprint != fingerprint:
                started = time.perf_counter()
                lex = _Lexical(self.index.stored_chunks(), fingerprint, self.index.version)
                log.info("BM25 over %d chunks built in %.2fs", len(lex.chunks), time.perf_counter() - started)
            lex.version = self.index.version
            self._lex, self._checked = lex, now
            return lex

    def warm_up(self) -> None:
        """Load the embedding model and BM25 now rather than on the first query."""
        self._lexical()
        self.embedder.embed(["warm up"])

    # --- search ---------------------------------------------------------------------------------
    def search(
        self, query: str, k: int = 5, topic_id: str | None = None, module: str | None = None
    ) -> list[Passage]:
        query = _check_query(query)
        k = _check_k(k)
        lex = self._lexical()
        mask = _filter_mask(lex, topic_id, module)
        fixed = lex.correct(query)
        if fixed != query:
            log.debug("query corrected: %r -> %r", query, fixed)

        where = _where(topic_id, module)
        depth = min(max(DEPTH, 2 * k), len(lex.chunks))
        vec = self.embedder.embed([fixed])[0].tolist()
        dense_rows = [lex.row[i] for i in self.index.query(vec, depth, where) if i in lex.row]
        bm = lex.scores(fixed, mask)
        lexical_rows = [int(r) for r in np.argsort(-bm, kind="stable")[: min(depth, int((bm > 0).sum()))]]

        fused = _rrf([(DENSE_WEIGHT, dense_rows), (LEXICAL_WEIGHT, lexical_rows)])
        return [_passage(lex.chunks[r], score) for r, score in _by_note(fused, lex.topics, k)]


def _by_note(fused: list[tuple[int, float]], topics: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Order passages by note relevance first, so the top k spans several notes when unsure.

    A note scores its best chunk scores weighted by ``NOTE_CHUNK_WEIGHTS`` (a note with several
    matching sections beats one lucky chunk). Each step takes the best remaining candidate: a note's next
    passage counts its note score times its share of the note's best chunk times
    ``REPEAT_PENALTY`` per passage already listed, so a clearly best note still gives two or three
    passages before a weak second note gets one. Scores are scaled so 1.0 is the best possible.
    """
    per_note: dict[str, list[tuple[int, float]]] = {}
    for row, score in fused:  # fused is best first, so each list is too
        per_note.setdefault(str(topics[row]), []).append((row, score))
    note_score = {
        t: sum(w * s for w, (_, s) in zip(NOTE_CHUNK_WEIGHTS, chunks, strict=False))
        for t, chunks in per_note.items()
    }
    best_possible = sum(
        w * (DENSE_WEIGHT + LEXICAL_WEIGHT) / (RRF_K + r) for r, w in enumerate(NOTE_CHUNK_WEIGHTS, start=1)
    )
    used = dict.fromkeys(per_note, 0)
    out: list[tuple[int, float]] = []
    while len(out) < k:
        pick: tuple[float, str] | None = None
        for t, chunks in per_note.items():
            i = used[t]
            if i < len(chunks):
                value = note_score[t] * (chunks[i][1] / chunks[0][1]) * REPEAT_PENALTY**i
                if pick is None or value > pick[0]:
                    pick = (value, t)
        if pick is None:
            break
        value, t = pick
        out.append((per_note[t][used[t]][0], value / best_possible))
        used[t] += 1
    return out


def _rrf(rankings: Sequence[tuple[float, Sequence[int]]]) -> list[tuple[int, float]]:
    """Weighted reciprocal rank fusion: sum of weight / (RRF_K + rank), best first."""
    scores: dict[int, float] = {}
    for weight, ranking in rankings:
        for rank, row in enumerate(ranking, start=1):
            scores[row] = scores.get(row, 0.0) + weight / (RRF_K + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def _passage(chunk: StoredChunk, score: float) -> Passage:
    m = chunk.metadata
    return Passage(
        topic_id=m["topic_id"],
        title=m["title"],
        source=m["source"],
        heading=m["heading_path"],
        text=chunk.text,
        score=round(float(score), 4),
    )


def _check_query(query: object) -> str:
    if not isinstance(query, str):
        raise BadInput(f"query must be text, got {type(query).__name__}")
    q = " ".join(query.split())
    if not q:
        raise BadInput("query is empty; ask a question such as 'what is broadcasting in numpy'")
    if len(q) > MAX_QUERY_CHARS:
        raise BadInput(
            f"query is {len(q)} characters, the limit is {MAX_QUERY_CHARS}; shorten it to the question itself"
        )
    return q


def _check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= int(k) <= MAX_K:
        raise BadInput(f"k must be a whole number from 1 to {MAX_K}, got {k!r}")
    return int(k)


def _filter_mask(lex: _Lexical, topic_id: str | None, module: str | None) -> np.ndarray | None:
    mask = None
    for value, column, what in ((topic_id, lex.topics, "topic"), (module, lex.modules, "module")):
        if value is None:
            continue
        known = sorted(set(column.tolist()))
        if value not in known:
            close = get_close_matches(value, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise NotFound(f"{what} {value!r} is not in the notes index{hint} (known: {', '.join(known)})")
        m = column == value
        mask = m if mask is None else mask & m
    if mask is not None and not mask.any():
        raise NotFound(f"no notes are both in topic {topic_id!r} and module {module!r}")
    return mask


def _where(topic_id: str | None, module: str | None) -> dict[str, Any] | None:
    clauses: list[dict[str, Any]] = []
    if topic_id is not None:
        clauses.append({"topic_id": topic_id})
    if module is not None:
        clauses.append({"module": module})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}
