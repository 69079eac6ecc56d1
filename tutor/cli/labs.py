"""``tutor lab list|show|submit``: the guided labs from the command line (registered in tutor/cli/)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tutor.cli import JsonOpt, _die, _emit, _tutor

lab_app = typer.Typer(help="Guided labs: list them, show one, grade a notebook.", no_args_is_help=True)


@lab_app.command("list")
def lab_list(as_json: JsonOpt = False) -> None:
    """The labs: id, module, steps, title."""
    with _tutor() as t:
        labs = t.labs.catalog()

    def human(d: dict[str, Any]) -> str:
        rows = [f"{x['id']:<30} {x['module']:<4} {len(x['steps'])} steps  {x['title']}" for x in d["labs"]]
        return "\n".join(rows) or "no labs"

    _emit(labs, as_json, human)


@lab_app.command("show")
def lab_show(
    lab_id: str,
    notebook: Annotated[
        Path | None, typer.Option("--notebook", help="Also write the lab's .ipynb to this path.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """A lab's intro and steps; --notebook writes it as a Jupyter notebook."""
    with _tutor() as t:
        lab = t.labs.get(lab_id)
        if notebook is not None:
            notebook.write_text(t.labs.notebook(lab_id), encoding="utf-8")
            typer.echo(f"notebook written to {notebook}", err=True)

    def human(d: dict[str, Any]) -> str:
        lines = [f"{d['title']} ({d['id']}, {d['module']}, ~{d['minutes']} min)", "", d["intro"].strip(), ""]
        for n, s in enumerate(d["steps"], 1):
            lines += [f"Step {n}: {s['title']} [{s['id']}]", s["text"].strip(), ""]
        return "\n".join(lines)

    _emit(lab, as_json, human)


@lab_app.command("submit")
def lab_submit(
    lab_id: str,
    file: Path,
    learner: Annotated[
        str | None, typer.Option("--learner", help="Learner whose progress this counts for.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Grade a lab notebook (.ipynb): its code runs top to bottom in a fresh sandbox, step by step."""
    if not file.is_file():
        _die(2, f"file {str(file)!r} not found")
    raw = file.read_bytes()
    with _tutor() as t:
        report = t.labs.submit(lab_id, raw, learner_id=learner)

    def human(r: dict[str, Any]) -> str:
        lines = [f"{'PASS' if s['passed'] else 'FAIL'} {s['id']}: {s['message']}" for s in r["steps"]]
        n = sum(s["passed"] for s in r["steps"])
        return "\n".join(
            [*lines, f"{n}/{len(r['steps'])} steps passed" + (" - lab done!" if r["passed"] else "")]
        )

    _emit(report, as_json, human)
