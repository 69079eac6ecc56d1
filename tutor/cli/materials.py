"""``tutor materials add PATH... | list | show ID | remove ID``: teachers' own course material from
the command line (registered in tutor/cli/). Files are indexed into the data directory's Chroma
(or ``TUTOR_CHROMA_URL``) like an upload to ``POST /api/materials``, with uploader ``cli``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tutor.cli import JsonOpt, _emit, _tutor

materials_app: typer.Typer = typer.Typer(
    help="Teachers' own material (Markdown, text, PDF, notebooks, HTML): add, list, show, remove.",
    no_args_is_help=True,
)


def _row(m: dict[str, Any]) -> str:
    return f"{m['id']:<36} {m['kind']:<8} {m['sections']:>4} sections  {m['title']}  ({m['source_name']})"


@materials_app.command("add")
def materials_add(
    paths: Annotated[list[Path], typer.Argument(help="Files to add (.md, .txt, .pdf, .ipynb, .html).")],
    as_json: JsonOpt = False,
) -> None:
    """Index files; re-adding a file of the same name replaces it. A bad file is reported and
    nothing of it is indexed; the exit code is 2 when any file failed."""
    with _tutor() as t:
        out = t.materials.add_paths(paths, uploader="cli")

    def human(d: dict[str, Any]) -> str:
        lines = [f"added  {_row(m)}" for m in d["added"]]
        return "\n".join(lines + [f"failed {e['error']}" for e in d["errors"]])

    _emit(out, as_json, human)
    if out["errors"]:
        raise typer.Exit(2)


@materials_app.command("list")
def materials_list(as_json: JsonOpt = False) -> None:
    """The materials: id, kind, sections, title, file name."""
    with _tutor() as t:
        items = t.materials.list()
    _emit(items, as_json, lambda xs: "\n".join(_row(m) for m in xs) or "no materials yet")


@materials_app.command("show")
def materials_show(material_id: str, as_json: JsonOpt = False) -> None:
    """One material's whole text (Markdown), as answers cite it."""
    with _tutor() as t:
        item = t.materials.get(material_id)
    _emit(item, as_json, lambda d: f"{_row(d)}\n\n{d['text']}")


@materials_app.command("remove")
def materials_remove(material_id: str, as_json: JsonOpt = False) -> None:
    """Remove a material from answers and the list."""
    with _tutor() as t:
        item = t.materials.remove(material_id)
    _emit(item, as_json, lambda d: f"removed {_row(d)}")
