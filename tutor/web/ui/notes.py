"""Course notes for people: ``GET /notes/<topic_id>`` renders a note as an HTML page whose headings
carry the same anchors the retriever cites (``knowledge/notes/m1.numpy.md#broadcasting-rules`` ->
``/notes/m1.numpy#broadcasting-rules``), and ``note_markdown`` feeds the Learn tab's viewer.

The page is rendered server-side with raw HTML disabled, so nothing in a note file reaches the
browser as markup. Limit: maths stays TeX source on this page (no KaTeX without a download); the
Learn tab's viewer renders it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse

from knowledge.notes_format import Note, parse_note, slugify
from tutor.errors import NotFound

_TOPIC_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")

PAGE_CSS = """
body{font:16px/1.6 system-ui,sans-serif;max-width:46rem;margin:0 auto;padding:1rem 1.25rem 4rem;color:#1f2933}
a{color:#2457a6} pre{background:#f4f5f7;padding:.75rem;overflow-x:auto;border-radius:6px}
code{background:#f4f5f7;padding:0 .2em;border-radius:3px} pre code{padding:0}
table{border-collapse:collapse} td,th{border:1px solid #d0d5dc;padding:.25rem .5rem}
h1,h2,h3{scroll-margin-top:1rem} :target{background:#fff4c2;outline:6px solid #fff4c2}
nav{font-size:.9rem;margin-bottom:1rem;color:#52606d}
@media (prefers-color-scheme: dark){body{background:#111827;color:#e5e7eb} a{color:#8ab4f8}
pre,code{background:#1f2937} :target{background:#3b3200;outline-color:#3b3200}}
"""


def find_note(notes_dir: Path, topic_id: str) -> Note:
    """The note of ``topic_id`` (file ``<topic_id>.md``); NotFound with the known ids otherwise."""
    if not _TOPIC_ID.match(topic_id or ""):
        raise NotFound(f"no note {topic_id!r}: topic ids look like 'm1.numpy'")
    path = Path(notes_dir) / f"{topic_id}.md"
    if path.is_file():
        return _parse_cached(path, path.stat().st_mtime_ns)
    for other in sorted(Path(notes_dir).glob("*.md")):  # a file named differently from its topic id
        note = _parse_cached(other, other.stat().st_mtime_ns)
        if note.topic_id == topic_id:
            return note
    raise NotFound(f"no note for topic {topic_id!r} in {notes_dir}; /api/curriculum lists the topics")


@lru_cache(maxsize=128)
def _parse_cached(path: Path, _mtime_ns: int) -> Note:
    return parse_note(path)


def note_markdown(notes_dir: Path, topic_id: str) -> str:
    """The note body (Markdown with TeX maths) for the Learn tab's viewer."""
    return find_note(notes_dir, topic_id).body


def render_note_html(note: Note) -> str:
    """The note body as HTML, raw HTML disabled, headings with GitHub-style anchors."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    seen: dict[str, int] = {}

    def heading_open(self: Any, tokens: list[Any], idx: int, options: Any, env: Any) -> str:
        slug = slugify(tokens[idx + 1].content)
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        tokens[idx].attrSet("id", f"{slug}-{n}" if n else slug)
        return str(self.renderToken(tokens, idx, options, env))

    md.add_render_rule("heading_open", heading_open)
    return str(md.render(note.body))


def note_page(note: Note) -> str:
    title = html.escape(note.title)
    back = f"../?note={html.escape(note.topic_id)}"
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{title} · GPT Tutor notes</title><style>{PAGE_CSS}</style></head><body>"
        f"<nav><a href='{back}'>← back to the tutor</a> · topic <code>{html.escape(note.topic_id)}</code></nav>"
        f"<main>{render_note_html(note)}</main></body></html>"
    )


def install_notes_route(app: FastAPI, notes_dir: Callable[[], Path]) -> None:
    """Adds ``GET /notes/{topic_id}``; call before mounting Gradio at ``/`` (a mount catches all)."""

    @app.get("/notes/{topic_id}", response_class=HTMLResponse, include_in_schema=False)
    def note(topic_id: str) -> Any:
        try:
            return HTMLResponse(note_page(find_note(notes_dir(), topic_id)))
        except NotFound as e:
            return JSONResponse({"error": {"code": e.code, "message": e.message}}, status_code=404)
