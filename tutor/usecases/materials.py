"""Teachers' own material for the UI, API, CLI and chat (``knowledge.materials`` underneath).

``MaterialService`` adds (each file whole or not at all, an error per bad file), lists, shows and
removes materials; ``material_answer`` is what ``Explainer.answer`` returns when a material
matches a question clearly better than the notes and no teaching card answered: the material's
best whole paragraph(s), cited with a link to ``/api/materials/{id}`` and the section title.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from tutor.errors import BadInput

log = logging.getLogger(__name__)
MAX_FILES = 20  # files in one upload


class MaterialService:
    """Built once per ``Tutor`` (``tutor.materials``)."""

    def __init__(self, tutor: Any) -> None:
        self.tutor = tutor

    @cached_property
    def index(self) -> Any:
        from knowledge.index import NoteIndex
        from knowledge.materials import MaterialIndex

        # the notes' index the answers search (its Chroma client and embedding model), without
        # building the retriever just to list materials
        retriever = self.tutor.__dict__.get("retriever")
        notes = getattr(retriever, "index", None)
        if not isinstance(notes, NoteIndex):
            notes = self.tutor.index
        return MaterialIndex(notes, max_bytes=self.tutor.settings.max_material_bytes)

    @cached_property
    def search(self) -> Any:
        """``knowledge.materials.MaterialSearch`` (what ``Explainer.materials`` takes)."""
        from knowledge.materials import MaterialSearch

        return MaterialSearch(self.index)

    def add(self, files: Sequence[tuple[str, bytes]], uploader: str) -> dict[str, Any]:
        """``{"added": [record], "errors": [{"file", "error"}]}``; BadInput when no file was added."""
        from tutor.errors import translate_errors

        if not files:
            raise BadInput("no files given; send one or more Markdown, text, PDF, notebook or HTML files")
        if len(files) > MAX_FILES:
            raise BadInput(f"{len(files)} files in one upload; the limit is {MAX_FILES}")
        with translate_errors():
            out: dict[str, Any] = self.index.add_many(files, uploader)
        if not out["added"]:
            err = BadInput("no file was added: " + "; ".join(e["error"] for e in out["errors"]))
            err.details = {"errors": out["errors"]}
            raise err
        return out

    def add_paths(self, paths: Sequence[Path | str], uploader: str) -> dict[str, Any]:
        """The CLI's ``tutor materials add``: files read from disk (an unreadable one is an error of
        its own, like a bad upload)."""
        files, errors = [], []
        for p in map(Path, paths):
            try:
                files.append((p.name, p.read_bytes()))
            except OSError as e:
                errors.append({"file": p.name, "error": f"{p}: cannot be read ({e.strerror or e})"})
        if not files:
            err = BadInput("no file was added: " + "; ".join(e["error"] for e in errors))
            err.details = {"errors": errors}
            raise err
        try:
            out = self.add(files, uploader)
        except BadInput as e:
            if e.details:
                e.details["errors"] = errors + e.details["errors"]
                e.message = "no file was added: " + "; ".join(x["error"] for x in e.details["errors"])
            raise
        out["errors"] = errors + out["errors"]
        return out

    def list(self) -> list[dict[str, Any]]:
        from tutor.errors import translate_errors

        with translate_errors():
            return [m.to_dict() for m in self.index.records()]

    def get(self, material_id: str) -> dict[str, Any]:
        """The record and the whole text (``text``, Markdown)."""
        from tutor.errors import translate_errors

        with translate_errors():
            record, text = self.index.source(material_id)
        return {**record.to_dict(), "text": text}

    def remove(self, material_id: str) -> dict[str, Any]:
        from tutor.errors import translate_errors

        with translate_errors():
            return dict(self.index.remove(material_id).to_dict())


def material_answer(materials: Any, question: str) -> Any:
    """An ``Answer`` from the teachers' material, or None when the notes match as well or better
    (``materials`` is a ``knowledge.materials.MaterialSearch`` or a fake with ``match``)."""
    from tutor.usecases.explain import Answer, Citation, best_paragraphs, section_title

    try:
        match = materials.match(question)
    except Exception:  # a broken material collection must not stop answers from the notes
        log.exception("searching the teachers' material failed; answering from the notes")
        return None
    if match is None:
        return None
    found = best_paragraphs(question, match.passages)
    if found is None:
        return None
    text, p = found
    section = section_title(str(p.heading or ""))
    cite = Citation(topic_id="material", source=str(p.source), section=section)
    label = f"{p.title} › {section}" if section and section != p.title else str(p.title)
    label = label.replace("[", "(").replace("]", ")")
    body = f"From your teacher's material **{label}**:\n\n{text}\n\n**Sources:** [{label}]({cite.source})"
    return Answer(body, None, [cite], kind="material", score=float(match.similarity))
