"""Job specs: validate what a learner asked for and refuse bad input before anything starts.

``validate_job(kind, params, ...)`` returns a plain dict (written to the run dir as spec.json):
``{"kind", "params": the params with defaults filled in, "resolved": what the worker needs}``.
Refusals are ``ValueError`` with a message that says what was expected, what came, what to do:
unknown kind, dataset, estimator, parameter or topic; negative or absurd sizes (including a model
whose training would not fit in the memory available now); a missing data file; an unknown base.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.training.registry import BUNDLED_ID, ModelRegistry, is_model_dir, model_shape
from tools.training.sklearn_job import DATASETS, ESTIMATORS, estimator_class_path, make_estimator
from tutor.errors import BadInput, Forbidden

KINDS = ("gpt", "sklearn")
SCRATCH = "scratch"
MAX_DATA_BYTES = 200_000_000  # a text corpus larger than this is not a job for this machine
# Scratch defaults: a small model that trains in minutes on 2 CPU cores.
SCRATCH_SHAPE = {"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 128}
SHAPE_KEYS = ("n_layer", "n_head", "n_embd")


class GPTParams(BaseModel):
    """Kind ``gpt``: the hyper-parameters of ``tutor train gpt``."""

    model_config = ConfigDict(extra="forbid")

    data: str | list[str] = "notes"  # "notes", topic/module ids, or a UTF-8 text file path
    base: str | None = None  # a model id; None = the active model; "scratch" = a new model
    tokenizer: Literal["bpe", "char"] | None = None  # scratch only (a base brings its own)
    vocab_size: int | None = Field(None, ge=300, le=65_535)  # bpe from scratch; default 4096
    n_layer: int | None = Field(None, ge=1, le=96)
    n_head: int | None = Field(None, ge=1, le=128)
    n_embd: int | None = Field(None, ge=8, le=8192)
    block_size: int | None = Field(None, ge=2, le=8192)
    batch_size: int = Field(16, ge=1, le=4096)
    max_steps: int = Field(500, ge=1, le=1_000_000)
    lr: float = Field(1e-3, gt=0, le=1.0)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    seed: int = Field(0, ge=0)
    lora: bool = False
    lora_r: int = Field(8, ge=1, le=256)
    eval_interval: int | None = Field(None, ge=1)
    eval_iters: int = Field(20, ge=1, le=1000)
    checkpoint_interval: int | None = Field(None, ge=1)
    warmup_steps: int | None = Field(None, ge=0)
    num_threads: int | None = Field(None, ge=1, le=256)  # torch threads; None: cores / concurrent jobs
    activate: bool = False  # when it succeeds, make it the active model if the quality gate passes it


class SklearnParams(BaseModel):
    """Kind ``sklearn``: a bundled dataset and a vetted estimator."""

    model_config = ConfigDict(extra="forbid")

    dataset: str
    estimator: str
    params: dict[str, Any] = Field(default_factory=dict)
    cv: int = Field(5, ge=2, le=10)
    seed: int = Field(0, ge=0)


def _parse(model: type[BaseModel], kind: str, params: dict[str, Any]) -> Any:
    if not isinstance(params, dict):
        raise BadInput(f"{kind} job params must be an object, got {type(params).__name__}")
    try:  # None means "not given" (CLI options left unset)
        return model.model_validate({k: v for k, v in params.items() if v is not None})
    except ValidationError as e:
        problems = []
        for err in e.errors():
            where = ".".join(str(p) for p in err["loc"]) or "params"
            if err["type"] == "extra_forbidden":
                known = ", ".join(model.model_fields)
                problems.append(f"unknown param {where!r} (known: {known})")
            else:
                problems.append(f"{where}: {err['msg']} (got {err.get('input')!r})")
        raise BadInput(f"bad {kind} job params: " + "; ".join(problems)) from None


def _did_you_mean(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def validate_job(
    kind: str,
    params: dict[str, Any],
    *,
    registry: ModelRegistry | None = None,
    notes_dir: str | Path | None = None,
    data_roots: Sequence[str | Path] | None = None,
    available_bytes: int | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Check a job request; returns the spec the worker runs (raises ValueError when refused).

    ``threads`` is the default torch thread count of a gpt job (None: ``train_gpt``'s default). It
    is fixed in the spec, because a resumed run must use the same count to reproduce the
    uninterrupted one.
    """
    if kind == "sklearn":
        return _sklearn(params)
    if kind == "gpt":
        if registry is None:
            raise TypeError("validate_job needs the model registry for gpt jobs")
        return _gpt(params, registry, notes_dir, data_roots, available_bytes, threads)
    raise BadInput(f"unknown job kind {kind!r}; {_did_you_mean(kind, KINDS)}kinds: {', '.join(KINDS)}")


def _sklearn(params: dict[str, Any]) -> dict[str, Any]:
    p = _parse(SklearnParams, "sklearn", params)
    if p.dataset not in DATASETS:
        raise BadInput(
            f"unknown dataset {p.dataset!r}; {_did_you_mean(p.dataset, list(DATASETS))}"
            f"bundled datasets: {', '.join(DATASETS)}"
        )
    if p.estimator not in ESTIMATORS:
        raise BadInput(
            f"unknown estimator {p.estimator!r}; {_did_you_mean(p.estimator, list(ESTIMATORS))}"
            f"estimators: {', '.join(ESTIMATORS)}"
        )
    estimator_class_path(p.estimator, p.dataset)  # classifier vs regressor mismatch
    make_estimator(p.estimator, p.dataset, p.params, p.seed)  # parameter names, types and ranges
    return {"kind": "sklearn", "params": p.model_dump(), "resolved": p.model_dump()}


# --- gpt ---


def read_notes(notes_dir: str | Path) -> list[dict[str, Any]]:
    """The course notes: ``{"topic_id", "module", "path", "text"}`` with front matter removed."""
    notes = []
    for path in sorted(Path(notes_dir).glob("*.md")):
        raw = path.read_text(encoding="utf-8")
        meta: dict[str, Any] = {}
        body = raw
        if raw.startswith("---"):
            head, sep, rest = raw[3:].partition("\n---")
            if sep:
                meta = yaml.safe_load(head) or {}
                body = rest.partition("\n")[2]
        topic = str(meta.get("topic_id") or path.stem)
        notes.append(
            {
                "topic_id": topic,
                "module": str(meta.get("module") or topic.split(".")[0]),
                "path": str(path),
                "text": body.strip() + "\n",
            }
        )
    return notes


def _data(
    data: str | list[str], notes_dir: Path | None, roots: Sequence[str | Path] | None
) -> dict[str, Any]:
    if isinstance(data, str) and data != "notes":
        path = Path(data).expanduser()
        if roots and not path.is_absolute():  # "shakespeare.txt" means the first allowed folder's file
            path = Path(roots[0]) / path
        if path.is_file() or "/" in data or path.suffix.lower() in (".txt", ".md", ".text"):
            return _data_file(path, roots)  # a path (also one that does not exist: a clear error there)
    if notes_dir is None or not Path(notes_dir).is_dir():
        raise BadInput(f"data {data!r} needs the course notes, but the notes dir {notes_dir} does not exist")
    notes = read_notes(notes_dir)
    if not notes:
        raise BadInput(f"no notes (*.md) in {notes_dir}; pass a text file path as data instead")
    if data == "notes":
        return {
            "kind": "notes",
            "topics": [n["topic_id"] for n in notes],
            "paths": [n["path"] for n in notes],
        }
    wanted = [data] if isinstance(data, str) else list(data)
    if not wanted:
        raise BadInput("data is an empty list; give topic ids (e.g. ['m8.gpt']), 'notes' or a text file path")
    topics, modules = {n["topic_id"] for n in notes}, {n["module"] for n in notes}
    for w in wanted:
        if w not in topics and w not in modules:
            raise BadInput(
                f"no course notes for topic or module {w!r}; {_did_you_mean(w, sorted(topics | modules))}"
                "data is 'notes', a list of topic ids or module ids with notes, or a path to a text file"
            )
    chosen = [n for n in notes if n["topic_id"] in wanted or n["module"] in wanted]
    return {"kind": "topics", "topics": [n["topic_id"] for n in chosen], "paths": [n["path"] for n in chosen]}


def _data_file(path: Path, roots: Sequence[str | Path] | None) -> dict[str, Any]:
    path = path.resolve()
    if roots is not None and not any(path.is_relative_to(Path(r).resolve()) for r in roots):
        # checked before anything else, so a refusal says nothing about which files exist
        raise Forbidden(
            f"training files must be inside {', '.join(map(str, roots))} (got {path}); copy the file there first"
        )
    if not path.is_file():
        raise BadInput(
            f"data file {path} does not exist; data is 'notes', a list of topic ids, or a path to a UTF-8 text file"
        )
    size = path.stat().st_size
    if size == 0 or size > MAX_DATA_BYTES:
        raise BadInput(f"data file {path} has {size} bytes; expected 1..{MAX_DATA_BYTES} bytes of text")
    with path.open("rb") as f:
        head = f.read(65_536)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # a multi-byte character cut at the end of the sample is fine
            raise BadInput(f"data file {path} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    return {"kind": "file", "topics": [], "paths": [str(path)]}


def estimate_train_bytes(
    *, n_layer: int, n_head: int, n_embd: int, block_size: int, batch_size: int, vocab_size: int, lora: bool
) -> int:
    """Rough peak memory of one fp32 training step (weights, grads, AdamW state, activations).

    Activations follow Korthikanti et al. (2022): ``s*b*h*(34 + 5*a*s/h)`` bytes per layer at
    16 bits, doubled for fp32; plus the logits and their gradient. Good to a factor of ~2,
    which is all a refusal needs.
    """
    params = vocab_size * n_embd + block_size * n_embd + n_layer * (12 * n_embd * n_embd + 13 * n_embd)
    state = params * 4 if lora else params * 16  # LoRA: frozen weights, tiny trainable adapters
    s, b, h, a = block_size, batch_size, n_embd, n_head
    acts = 2 * n_layer * s * b * h * (34 + 5 * a * s / h)
    logits = 3 * 4 * b * s * vocab_size
    return int(state + acts + logits + 300e6)  # ~300 MB: torch and the worker process


def _available_bytes() -> int:
    import psutil

    return int(psutil.virtual_memory().available)


def _gpt(
    params: dict[str, Any],
    registry: ModelRegistry,
    notes_dir: str | Path | None,
    roots: Sequence[str | Path] | None,
    available: int | None,
    threads: int | None,
) -> dict[str, Any]:
    p = _parse(GPTParams, "gpt", params)
    data = _data(p.data, Path(notes_dir) if notes_dir else None, roots)
    base_id = p.base or registry.active()
    if base_id == SCRATCH:
        base_path = None
        if p.lora:
            raise BadInput(
                "lora adapts an existing model; pass a base model id, or lora=false for a new model"
            )
        shape = {k: getattr(p, k) or SCRATCH_SHAPE[k] for k in SHAPE_KEYS}
        block = p.block_size or SCRATCH_SHAPE["block_size"]
        tokenizer = p.tokenizer or "bpe"
        vocab = (p.vocab_size or 4096) if tokenizer == "bpe" else 256  # char: rarely more than 256 symbols
        if shape["n_embd"] % shape["n_head"]:
            raise BadInput(f"n_embd ({shape['n_embd']}) must be divisible by n_head ({shape['n_head']})")
    else:
        base_path, shape, block, vocab, tokenizer = _base(p, base_id, registry)
    cfg = {
        **shape,
        "block_size": block,
        "dropout": p.dropout,
        "batch_size": p.batch_size,
        "max_steps": p.max_steps,
        "lr": p.lr,
        "seed": p.seed,
        "eval_iters": p.eval_iters,
        "eval_interval": p.eval_interval or max(1, min(250, p.max_steps // 4)),
        "warmup_steps": p.warmup_steps if p.warmup_steps is not None else min(100, p.max_steps // 10),
        "lora_r": p.lora_r if p.lora else 0,
        "num_threads": p.num_threads or threads,
    }
    cfg["checkpoint_interval"] = p.checkpoint_interval or cfg["eval_interval"]
    need = estimate_train_bytes(
        vocab_size=vocab, lora=p.lora, **{k: cfg[k] for k in (*SHAPE_KEYS, "block_size", "batch_size")}
    )
    have = available if available is not None else _available_bytes()
    if need > 0.8 * have:
        raise BadInput(
            f"this model needs about {need / 2**30:.1f} GiB to train but only {have / 2**30:.1f} GiB of memory "
            "is free; make it smaller (n_layer, n_embd, block_size, batch_size) or use lora=true on a base model"
        )
    resolved = {
        "data": data,
        "base": base_id,
        "base_path": base_path,
        "tokenizer": tokenizer,
        "vocab_size": p.vocab_size or 4096,
        "train": cfg,
        "estimated_bytes": need,
    }
    return {"kind": "gpt", "params": p.model_dump(), "resolved": resolved}


def _base(p: GPTParams, base_id: str, registry: ModelRegistry) -> tuple[str, dict[str, int], int, int, str]:
    try:
        model = registry.get(base_id)
    except LookupError as e:
        raise BadInput(f"unknown base model: {e.args[0]}; or base='scratch' for a new model") from None
    path = Path(model["path"])
    if not is_model_dir(path):
        hint = "build it with `tutor model build`" if base_id == BUNDLED_ID else "train it again"
        raise BadInput(f"base model {base_id!r} has no model files at {path}; {hint}, or pass base='scratch'")
    info = model_shape(path)
    if info.get("model_type") != "gpt2":
        raise BadInput(
            f"base model {base_id!r} is a {info.get('model_type')!r} model; jobs train GPT-2-type models"
        )
    shape = {k: int(info[k]) for k in SHAPE_KEYS}
    for k in SHAPE_KEYS:
        asked = getattr(p, k)
        if asked is not None and asked != shape[k]:
            raise BadInput(
                f"{k}={asked} differs from base model {base_id!r} ({k}={shape[k]}); "
                "leave the shape out to fine-tune it, or pass base='scratch' for a new model"
            )
    positions = int(info.get("n_positions") or 1024)
    block = p.block_size or min(128, positions)
    if block > positions:
        raise BadInput(f"block_size {block} exceeds base model {base_id!r}'s {positions} positions")
    kind = _tokenizer_kind(path)
    if p.tokenizer is not None and kind is not None and p.tokenizer != kind:
        raise BadInput(
            f"tokenizer={p.tokenizer!r} but base model {base_id!r} uses a {kind!r} tokenizer; "
            "a base model keeps its own tokenizer (leave tokenizer out)"
        )
    return str(path), shape, block, int(info.get("vocab_size") or 50_257), "base"


def _tokenizer_kind(path: Path) -> str | None:
    import json

    try:
        model_type = json.loads((path / "tokenizer.json").read_text())["model"]["type"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {"BPE": "bpe", "WordLevel": "char"}.get(model_type)
