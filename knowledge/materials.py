"""Teachers' own course material: a Chroma collection next to the notes, searched the same way.

``MaterialIndex`` keeps two collections in the notes' Chroma client, embedded by the notes'
model: ``tutor_materials`` (one entry per heading section, the same metadata shape as a note
chunk, so ``knowledge.retriever.Retriever`` runs its hybrid dense + BM25 search over it
unchanged) and ``tutor_materials_sources`` (one entry per material: its record and its whole text).
A material's id comes from its file name, so adding the same file again replaces it.

A file is indexed whole or not at all: it is read, split and embedded before anything is written,
its new sections are written before the old version's are removed, and a failed write removes
what it wrote. ``MaterialSearch.match`` says when a material answers a question clearly better
than the notes (dense cosine similarity of the best section of each, same model, same text shape).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from knowledge.index import NoteIndex, StoredChunk, embed_text
from knowledge.material_loaders import LoadedMaterial, MaterialError, load_material, slugify
from tutor.errors import NotFound

log = logging.getLogger(__name__)

COLLECTION = "tutor_materials"
SOURCES = "tutor_materials_sources"
MODULE = "materials"  # the ``module`` of every material section (notes have m1..m11)
DEFAULT_MAX_BYTES = 10_000_000
# A material answers instead of the notes only when its best section is this similar to the question
# and this much more similar than the notes' best section (cosine, all-MiniLM-L6-v2). Measured over
# the real notes (602 sections) and the five files of tests/data/materials: 10 questions about the
# material scored 0.41-0.76 (notes 0.19-0.42, margin +0.10 to +0.49); 8 course questions and an
# off-course one scored 0.00-0.23 on the material, below their notes score by 0.13-0.59.
MIN_SIMILARITY = 0.4
MARGIN = 0.1
_ADD_BATCH = 128


@dataclass(frozen=True)
class Material:
    """A material's record (what ``GET /api/materials`` lists)."""

    id: str
    title: str
    source_name: str  # the file name as uploaded
    kind: str
    uploader: str
    content_hash: str
    size: int
    sections: int
    added: str  # ISO time, UTC

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "link": f"/api/materials/{self.id}"}


def material_id(name: str) -> str:
    """``Week 3 notes.md`` -> ``week-3-notes-md-5d41a2``: readable, and the same file name always
    gives the same id (so re-adding a file replaces it)."""
    slug = slugify(name.replace(".", " ")).strip("-_")[:48] or "material"
    return f"{slug}-{hashlib.sha256(name.encode()).hexdigest()[:6]}"


class _CachedEmbedder:
    """The notes' embedder with the last few single-text results kept: a question is embedded
    once for the similarity check and the hybrid search."""

    def __init__(self, inner: Any, size: int = 32) -> None:
        self.inner = inner
        self.name = inner.name
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) != 1:
            return np.asarray(self.inner.embed(texts))
        with self._lock:
            hit = self._cache.get(texts[0])
            if hit is not None:
                self._cache.move_to_end(texts[0])
                return hit
        vec = np.asarray(self.inner.embed(texts))
        with self._lock:
            self._cache[texts[0]] = vec
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return vec


class MaterialIndex:
    """The material collections; also what ``Retriever`` needs of an index (``embedder``,
    ``version``, ``state``, ``fingerprint``, ``stored_chunks``, ``query``)."""

    def __init__(self, notes: NoteIndex, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.notes = notes
        self.max_bytes = max_bytes
        self.version = 0
        self._lock = threading.Lock()
        self._embedder: _CachedEmbedder | None = None

    @property
    def embedder(self) -> _CachedEmbedder:
        if self._embedder is None:
            self._embedder = _CachedEmbedder(self.notes.embedder)
        return self._embedder

    def _collection(self, name: str = COLLECTION) -> Any:
        return self.notes.client.get_or_create_collection(
            name,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"index_version": self.notes.index_version, "fingerprint": ""},
            embedding_function=None,
        )

    # --- what Retriever reads -----------------------------------------------------------------
    def state(self) -> tuple[str, str]:
        coll = self._collection()
        fingerprint = str((coll.metadata or {}).get("fingerprint", ""))
        return ("ok" if coll.count() else "missing"), fingerprint

    def fingerprint(self) -> str:
        return self.state()[1]

    def build(self) -> None:
        """Nothing to build: materials are indexed as they are added."""

    def stored_chunks(self) -> list[StoredChunk]:
        got = self._collection().get(include=["documents", "metadatas"])
        return [
            StoredChunk(cid, doc, dict(meta))
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        ]

    def query(self, embedding: list[float], n: int, where: dict[str, Any] | None = None) -> list[str]:
        res = self._collection().query(query_embeddings=[embedding], n_results=n, where=where, include=[])
        return list(res["ids"][0])

    def count(self) -> int:
        return int(self._collection().count())

    # --- adding and removing -------------------------------------------------------------------
    def add(self, name: str, data: bytes, uploader: str) -> Material:
        """Index one file (replacing an earlier file of the same name); ``MaterialError`` names
        the file when it cannot be read, and then nothing of it is indexed."""
        loaded = load_material(name, data, self.max_bytes, self.notes.max_chunk_chars)
        mid = material_id(loaded.name)
        title = loaded.title
        vecs = self.embedder.embed([embed_text(s.heading_path, s.text) for s in loaded.sections])
        record = Material(
            id=mid,
            title=title,
            source_name=loaded.name,
            kind=loaded.kind,
            uploader=uploader,
            content_hash=loaded.content_hash,
            size=loaded.size,
            sections=len(loaded.sections),
            added=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        with self._lock:
            self._write(record, loaded, vecs)
        log.info("material %s (%s) indexed: %d sections", mid, loaded.name, len(loaded.sections))
        return record

    def _write(self, record: Material, loaded: LoadedMaterial, vecs: np.ndarray) -> None:
        coll, sources = self._collection(), self._collection(SOURCES)
        old = coll.get(where={"topic_id": record.id}, include=[])["ids"]
        stamp = uuid.uuid4().hex[:8]  # new ids never collide with the version being replaced
        ids = [f"{record.id}:{stamp}:{i}" for i in range(len(loaded.sections))]
        written: list[str] = []
        try:
            for i in range(0, len(ids), _ADD_BATCH):
                batch = slice(i, i + _ADD_BATCH)
                coll.add(
                    ids=ids[batch],
                    embeddings=vecs[batch].tolist(),
                    documents=[s.text for s in loaded.sections[batch]],
                    metadatas=[_section_meta(record, s) for s in loaded.sections[batch]],
                )
                written += ids[batch]
            sources.upsert(
                ids=[record.id],
                embeddings=[vecs[0].tolist()],
                documents=[loaded.text],
                metadatas=[asdict(record)],
            )
        except Exception:
            if written:
                coll.delete(ids=written)
            raise
        if old:
            coll.delete(ids=old)
        self._changed(coll)

    def _changed(self, coll: Any) -> None:
        coll.modify(metadata={"index_version": self.notes.index_version, "fingerprint": uuid.uuid4().hex})
        self.version += 1

    def add_many(self, files: Sequence[tuple[str, bytes]], uploader: str) -> dict[str, Any]:
        """Each file on its own: ``{"added": [record...], "errors": [{"file", "error"}]}``."""
        added, errors = [], []
        for name, data in files:
            try:
                added.append(self.add(name, data, uploader).to_dict())
            except MaterialError as e:
                errors.append({"file": str(name), "error": str(e)})
        return {"added": added, "errors": errors}

    def remove(self, mid: str) -> Material:
        with self._lock:
            record = self.get(mid)
            coll = self._collection()
            ids = coll.get(where={"topic_id": mid}, include=[])["ids"]
            if ids:
                coll.delete(ids=ids)
            self._collection(SOURCES).delete(ids=[mid])
            self._changed(coll)
        log.info("material %s removed", mid)
        return record

    # --- reading -------------------------------------------------------------------------------
    def records(self) -> list[Material]:
        got = self._collection(SOURCES).get(include=["metadatas"])
        return sorted((_record(m) for m in got["metadatas"] or []), key=lambda r: (r.title.lower(), r.id))

    def get(self, mid: str) -> Material:
        return self.source(mid)[0]

    def source(self, mid: str) -> tuple[Material, str]:
        """The record and the whole text (Markdown) of one material."""
        got = self._collection(SOURCES).get(ids=[mid], include=["metadatas", "documents"])
        if not got["ids"]:
            raise NotFound(f"material {mid!r} not found; GET /api/materials lists them")
        return _record(got["metadatas"][0]), str(got["documents"][0])

    def best_similarity(self, vec: list[float]) -> float:
        """Cosine similarity of the nearest material section to ``vec`` (0 without materials)."""
        return _nearest(self._collection(), vec)


def _nearest(coll: Any, vec: list[float]) -> float:
    if coll.count() == 0:
        return 0.0
    res = coll.query(query_embeddings=[vec], n_results=1, include=["distances"])
    dists = res["distances"][0]
    return 1.0 - float(dists[0]) if dists else 0.0


def _section_meta(record: Material, s: Any) -> dict[str, Any]:
    return {
        "topic_id": record.id,  # the retriever groups passages by this: one "note" per material
        "module": MODULE,
        "title": record.title,
        "heading": s.heading,
        "heading_path": s.heading_path,
        "source": f"/api/materials/{record.id}",
        "anchor": s.anchor,
        "part": s.part,
        "material": record.id,
    }


def _record(meta: Any) -> Material:
    fields = Material.__dataclass_fields__
    return Material(**{k: meta[k] for k in fields})


@dataclass(frozen=True)
class MaterialMatch:
    passages: list[Any]  # knowledge.retriever.Passage, best first; topic_id is the material id
    similarity: float  # best material section's cosine similarity to the question
    note_similarity: float  # best note section's


class MaterialSearch:
    """Hybrid search over the materials, and the comparison with the notes."""

    def __init__(
        self, index: MaterialIndex, min_similarity: float = MIN_SIMILARITY, margin: float = MARGIN
    ) -> None:
        from knowledge.retriever import Retriever

        self.index = index
        self.min_similarity, self.margin = min_similarity, margin
        self.retriever = Retriever(index)  # type: ignore[arg-type]

    def search(self, query: str, k: int = 5) -> list[Any]:
        if self.index.count() == 0:
            return []
        return list(self.retriever.search(query, k=k))

    def match(self, query: str, k: int = 4) -> MaterialMatch | None:
        """The material passages for ``query`` when a material matches clearly better than the
        notes (``MIN_SIMILARITY``, ``MARGIN``); None otherwise, or when there is no material."""
        start = time.perf_counter()
        if self.index.count() == 0:
            return None
        vec = self.index.embedder.embed([" ".join(query.split())])[0].tolist()
        sim = self.index.best_similarity(vec)
        notes = self.index.notes
        note_sim = _nearest(notes.collection(), vec) if notes.is_built() else 0.0
        log.debug(
            "material match %.3f vs notes %.3f (%.0f ms)", sim, note_sim, 1e3 * (time.perf_counter() - start)
        )
        if sim < self.min_similarity or sim < note_sim + self.margin:
            return None
        passages = self.search(query, k=k)
        return MaterialMatch(passages, round(sim, 4), round(note_sim, 4)) if passages else None
