"""Matching a learner's question to a teaching card: the card questions in Chroma, plus BM25.

Every phrasing of a card's question, and the card's answer, is embedded once into the Chroma
collection ``tutor_cards`` (next to the notes' collection, same client and embedding model), kept
in step with ``knowledge/cards/`` by each file's content hash. A search embeds the question, takes
the nearest entries by cosine similarity, and scores each card by its best entry, nudged by BM25
over the card's questions and answer (exact terms such as ``groupby`` or ``sqrt(d_k)``) and by
the topic the notes retrieval found. The score is an absolute similarity (0..1-ish), so a
threshold can say "no card answers this" (measured in ``scripts/eval_answers.py``).
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.cards import CARDS_DIR, Card, parse_cards
from knowledge.index import NoteIndex

log = logging.getLogger(__name__)

COLLECTION = "tutor_cards"
CARD_INDEX_VERSION = "1"
DEPTH = 60  # nearest entries taken from Chroma
LEXICAL_WEIGHT = 0.12  # a card whose words match best gets up to this much on top of its similarity
TOPIC_BONUS = 0.06  # the card's topic is the one the notes retrieval put first
ANSWER_ENTRY_WEIGHT = 0.9  # the answer text is evidence, but a phrased question is better evidence


@dataclass(frozen=True)
class CardHit:
    card: Card
    score: float
    similarity: float  # best cosine similarity of the question to one of the card's entries
    matched: str  # the card question (or "answer") that matched best


def _hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _answer_entry(card: Card) -> str:
    return card.answer.split("\n\n")[0][:500]


class CardIndex:
    """The ``tutor_cards`` collection and the in-memory card table and BM25 over it."""

    def __init__(self, notes: NoteIndex, cards_dir: Path | str = CARDS_DIR) -> None:
        self.notes = notes
        self.cards_dir = Path(cards_dir)
        self._lock = threading.Lock()
        self._cards: dict[str, Card] | None = None
        self._bm25: Any = None
        self._order: list[str] = []

    @property
    def embedder(self) -> Any:
        return self.notes.embedder

    def _collection(self) -> Any:
        return self.notes.client.get_or_create_collection(
            COLLECTION,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"version": f"{CARD_INDEX_VERSION}/{self.notes.index_version}"},
            embedding_function=None,
        )

    # --- building -------------------------------------------------------------------------------
    def build(self, rebuild: bool = False) -> dict[str, int]:
        """Bring the collection in line with the cards directory; {"cards", "added", "removed"}."""
        files = sorted(self.cards_dir.glob("*.yaml")) if self.cards_dir.is_dir() else []
        coll = self._collection()
        version = f"{CARD_INDEX_VERSION}/{self.notes.index_version}"
        if rebuild or (coll.metadata or {}).get("version") != version:
            self.notes.client.delete_collection(COLLECTION)
            coll = self._collection()
        got = coll.get(include=["metadatas"])
        existing: dict[str, tuple[str, list[str]]] = {}
        for cid, meta in zip(got["ids"], got["metadatas"] or [], strict=False):
            existing.setdefault(meta["file"], (meta["file_hash"], []))[1].append(cid)
        wanted = {p.name: (p, _hash(p)) for p in files}
        removed = 0
        for name, (h, ids) in existing.items():
            if name not in wanted or wanted[name][1] != h:
                coll.delete(ids=ids)
                removed += len(ids)
        added = 0
        for name, (path, h) in wanted.items():
            if existing.get(name, ("", []))[0] == h:
                continue
            entries: list[tuple[str, str, dict[str, Any]]] = []
            for card in parse_cards(path):
                base = {"card_id": card.id, "topic_id": card.topic_id, "file": name, "file_hash": h}
                for n, q in enumerate(card.questions):
                    entries.append((f"{card.id}:q{n}", q, {**base, "entry": "question", "text": q}))
                entries.append((f"{card.id}:a", _answer_entry(card), {**base, "entry": "answer", "text": ""}))
            if entries:
                vecs = self.embedder.embed([e[1] for e in entries])
                coll.add(
                    ids=[e[0] for e in entries],
                    embeddings=vecs.tolist(),
                    documents=[e[1] for e in entries],
                    metadatas=[e[2] for e in entries],
                )
                added += len(entries)
        with self._lock:
            self._cards = None  # reload on next search
        return {"cards": coll.count(), "added": added, "removed": removed}

    # --- reading --------------------------------------------------------------------------------
    def cards(self) -> dict[str, Card]:
        with self._lock:
            if self._cards is None:
                import bm25s
                import Stemmer

                cards: dict[str, Card] = {}
                for path in sorted(self.cards_dir.glob("*.yaml")) if self.cards_dir.is_dir() else []:
                    for c in parse_cards(path):
                        cards[c.id] = c
                self._order = list(cards)
                stemmer = Stemmer.Stemmer("english")
                texts = [" ".join([*c.questions, *c.questions, c.answer]) for c in cards.values()]
                if texts:
                    bm = bm25s.BM25()
                    bm.index(bm25s.tokenize(texts, stemmer=stemmer, show_progress=False), show_progress=False)
                    self._bm25 = (bm, stemmer, dict(bm.vocab_dict))
                self._cards = cards
            return self._cards

    def _lexical(self, query: str) -> dict[str, float]:
        if self._bm25 is None:
            return {}
        import bm25s

        bm, stemmer, vocab = self._bm25
        toks = [
            t
            for t in bm25s.tokenize([query], stemmer=stemmer, show_progress=False, return_ids=False)[0]
            if t in vocab
        ]
        if not toks:
            return {}
        s = np.asarray(bm.get_scores(toks), dtype=float)
        top = float(s.max()) if s.size else 0.0
        if top <= 0:
            return {}
        return {self._order[i]: float(v / top) for i, v in enumerate(s) if v > 0}

    def search(
        self, query: str, k: int = 5, topic_ids: list[str] | None = None, top_topic: str | None = None
    ) -> list[CardHit]:
        """The best cards for the question, best first (``topic_ids`` restricts the topics)."""
        cards = self.cards()
        if not cards or not query.strip():
            return []
        coll = self._collection()
        if coll.count() == 0:
            return []
        vec = self.embedder.embed([query])[0].tolist()
        where = None
        if topic_ids:
            where = (
                {"topic_id": topic_ids[0]} if len(topic_ids) == 1 else {"topic_id": {"$in": list(topic_ids)}}
            )
        res = coll.query(
            query_embeddings=[vec],
            n_results=min(DEPTH, coll.count()),
            where=where,
            include=["metadatas", "distances"],
        )
        best: dict[str, tuple[float, str]] = {}
        for meta, dist in zip(res["metadatas"][0], res["distances"][0], strict=True):
            sim = 1.0 - float(dist)
            if meta["entry"] == "answer":
                sim *= ANSWER_ENTRY_WEIGHT
            cid = str(meta["card_id"])
            if cid in cards and sim > best.get(cid, (-1.0, ""))[0]:
                best[cid] = (sim, str(meta.get("text") or "answer"))
        lexical = self._lexical(_clean(query))
        hits = []
        for cid, (sim, matched) in best.items():
            card = cards[cid]
            score = (
                sim
                + LEXICAL_WEIGHT * lexical.get(cid, 0.0)
                + (TOPIC_BONUS if card.topic_id == top_topic else 0.0)
            )
            hits.append(CardHit(card, round(score, 4), round(sim, 4), matched))
        hits.sort(key=lambda h: -h.score)
        return hits[:k]


def _clean(text: str) -> str:
    return re.sub(r"```.*?```", " ", text, flags=re.S)
