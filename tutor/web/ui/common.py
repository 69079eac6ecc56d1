"""Helpers the UI tabs share: who the learner is, safe text, images from run outputs, citation links.

Nothing here renders learner-controlled HTML: text that came from a learner (messages, stdout,
test messages) is either escaped before it reaches a Markdown component or shown in a text-only
component (``gr.Textbox``, ``gr.Code``, ``gr.Dataframe``); images are written to PNG/JPEG files.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import logging
import re
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from tutor.errors import BadInput, Forbidden, as_tutor_error

log = logging.getLogger(__name__)

LEARNER_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,128}$")  # the API's LearnerId pattern
TEACHER_LOGINS: set[str] = set()  # UI login names signed in with a teacher key: they only read
IMAGE_MIMES = {"image/png": ".png", "image/jpeg": ".jpg"}
PLOTS_DIR = Path(tempfile.gettempdir()) / "tutor-ui-plots"  # Gradio serves files under the temp dir
MAX_IMAGE_BYTES = 5_000_000
KEEP_PLOTS = 500  # newest plot files kept; older ones go (Gradio has copied what it serves)
LATEX: list[dict[str, str | bool]] = [
    {"left": "$$", "right": "$$", "display": True},
    {"left": "$", "right": "$", "display": False},
    {"left": "\\(", "right": "\\)", "display": False},
    {"left": "\\[", "right": "\\]", "display": True},
]
_CODE = re.compile(r"(```.*?(?:```|\Z)|`[^`\n]+`)", re.S)
_NOTE_SOURCE = re.compile(r"knowledge/notes/(?P<file>[\w.-]+)\.md(?:#(?P<anchor>[\w-]*))?")


def learner_of(name: str | None, request: gr.Request | None = None) -> str:
    """The learner a UI event acts for. With login (API keys set) it is the logged-in name;
    otherwise the picked name, checked against the API's learner-id pattern."""
    user = getattr(request, "username", None) if request is not None else None
    if user and user in TEACHER_LOGINS:
        raise Forbidden(
            "you signed in with a teacher key: the Teach tab shows every learner; chatting, "
            "practising and grading need a learner's key"
        )
    if user:
        return str(user)
    name = (name or "").strip()
    if not name:
        raise BadInput("pick or type your name first (top right), e.g. ada")
    if not LEARNER_RE.match(name):
        raise BadInput(f"name {name!r} may only use letters, digits and _ . @ - (at most 128 characters)")
    return name


def escape_md(text: str) -> str:
    """Escape HTML in Markdown text but leave code spans and fences alone (they show literally)."""
    parts = _CODE.split(text or "")
    return "".join(p if i % 2 else html.escape(p, quote=False) for i, p in enumerate(parts))


def fence(text: str, lang: str = "text") -> str:
    """A fenced block that cannot be closed early by backticks in ``text``."""
    ticks = "`" * max(3, _longest_backtick_run(text) + 1)
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def _longest_backtick_run(text: str) -> int:
    return max((len(m) for m in re.findall(r"`+", text or "")), default=0)


def save_image(mime: str, data: str) -> str | None:
    """Write one base64 image output to a file Gradio may serve; None if it is not a usable image."""
    ext = IMAGE_MIMES.get(mime)
    if ext is None or not isinstance(data, str):
        return None
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return None
    if not raw or len(raw) > MAX_IMAGE_BYTES:
        return None
    PLOTS_DIR.mkdir(parents=True, exist_ok=True)
    path = PLOTS_DIR / (hashlib.sha256(raw).hexdigest()[:24] + ext)
    if not path.exists():
        path.write_bytes(raw)
        _prune()
    return str(path)


def _prune() -> None:
    try:
        files = list(PLOTS_DIR.iterdir())
        if len(files) <= KEEP_PLOTS:
            return
        files.sort(key=lambda f: f.stat().st_mtime)
        for old in files[: len(files) - KEEP_PLOTS]:
            old.unlink(missing_ok=True)
    except OSError:  # another process pruned at the same time: nothing lost
        log.debug("plot pruning skipped", exc_info=True)


def images_of(outputs: Any) -> list[str]:
    """Files of the PNG/JPEG outputs of a run (other MIME types are never rendered)."""
    paths = []
    for out in outputs or []:
        if isinstance(out, dict):
            path = save_image(str(out.get("mime_type", "")), out.get("data", ""))
            if path:
                paths.append(path)
    return paths


def note_link(topic_id: str, anchor: str | None = None) -> str:
    """Relative link to the server-rendered note section (works under a proxy's sub-path too)."""
    return f"notes/{topic_id}" + (f"#{anchor}" if anchor else "")


def citation_md(citation: dict[str, Any], titles: dict[str, str]) -> str:
    """``[Title › section](notes/<topic>#<anchor>)`` for one ``{"topic_id", "source"}`` citation."""
    topic = str(citation.get("topic_id") or "")
    source = str(citation.get("source") or "")
    anchor = source.partition("#")[2] or None
    label = titles.get(topic, topic)
    section = str(citation.get("section") or "")  # the section title as written in the note
    if section or anchor:
        label += " › " + (section or str(anchor).replace("-", " "))
    label = label.replace("[", "(").replace("]", ")")
    return f"[{label}]({note_link(topic, anchor)})"


def linkify_sources(text: str) -> str:
    """Turn note paths in a reply ("knowledge/notes/m1.numpy.md#broadcasting") into links."""

    def repl(m: re.Match[str]) -> str:
        label = (
            f"{m.group('file')} › {m.group('anchor').replace('-', ' ')}"
            if m.group("anchor")
            else m.group("file")
        )
        return f"[{label}]({note_link(m.group('file'), m.group('anchor'))})"

    return _NOTE_SOURCE.sub(repl, text)


def error_text(e: BaseException) -> str:
    """What the learner reads: a TutorError's message; for anything else (a bug) only the id its
    traceback is logged under, never its text."""
    return as_tutor_error(e, "ui").message


def topic_titles(tutor: Any) -> dict[str, str]:
    try:
        return {tid: t.title for tid, t in tutor.catalog.topics.items()}
    except Exception:  # a broken catalog must not take the chat down with it
        log.exception("topic titles unavailable")
        return {}
