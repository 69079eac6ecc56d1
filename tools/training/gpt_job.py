"""Kind ``gpt``: build the corpus and tokenizer, run ``train_gpt``, register the model.

Everything a resumed run needs to give the same result is kept in the run dir: the tokenizer
(``tokenizer/``, so a BPE is never re-trained differently) and ``train_gpt``'s checkpoint
(``model/checkpoint/``). The finished model directory moves to ``models_dir/<job id>``.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tools.training.registry import ModelRegistry

logger = logging.getLogger(__name__)

CHAT_EXTRA_TOKENS: tuple[str, ...] = ()  # scratch models are plain text models; see the report


def _texts(resolved: dict[str, Any]) -> tuple[list[str], bool]:
    """The training texts, and whether they are separate documents (notes) or one stream (a file)."""
    data = resolved["data"]
    if data["kind"] == "file":
        from tools.training.data import read_texts

        return read_texts(data["paths"]), False
    from tools.training.spec import read_notes

    by_path = {n["path"]: n["text"] for n in read_notes(Path(data["paths"][0]).parent)}
    missing = [p for p in data["paths"] if p not in by_path]
    if missing:
        raise FileNotFoundError(
            f"course notes removed since the job was submitted: {missing}; submit it again"
        )
    return [by_path[p] for p in data["paths"]], True


def _tokenizer(resolved: dict[str, Any], texts: list[str], run_dir: Path) -> Any:
    from tools.training import tokenizer as tk

    saved = run_dir / "tokenizer"
    if (saved / "tokenizer.json").exists():  # a resumed run: the very same tokenizer as before
        return tk.load_tokenizer(saved)
    kind = resolved["tokenizer"]
    if kind == "base":
        tok = tk.load_tokenizer(resolved["base_path"])
    elif kind == "char":
        tok = tk.char_tokenizer("".join(texts), CHAT_EXTRA_TOKENS)
    else:
        tok = tk.train_bpe(texts, vocab_size=int(resolved["vocab_size"]), special_tokens=CHAT_EXTRA_TOKENS)
    tk.save_tokenizer(tok, saved)
    return tok


def _ids(tok: Any, texts: list[str], documents: bool) -> tuple[np.ndarray, np.ndarray]:
    from tools.training.data import encode, encode_documents, split_train_val

    ids = encode_documents(tok, texts) if documents else encode(tok, "".join(texts))
    return split_train_val(ids, 0.1)


def run_gpt(
    job: dict[str, Any],
    run_dir: Path,
    registry: ModelRegistry,
    *,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Train; returns ``{"metrics", "artifacts", "stopped", "model_id"}``."""
    from tools.training.gpt import GPTTrainConfig, train_gpt
    from tools.training.plots import loss_curve_png

    resolved = job["resolved"]
    texts, documents = _texts(resolved)
    tok = _tokenizer(resolved, texts, run_dir)
    train_ids, val_ids = _ids(tok, texts, documents)
    logger.info("corpus: %d train / %d val tokens, vocabulary %d", len(train_ids), len(val_ids), len(tok))
    cfg = GPTTrainConfig(**resolved["train"])
    out_dir = run_dir / "model"
    result = train_gpt(
        cfg,
        train_ids,
        val_ids,
        out_dir,
        init_model_dir=resolved["base_path"],
        tokenizer=tok,
        on_progress=on_progress,
        should_stop=should_stop,
        resume=True,  # starts fresh when there is no checkpoint yet
    )
    metrics = {k: v for k, v in result.items() if k not in ("config", "out_dir")}
    metrics["train_tokens"], metrics["val_tokens"] = int(len(train_ids)), int(len(val_ids))
    if result["stopped"]:
        return {"metrics": metrics, "artifacts": [], "stopped": True, "model_id": None}
    curve = run_dir / "loss_curve.png"
    loss_curve_png(result["history"], curve, title=f"job {job['job_id']}")
    model_id = job["job_id"]
    dest = registry.model_dir_for(model_id)
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(out_dir), str(dest))
    registry.register(
        model_id,
        dest,
        base=None if resolved["base"] == "scratch" else resolved["base"],
        data={
            "kind": resolved["data"]["kind"],
            "topics": resolved["data"]["topics"],
            "paths": resolved["data"]["paths"],
        },
        params={
            **job["params"],
            **resolved["train"],
            "tokenizer": resolved["tokenizer"],
            "params": result["params"],
        },
        metrics={
            k: metrics[k] for k in ("val_loss", "best_val_loss", "loss", "tokens_per_s", "steps", "train_s")
        },
    )
    logger.info("registered model %s at %s", model_id, dest)
    artifacts = [{"name": "loss_curve", "path": str(curve), "mime_type": "image/png"}]
    return {"metrics": metrics, "artifacts": artifacts, "stopped": False, "model_id": model_id}
