"""The Chroma index of the course notes: heading chunks, our own embeddings, incremental updates.

Each chunk is stored with its note's content hash; ``build`` re-embeds only the notes whose hash
changed, replaces their old chunks, and removes the chunks of deleted notes. Chroma is embedded
(``PersistentClient`` in ``chroma_dir``) or a server (``HttpClient`` at ``chroma_url``); with
neither, an in-memory client (tests, benchmarks). Embeddings are always computed here: Chroma's
default embedding function would try to download a model.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from knowledge.embedding import MODEL_NAME, Embedder, get_embedder
from knowledge.notes_format import Chunk, Note, NoteFormatError, chunk_note, parse_note
from tutor.errors import Unavailable

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
COLLECTION = "tutor_notes"
# Bump when chunking or the embedded text changes: every note is then re-embedded.
CHUNKER_VERSION = "3"
_ADD_BATCH = 128


class IndexMissing(RuntimeError):
    """The notes index has not been built (or holds no chunks)."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "the course-notes index is empty or missing"
            + (f" ({detail})" if detail else "")
            + "; run `tutor index` to build it"
        )


class NotesMissing(RuntimeError):
    """The notes directory does not exist or holds no notes."""


class IndexUnavailable(Unavailable):
    """The Chroma server at ``chroma_url`` cannot be reached."""


@dataclass(frozen=True)
class IndexSummary:
    chunks: int  # chunks in the index after the build
    added: int  # chunks embedded and added by this build
    removed: int  # chunks deleted (changed or deleted notes)
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StoredChunk:
    id: str
    text: str
    metadata: dict[str, Any]


def embed_text(heading_path: str, text: str) -> str:
    """What the dense model sees: the heading path first, so a cut-out section keeps its subject."""
    return f"{heading_path}\n{text}"


def lexical_text(heading_path: str, text: str) -> str:
    """What BM25 sees; headings are repeated because they name the section's subject."""
    return f"{heading_path}\n{heading_path}\n{text}"


def source_of(path: Path, anchor: str) -> str:
    """``knowledge/notes/m1.numpy.md#broadcasting-rules`` (relative to the repo when inside it)."""
    try:
        rel = path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        rel = f"{path.parent.name}/{path.name}"
    return f"{rel}#{anchor}" if anchor else rel


def parse_chroma_url(url: str) -> tuple[str, int, bool]:
    """(host, port, ssl) of ``http://host:port``; the port defaults to Chroma's 8000 (443 for https)."""
    parsed = urlparse(url if "://" in url else f"http://{url}")
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"chroma_url must look like http://host:port, got {url!r}")
    ssl = parsed.scheme == "https"
    return parsed.hostname, parsed.port or (443 if ssl else 8000), ssl


class NoteIndex:
    """Builds and reads the Chroma collection of note chunks."""

    def __init__(
        self,
        notes_dir: Path | str,
        chroma_dir: Path | str | None = None,
        chroma_url: str | None = None,
        *,
        embedder: Embedder | None = None,
        collection: str = COLLECTION,
        max_chunk_chars: int = 800,
    ) -> None:
        self.notes_dir = Path(notes_dir)
        self.chroma_dir = Path(chroma_dir) if chroma_dir is not None else None
        self.chroma_url = chroma_url
        if chroma_url:
            parse_chroma_url(chroma_url)  # bad URLs fail here, not at the first search
        self.collection_name = collection
        self.max_chunk_chars = max_chunk_chars
        self._embedder = embedder
        self._client: Any = None
        # bumped by every build in this process; the retriever compares it to refresh BM25 at once
        self.version = 0

    # --- plumbing -------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder()
        return self._embedder

    @property
    def index_version(self) -> str:
        # the bundled model's name is known without loading it, so a no-op build stays instant
        name = self._embedder.name if self._embedder is not None else MODEL_NAME
        return f"{CHUNKER_VERSION}/{name}/{self.max_chunk_chars}"

    @property
    def client(self) -> Any:
        if self._client is None:
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
            if self.chroma_url:
                host, port, ssl = parse_chroma_url(self.chroma_url)
                try:
                    self._client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=settings)
                except Exception as exc:  # chromadb raises ValueError("Could not connect ...")
                    raise self._unavailable(exc) from exc
            elif self.chroma_dir is not None:
                self.chroma_dir.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(path=str(self.chroma_dir), settings=settings)
            else:
                self._client = chromadb.EphemeralClient(settings=settings)
        return self._client

    def _unavailable(self, exc: Exception) -> IndexUnavailable:
        return IndexUnavailable(
            f"cannot reach the Chroma server at {self.chroma_url} ({exc}); start it with "
            "`chroma run --path DIR --port PORT` or unset TUTOR_CHROMA_URL to use the embedded index"
        )

    def _get_collection(self) -> Any | None:
        from chromadb.errors import NotFoundError

        try:
            return self.client.get_collection(self.collection_name)
        except NotFoundError:
            return None
        except IndexUnavailable:
            raise
        except Exception as exc:
            if self.chroma_url:  # the server went away after we connected
                raise self._unavailable(exc) from exc
            raise

    def _create_collection(self) -> Any:
        return self.client.get_or_create_collection(
            self.collection_name,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"index_version": self.index_version, "fingerprint": ""},
            embedding_function=None,
        )

    # --- reading notes --------------------------------------------------------------------------
    def note_paths(self) -> list[Path]:
        if not self.notes_dir.is_dir():
            raise NotesMissing(f"notes directory {self.notes_dir} does not exist; expected one .md per topic")
        return sorted(self.notes_dir.glob("*.md"))

    def load_notes(self) -> list[Note]:
        """All notes, parsed; every broken one is named in one error rather than skipped silently."""
        notes, problems = [], []
        for path in self.note_paths():
            try:
                notes.append(parse_note(path))
            except (NoteFormatError, UnicodeDecodeError) as exc:
                problems.append(str(exc))
        if problems:
            raise NoteFormatError(
                f"{len(problems)} note(s) could not be read; fix them and run `tutor index` again:\n"
                + "\n".join(problems)
            )
        return notes

    # --- building -------------------------------------------------------------------------------
    def build(self, rebuild: bool = False, progress: bool = False) -> IndexSummary:
        """Bring the index in line with the notes directory; returns what changed."""
        start = time.perf_counter()
        notes = self.load_notes()
        coll = self._get_collection()
        if coll is not None and (rebuild or (coll.metadata or {}).get("index_version") != self.index_version):
            self.client.delete_collection(self.collection_name)
            coll = None
        if coll is None:
            coll = self._create_collection()

        existing: dict[str, tuple[str, list[str]]] = {}  # note file -> (hash, chunk ids)
        got = coll.get(include=["metadatas"])
        for cid, meta in zip(got["ids"], got["metadatas"] or [], strict=False):
            h, ids = existing.setdefault(meta["note"], (meta["note_hash"], []))
            ids.append(cid)

        wanted = {n.path.name: n for n in notes}
        stale = [f for f, (h, _) in existing.items() if f not in wanted or wanted[f].content_hash != h]
        todo = [n for n in notes if existing.get(n.path.name, ("", []))[0] != n.content_hash]

        removed = 0
        for f in stale:
            ids = existing[f][1]
            coll.delete(ids=ids)
            removed += len(ids)

        chunks = [(n, c) for n in todo for c in chunk_note(n, self.max_chunk_chars)]
        added = self._add(coll, chunks, progress)

        fingerprint = hashlib.sha256(
            "\n".join(f"{n.path.name}:{n.content_hash}" for n in notes).encode()
        ).hexdigest()
        coll.modify(metadata={"index_version": self.index_version, "fingerprint": fingerprint})
        self.version += 1
        summary = IndexSummary(
            chunks=coll.count(), added=added, removed=removed, seconds=round(time.perf_counter() - start, 3)
        )
        log.info("index built: %s", summary)
        return summary

    def _add(self, coll: Any, chunks: list[tuple[Note, Chunk]], progress: bool) -> int:
        if not chunks:
            return 0
        from tqdm import tqdm

        bar = tqdm(
            total=len(chunks), desc="indexing notes", unit="chunk", file=sys.stderr, disable=not progress
        )
        try:
            for i in range(0, len(chunks), _ADD_BATCH):
                batch = chunks[i : i + _ADD_BATCH]
                vecs = self.embedder.embed([embed_text(c.heading_path, c.text) for _, c in batch])
                coll.add(
                    ids=[f"{n.path.name}:{n.content_hash[:12]}:{i + j}" for j, (n, _) in enumerate(batch)],
                    embeddings=vecs.tolist(),
                    documents=[c.text for _, c in batch],
                    metadatas=[self._metadata(n, c) for n, c in batch],
                )
                bar.update(len(batch))
        finally:
            bar.close()
        return len(chunks)

    @staticmethod
    def _metadata(note: Note, chunk: Chunk) -> dict[str, Any]:
        return {
            "topic_id": chunk.topic_id,
            "module": chunk.module,
            "title": chunk.title,
            "heading": chunk.heading,
            "heading_path": chunk.heading_path,
            "source": source_of(note.path, chunk.anchor),
            "note": note.path.name,
            "note_hash": note.content_hash,
            "part": chunk.part,
        }

    # --- reading the index ----------------------------------------------------------------------
    def is_built(self) -> bool:
        coll = self._get_collection()
        return coll is not None and coll.count() > 0

    def fingerprint(self) -> str:
        """Changes whenever any build changes the index (also one done by another process)."""
        return self.state()[1]

    def state(self) -> tuple[str, str]:
        """(status, fingerprint); status "ok", "missing" (no chunks) or "stale" (built by another
        chunker version or embedding model, so its vectors must not be mixed with this one's)."""
        coll = self._get_collection()
        if coll is None:
            return "missing", ""
        meta = coll.metadata or {}
        fingerprint = str(meta.get("fingerprint", ""))
        if not fingerprint or coll.count() == 0:
            return "missing", fingerprint
        return ("ok" if meta.get("index_version") == self.index_version else "stale"), fingerprint

    def collection(self) -> Any:
        coll = self._get_collection()
        if coll is None or coll.count() == 0:
            raise IndexMissing(f"no chunks in collection {self.collection_name!r}")
        return coll

    def stored_chunks(self) -> list[StoredChunk]:
        got = self.collection().get(include=["documents", "metadatas"])
        return [
            StoredChunk(cid, doc, dict(meta))
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        ]

    def query(self, embedding: list[float], n: int, where: dict[str, Any] | None = None) -> list[str]:
        """Ids of the ``n`` nearest chunks, nearest first."""
        coll = self.collection()
        res = coll.query(query_embeddings=[embedding], n_results=n, where=where, include=[])
        return list(res["ids"][0])
