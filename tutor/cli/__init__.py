"""The ``tutor`` command. Thin: parses arguments, calls ``tutor.service.Tutor``, prints.

``--json`` prints exactly one JSON document on stdout; logs and progress go to stderr. Exit codes
(docs/contract.md): 0 success (a failed grade is still a success), 2 bad input, 1 internal error.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import click
import typer

from tutor.config import LOOPBACK_HOSTS, Settings
from tutor.errors import BadInput, TutorError, internal
from tutor.logs import configure_logging

app = typer.Typer(
    help="An open AI tutor for data science, machine learning and GPT transformers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
model_app = typer.Typer(
    help="The tutor's own GPT: build the default model, list models, switch.", no_args_is_help=True
)
app.add_typer(model_app, name="model")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def _settings() -> Settings:
    try:
        s = Settings()
        s.api_key_map  # noqa: B018 - validate at start
    except Exception as e:
        _die(2, f"bad configuration: {e}")
    configure_logging(s.log_level, s.log_json)
    return s


def _die(code: int, message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def _tutor() -> Iterator[Any]:
    from tutor.service import Tutor

    t = Tutor(_settings())
    try:
        yield t
    except TutorError as e:
        _die(e.exit_code, e.message)
    except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
        raise  # typer's own ways out (``_die``), not errors
    except Exception as e:  # a bug: exit 1 with the id its traceback is logged under
        err = internal(e, "cli")
        _die(err.exit_code, err.message)
    finally:
        t.close()


def _emit(obj: Any, as_json: bool, human: Callable[[Any], str] | None = None) -> None:
    if as_json:
        sys.stdout.write(json.dumps(obj, default=str) + "\n")
    elif human is not None:
        typer.echo(human(obj))
    else:
        typer.echo(json.dumps(obj, indent=2, default=str))


def _read(path: Path) -> str:
    if not path.is_file():
        _die(2, f"file {str(path)!r} not found")
    return path.read_text(encoding="utf-8")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default TUTOR_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default TUTOR_PORT).")] = None,
) -> None:
    """Serve the UI (/) and the API (/api, /v1, /docs) on one port."""
    import uvicorn

    from tutor.web import create_app

    s = _settings()
    host, port = host or s.host, port or s.port
    if host not in LOOPBACK_HOSTS and not s.api_key_map:
        _die(2, f"refusing to serve on {host} without TUTOR_API_KEYS; set keys or bind to 127.0.0.1")
    typer.echo(f"serving the tutor on http://{host}:{port}  (API docs at /docs)", err=True)
    uvicorn.run(create_app(s), host=host, port=port, log_level=s.log_level.lower())


@app.command()
def mcp(
    learner: Annotated[
        str | None, typer.Option(help="Act only as this learner (default: any learner, as an admin).")
    ] = None,
) -> None:
    """Serve the tutor as an MCP server over stdio (for desktop clients; README "MCP")."""
    from tutor.web.mcp import serve_stdio

    with _tutor() as t:
        serve_stdio(t, learner_id=learner)


@app.command()
def index(
    rebuild: Annotated[bool, typer.Option(help="Re-embed every note, not only changed ones.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """(Re)build the Chroma index of the course notes; incremental by content hash."""
    with _tutor() as t:
        summary = t.build_index(rebuild=rebuild, progress=not as_json)
    _emit(
        summary,
        as_json,
        lambda s: f"{s['chunks']} chunks (+{s['added']} -{s['removed']}) in {s['seconds']:.1f}s",
    )


@app.command()
def search(
    query: str,
    k: Annotated[int, typer.Option("-k", help="How many passages.")] = 5,
    as_json: JsonOpt = False,
) -> None:
    """Hybrid (dense + BM25) search over the course notes."""
    with _tutor() as t:
        hits = t.search(query, k=k)
    _emit(
        hits,
        as_json,
        lambda hs: "\n\n".join(f"[{h['score']:.3f}] {h['source']}\n{h['text'][:300]}" for h in hs),
    )


@app.command()
def exercises(as_json: JsonOpt = False) -> None:
    """List the graded exercises."""
    with _tutor() as t:
        exs = t.list_exercises()
    _emit(exs, as_json, lambda es: "\n".join(f"{e['id']:<24} {e['topic_id']:<30} {e['title']}" for e in es))


@app.command()
def run(
    file: Path,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Seconds before the run is stopped.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a Python file in a fresh sandboxed kernel."""
    code = _read(file)
    with _tutor() as t:
        result = t.run(code, timeout_s=timeout)

    def human(r: dict[str, Any]) -> str:
        err = r.get("error") or {}
        tail = f"\n{err.get('name')}: {err.get('message')}" if err else ""
        return f"{r['stdout']}{r['stderr']}{tail}\n[{r['status']} in {r['duration_s']:.2f}s]"

    _emit(result, as_json, human)


@app.command()
def grade(exercise_id: str, file: Path, as_json: JsonOpt = False) -> None:
    """Grade a submission for an exercise (hidden tests included)."""
    code = _read(file)
    with _tutor() as t:
        report = t.grade(exercise_id, code)

    def human(r: dict[str, Any]) -> str:
        lines = [f"{'PASS' if x['passed'] else 'FAIL'} {x['name']}: {x['message']}" for x in r["tests"]]
        return "\n".join([*lines, f"score {r['score']:.2f} - {r['feedback']}"])

    _emit(report, as_json, human)


@app.command()
def plan(
    learner: Annotated[str, typer.Option("--learner", help="Learner id.")],
    hours: Annotated[float, typer.Option(help="Time available.")] = 3.0,
    goal: Annotated[str | None, typer.Option(help="What the learner wants to reach.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Make (and save) a lesson plan for a learner."""
    with _tutor() as t:
        p = t.plan(learner, hours=hours, goal=goal)

    def human(p: dict[str, Any]) -> str:
        items = [f"{i['minutes']:>4} min  {i['activity']:<9} {i['topic_id']}" for i in p["items"]]
        return "\n".join([*items, p["rationale"], f"(written by {p['model']})"])

    _emit(p, as_json, human)


@app.command()
def chat(
    message: str,
    learner: Annotated[str, typer.Option("--learner", help="Learner id.")] = "cli",
    thread: Annotated[str | None, typer.Option("--thread", help="Continue a conversation.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """One chat turn with the tutor."""
    with _tutor() as t:
        out = t.chat(learner, message, thread_id=thread)
    _emit(out, as_json, lambda o: f"{o['reply']}\n\n(thread {o['thread_id']})")


def _train_params(kind: str, opts: dict[str, Any], extra: list[str]) -> dict[str, Any]:
    params = {k: v for k, v in opts.items() if v is not None}
    if "data" in params and kind == "gpt":
        data = params["data"]
        if data != "notes" and not Path(data).exists():
            params["data"] = [t.strip() for t in data.split(",") if t.strip()]
        elif data != "notes":
            params["data"] = str(Path(data).resolve())
    for kv in extra:
        key, sep, raw = kv.partition("=")
        if not sep:
            raise BadInput(f"--param expects key=value, got {kv!r}")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        params.setdefault("params", {})[key] = value
    return params


def _follow(t: Any, job: dict[str, Any], as_json: bool) -> dict[str, Any]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        transient=as_json,
    ) as bar:  # rich writes to stderr here (console below), so --json stays clean
        bar.console.file = sys.stderr
        task = bar.add_task(f"{job['kind']} {job['job_id']}", total=1.0, info="")
        from tools.training.jobs import FINISHED

        while job["status"] not in FINISHED:
            time.sleep(1.0)
            job = t.job(job["job_id"])
            m = job.get("metrics") or {}
            last = (m.get("history") or [{}])[-1]
            info = " ".join(
                f"{k}={last[k]:.3g}" for k in ("loss", "val_loss") if isinstance(last.get(k), float)
            )
            bar.update(task, completed=job["progress"], info=f"{job['status']} {info}")
    return job


@app.command()
def train(
    kind: Annotated[str, typer.Argument(help="gpt or sklearn")],
    data: Annotated[
        str | None, typer.Option(help="gpt: 'notes', topic ids (comma-separated) or a text file.")
    ] = None,
    base: Annotated[str | None, typer.Option(help="gpt: model id to continue from, or 'scratch'.")] = None,
    tokenizer: Annotated[str | None, typer.Option(help="gpt: bpe or char.")] = None,
    n_layer: Annotated[int | None, typer.Option()] = None,
    n_head: Annotated[int | None, typer.Option()] = None,
    n_embd: Annotated[int | None, typer.Option()] = None,
    block_size: Annotated[int | None, typer.Option()] = None,
    batch_size: Annotated[int | None, typer.Option()] = None,
    max_steps: Annotated[int | None, typer.Option()] = None,
    lr: Annotated[float | None, typer.Option()] = None,
    dropout: Annotated[float | None, typer.Option()] = None,
    seed: Annotated[int | None, typer.Option()] = None,
    lora: Annotated[bool | None, typer.Option(help="gpt: LoRA adapters instead of a full fine-tune.")] = None,
    dataset: Annotated[
        str | None, typer.Option(help="sklearn: digits, iris, wine, breast_cancer, diabetes.")
    ] = None,
    estimator: Annotated[
        str | None, typer.Option(help="sklearn: e.g. random_forest, logistic_regression.")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="sklearn estimator param key=value.")
    ] = None,
    learner: Annotated[str | None, typer.Option("--learner", help="Learner the job belongs to.")] = None,
    activate: Annotated[
        bool | None,
        typer.Option("--activate", help="gpt: use the model once trained, if the quality gate passes it."),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Block with a progress bar until the job ends.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Start a training job (gpt or sklearn)."""
    opts = {
        "data": data,
        "base": base,
        "tokenizer": tokenizer,
        "n_layer": n_layer,
        "n_head": n_head,
        "n_embd": n_embd,
        "block_size": block_size,
        "batch_size": batch_size,
        "max_steps": max_steps,
        "lr": lr,
        "dropout": dropout,
        "seed": seed,
        "lora": lora,
        "dataset": dataset,
        "estimator": estimator,
        "activate": activate,
    }
    with _tutor() as t:
        job = t.submit_job(kind, _train_params(kind, opts, param or []), learner_id=learner)
        if wait:
            job = _follow(t, job, as_json)
    _emit(job, as_json, lambda j: f"job {j['job_id']} ({j['kind']}): {j['status']} {j.get('error') or ''}")


@app.command()
def jobs(
    job_id: Annotated[str | None, typer.Argument(help="One job; omit to list all.")] = None,
    follow: Annotated[bool, typer.Option("--follow", help="Show progress until the job ends.")] = False,
    cancel: Annotated[bool, typer.Option("--cancel", help="Cancel the job.")] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Resume an interrupted job from its checkpoint.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Training jobs: status, progress, metrics; follow, cancel or resume one."""
    with _tutor() as t:
        if job_id is None:
            if follow or cancel or resume:
                raise BadInput("--follow/--cancel/--resume need a JOB_ID")
            all_jobs = t.list_jobs()
            _emit(
                all_jobs,
                as_json,
                lambda js: (
                    "\n".join(
                        f"{j['job_id']}  {j['kind']:<8} {j['status']:<11} {j['progress']:>6.1%}" for j in js
                    )
                    or "no jobs"
                ),
            )
            return
        job = t.cancel_job(job_id) if cancel else t.resume_job(job_id) if resume else t.job(job_id)
        if follow:
            job = _follow(t, job, as_json)
    _emit(job, as_json)


@model_app.command("build")
def model_build(
    out: Annotated[Path | None, typer.Option(help="Output directory (default models/tutor-gpt).")] = None,
    tiny: Annotated[bool, typer.Option(help="A seconds-long smoke version of the recipe.")] = False,
    seed: Annotated[int, typer.Option(help="Seed; the recipe is deterministic given it.")] = 0,
    threads: Annotated[
        int, typer.Option(min=1, help="CPU threads; same seed and threads give the same weights.")
    ] = 2,
    keep_pretrain: Annotated[
        Path | None, typer.Option(help="Also keep the pre-trained model (and its figures) in this folder.")
    ] = None,
    pretrained: Annotated[
        Path | None,
        typer.Option(
            help="Start from a folder kept by --keep-pretrain (same corpus, sizes, seed and threads "
            "only): skips the tokenizer and pre-training when only the fine-tuning changed."
        ),
    ] = None,
) -> None:
    """Rebuild the default GPT from scratch by our recipe (corpus, tokenizer, pre-train, fine-tune,
    eval); about an hour on 2 cores, seconds with --tiny. Progress goes to the log."""
    from tools.training.openmp import use_training_openmp

    use_training_openmp()  # this process trains: threads spin briefly between ops (before torch loads)
    from tutor.llm.recipe import build

    s = _settings()
    target = out or s.bundled_models_dir / "tutor-gpt"
    build(
        target,
        tiny=tiny,
        seed=seed,
        num_threads=threads,
        on_progress=lambda p: typer.echo(f"recipe: {p}", err=True) if "seconds" in p else None,
        keep_pretrain=keep_pretrain,
        pretrained=pretrained,
    )
    typer.echo(f"model written to {target} (see MODEL_CARD.md there)", err=True)


@model_app.command("list")
def model_list(as_json: JsonOpt = False) -> None:
    """Registered models; * marks the active one; each with its quality-gate figures."""
    from tutor.llm.gate import summary

    with _tutor() as t:
        ms = t.models()
    _emit(
        ms,
        as_json,
        lambda ms: "\n".join(
            f"{'*' if m['active'] else ' '} {m['id']}  {m.get('path', '')}\n    gate: {summary(m.get('gate'))}"
            for m in ms
        ),
    )


@model_app.command("use")
def model_use(
    model_id: str,
    force: Annotated[
        bool, typer.Option("--force", help="Switch even if the quality gate finds it worse.")
    ] = False,
) -> None:
    """Make MODEL_ID the tutor's chat model, if the quality gate finds it no worse than the active one."""
    from tutor.llm.gate import summary

    with _tutor() as t:
        out = t.use_model(model_id, force=force)
    gate = out.get("gate") or {}
    typer.echo(f"gate: {summary(gate.get('figures'))}", err=True)
    if out.get("forced"):
        typer.echo(f"forced past the gate: {'; '.join(gate.get('reasons') or [])}", err=True)
    typer.echo(f"active model: {model_id}", err=True)


from tutor.cli.practice import practice as _practice  # noqa: E402 - the command lives in its own module

app.command("practice")(_practice)

from tutor.cli.labs import lab_app as _lab_app  # noqa: E402 - `tutor lab list|show|submit`

app.add_typer(_lab_app, name="lab")

from tutor.cli.materials import materials_app as _materials_app  # noqa: E402 - `tutor materials ...`

app.add_typer(_materials_app, name="materials")


def main() -> None:
    try:
        app()
    except TutorError as e:
        typer.echo(f"error: {e.message}", err=True)
        sys.exit(e.exit_code)
    except Exception as e:  # a bug outside a command's Tutor: the id, never a traceback dump
        err = internal(e, "cli")
        typer.echo(f"error: {err.message}", err=True)
        sys.exit(err.exit_code)
