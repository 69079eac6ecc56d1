"""The Teach tab's material panel (tutor/web/ui/materials.py): upload, per-file report, list, remove,
and who may use it, through its handlers over the real material index (hashing embedder)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gradio as gr

from tests.ui_helpers import fake_tutor
from tests.unit.test_materials_api import FILES, hashing_notes
from tutor.web.ui.materials import MaterialHandlers, build_materials_panel
from tutor.web.ui.teach import NO_ACCESS


def handlers(tmp_path: Path, **settings: Any) -> MaterialHandlers:
    tutor = fake_tutor(tmp_path / "var", **settings)
    hashing_notes(tutor)
    return MaterialHandlers(tutor)


def test_upload_reports_each_file_then_lists_and_removes(tmp_path: Path) -> None:
    h = handlers(tmp_path)
    msg, rows, pick, cleared = h.add([str(FILES / "kalman.md"), str(FILES / "corrupt.pdf")])
    assert "✓ **kalman.md**: Kalman filters (3 sections)" in msg
    assert "✗ corrupt.pdf: not a readable PDF" in msg and cleared is None
    assert [(r[2], r[3], r[5]) for r in rows] == [("kalman.md", "markdown", "local")]
    mid = rows[0][0]
    assert pick["choices"] == [mid] or [c[0] for c in pick["choices"]] == [mid]
    msg, rows, _ = h.remove(mid)
    assert msg == "Removed **Kalman filters** (kalman.md)." and rows == []
    msg, rows, _, _ = h.add([str(FILES / "corrupt.pdf")])  # nothing added: still a per-file line
    assert msg.startswith("✗ corrupt.pdf: not a readable PDF") and rows == []


def test_a_learner_login_sees_no_panel_and_a_teacher_login_is_the_uploader(tmp_path: Path) -> None:
    h = handlers(tmp_path, api_keys="tk:teacher,lk:ada")
    ada = SimpleNamespace(username="ada")
    assert h.view(ada)[0] == NO_ACCESS  # type: ignore[arg-type]
    assert h.add([str(FILES / "kalman.md")], ada)[0] == NO_ACCESS  # type: ignore[arg-type]
    assert h.tutor.materials.list() == []
    frizzle = SimpleNamespace(username="msfrizzle")
    _, rows, _, _ = h.add([str(FILES / "syllabus.txt")], frizzle)  # type: ignore[arg-type]
    assert rows[0][5] == "msfrizzle"


def test_the_panel_builds(tmp_path: Path) -> None:
    with gr.Blocks():
        panel = build_materials_panel(fake_tutor(tmp_path / "var"))
    fn, inputs, outputs = panel["view"]
    assert inputs is None and len(outputs) == 3
