"""The Teach tab's course-material panel: upload files (Markdown, text, PDF, notebooks, HTML), see
what is indexed, remove a material (``tutor.usecases.materials``).

Who may use it: the same logins as the rest of the Teach tab (``ui_teach.may_see``: everyone
without API keys, with keys a teacher or admin login under a name that is not a learner's). The
uploader recorded is the login name (``local`` without keys).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import gradio as gr

from tutor.errors import TutorError
from tutor.web.ui.common import error_text
from tutor.web.ui.teach import NO_ACCESS, may_see

log = logging.getLogger(__name__)

HEADERS = ["id", "title", "file", "kind", "sections", "uploader", "added"]
FILE_TYPES = [".md", ".markdown", ".txt", ".pdf", ".ipynb", ".html", ".htm"]
INTRO = (
    "#### Course material\n"
    "Add your own notes (Markdown, text, PDF, Jupyter notebooks, HTML). Learners' answers quote "
    "them, with a link, where they fit a question better than the course notes. Adding a file of "
    "the same name again replaces it."
)


def rows(items: list[dict[str, Any]]) -> list[list[Any]]:
    return [[m["id"], m["title"], m["source_name"], m["kind"], m["sections"], m["uploader"], m["added"]]
            for m in items]  # fmt: skip


def report(out: dict[str, Any]) -> str:
    """One line per file: what was added (with its sections) and why a file was not."""
    lines = [f"✓ **{m['source_name']}**: {m['title']} ({m['sections']} sections)" for m in out["added"]]
    lines += [f"✗ {e['error']}" for e in out["errors"]]
    return "\n\n".join(lines)


class MaterialHandlers:
    def __init__(self, tutor: Any) -> None:
        self.tutor = tutor

    def _listing(self, message: str) -> tuple[Any, ...]:
        items = self.tutor.materials.list()
        ids = [m["id"] for m in items]
        return message, rows(items), gr.update(choices=ids, value=None)

    def view(self, request: gr.Request | None = None) -> tuple[Any, ...]:
        """(message, table rows, remove choices)."""
        if not may_see(self.tutor, request):
            return NO_ACCESS, [], gr.update(choices=[], value=None)
        try:
            return self._listing("")
        except TutorError as e:
            return f"⚠ {error_text(e)}", [], gr.update(choices=[], value=None)

    def add(self, paths: list[str] | None, request: gr.Request | None = None) -> tuple[Any, ...]:
        """Index the uploaded files; (message, table rows, remove choices, cleared upload)."""
        if not may_see(self.tutor, request):
            return NO_ACCESS, [], gr.update(choices=[], value=None), None
        if not paths:
            return ("Choose one or more files first.", *self.view(request)[1:], None)
        files = [(Path(p).name, Path(p).read_bytes()) for p in paths]
        uploader = getattr(request, "username", None) or "local"
        try:
            out = self.tutor.materials.add(files, uploader=uploader)
            message = report(out)
        except TutorError as e:
            errors = (e.details or {}).get("errors")
            message = report({"added": [], "errors": errors}) if errors else f"⚠ {error_text(e)}"
        return (*self._listing(message), None)

    def remove(self, material_id: str | None, request: gr.Request | None = None) -> tuple[Any, ...]:
        if not may_see(self.tutor, request):
            return NO_ACCESS, [], gr.update(choices=[], value=None)
        if not material_id:
            return ("Pick a material to remove.", *self._listing("")[1:])
        try:
            gone = self.tutor.materials.remove(material_id)
            message = f"Removed **{gone['title']}** ({gone['source_name']})."
        except TutorError as e:
            message = f"⚠ {error_text(e)}"
        return self._listing(message)


def build_materials_panel(tutor: Any) -> dict[str, Any]:
    """The panel, inside the current Blocks context. ``view`` is (fn, inputs, outputs) for the
    tab's select event, so the list is fresh whenever the tab opens."""
    h = MaterialHandlers(tutor)
    gr.Markdown(INTRO, elem_id="materials-intro")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=280):
            upload = gr.File(
                label="Files to add",
                file_count="multiple",
                file_types=FILE_TYPES,
                type="filepath",
                elem_id="materials-upload",
            )
            add = gr.Button("Add material", variant="primary", size="sm", elem_id="materials-add")
        with gr.Column(scale=1, min_width=220):
            pick = gr.Dropdown(label="Remove a material", choices=[], elem_id="materials-pick")
            remove = gr.Button("Remove", variant="stop", size="sm", elem_id="materials-remove")
    msg = gr.Markdown("", elem_id="materials-msg")
    table = gr.Dataframe(headers=HEADERS, datatype="str", interactive=False, column_count=len(HEADERS),
                         wrap=True, elem_id="materials-list")  # fmt: skip
    private: dict[str, Any] = {"api_visibility": "private"}
    add.click(h.add, [upload], [msg, table, pick, upload], **private)
    remove.click(h.remove, [pick], [msg, table, pick], **private)
    return {"view": (h.view, None, [msg, table, pick]), "handlers": h}
