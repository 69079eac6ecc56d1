"""Which GPT models the tutor can chat with, and which one it uses now.

The bundled default (``models/tutor-gpt`` in the repo, id ``tutor-gpt``) is always listed, even
before its files are built (then ``available`` is False). Models trained by jobs live under the
data dir's ``models_dir`` and are rows of the store's ``models`` table. The active model id is the
store's ``active_model`` setting, so every process sharing the store sees a switch at once.
"""

from __future__ import annotations

import difflib
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tutor.errors import BadInput, NotFound

logger = logging.getLogger(__name__)

BUNDLED_ID = "tutor-gpt"
ACTIVE_KEY = "active_model"


class ModelFilesMissing(RuntimeError):
    """A registered model whose directory has no model files (not built yet, or deleted)."""


def is_model_dir(path: Path) -> bool:
    return (path / "config.json").is_file()


def model_shape(path: Path) -> dict[str, Any]:
    """Architecture numbers from an HF ``config.json`` (empty when there is none)."""
    try:
        cfg = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    keys = {"n_layer": "n_layer", "n_head": "n_head", "n_embd": "n_embd", "n_positions": "n_positions"}
    out = {k: cfg[v] for k, v in keys.items() if v in cfg}
    if "vocab_size" in cfg:
        out["vocab_size"] = cfg["vocab_size"]
    out["model_type"] = cfg.get("model_type")
    return out


KV_GATE = "gate:"  # store key prefix of a model's quality-gate figures (written by tutor.llm.gate)


def cached_figures(store: Any, model_id: str) -> dict[str, Any] | None:
    """The last quality-gate figures measured for ``model_id`` (None when never gated)."""
    entry = store.get_kv(KV_GATE + model_id)
    return dict(entry["figures"]) if isinstance(entry, dict) and entry.get("figures") else None


class ModelRegistry:
    """The models the tutor can use: the bundled one plus those registered by training jobs."""

    def __init__(self, store: Any, models_dir: str | Path, bundled_models_dir: str | Path) -> None:
        self.store = store
        self.models_dir = Path(models_dir)
        self.bundled_dir = Path(bundled_models_dir) / BUNDLED_ID

    def _bundled(self) -> dict[str, Any]:
        path = self.bundled_dir
        created = None
        if is_model_dir(path):
            created = datetime.fromtimestamp((path / "config.json").stat().st_mtime, UTC).isoformat(
                timespec="seconds"
            )
        metrics: dict[str, Any] = {}
        for name in ("metrics.json", "training_metrics.json"):  # written by the build recipe, if any
            if (path / name).is_file():
                try:
                    metrics = json.loads((path / name).read_text())
                except ValueError:
                    logger.warning("unreadable %s in the bundled model", name)
                break
        return {
            "id": BUNDLED_ID,
            "path": str(path),
            "base": None,
            "data": "course notes + tutoring data (tutor model build)",
            "params": model_shape(path),
            "metrics": metrics,
            "created": created,
            "bundled": True,
        }

    def _decorate(self, model: dict[str, Any], active_id: str) -> dict[str, Any]:
        model = dict(model)
        model.setdefault("bundled", False)
        model["available"] = is_model_dir(Path(model["path"]))
        model["active"] = model["id"] == active_id
        model["gate"] = cached_figures(self.store, model["id"])  # the quality gate's last figures
        return model

    def list(self) -> list[dict[str, Any]]:
        """Every model, the bundled one first, each with ``available`` and ``active`` flags."""
        active = self.active()
        rows = [self._bundled()] + [m for m in self.store.list_models() if m["id"] != BUNDLED_ID]
        return [self._decorate(m, active) for m in rows]

    def get(self, model_id: str) -> dict[str, Any]:
        if model_id == BUNDLED_ID:
            return self._decorate(self._bundled(), self.active())
        model = self.store.get_model(model_id)
        if model is None:
            known = [BUNDLED_ID] + [m["id"] for m in self.store.list_models()]
            close = difflib.get_close_matches(model_id, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise NotFound(f"model {model_id!r} not found{hint} `tutor model list` lists them")
        return self._decorate(model, self.active())

    def active(self) -> str:
        """The active model's id; the bundled one if the chosen one is no longer registered."""
        model_id = str(self.store.get_kv(ACTIVE_KEY) or BUNDLED_ID)
        if model_id != BUNDLED_ID and self.store.get_model(model_id) is None:
            logger.warning("active model %r is no longer registered; using %r", model_id, BUNDLED_ID)
            return BUNDLED_ID
        return model_id

    def active_model(self) -> dict[str, Any]:
        """The active model's entry (``id``, ``path``, ``metrics``, ...)."""
        return self.get(self.active())

    def set_active(self, model_id: str) -> dict[str, Any]:
        model = self.get(model_id)
        if not model["available"]:
            raise ModelFilesMissing(
                f"model {model_id!r} has no model files at {model['path']}; "
                + ("build it with `tutor model build`" if model_id == BUNDLED_ID else "train it again")
            )
        self.store.set_kv(ACTIVE_KEY, model_id)
        logger.info("active model is now %s", model_id)
        return {**model, "active": True}

    def register(
        self,
        model_id: str,
        path: str | Path,
        *,
        base: str | None,
        data: Any,
        params: dict[str, Any],
        metrics: dict[str, Any],
    ) -> dict[str, Any]:
        """Record a trained model directory (called by the job worker when a ``gpt`` job succeeds)."""
        if model_id == BUNDLED_ID:
            raise BadInput(f"model id {BUNDLED_ID!r} is reserved for the bundled model; pick another id")
        if not is_model_dir(Path(path)):
            raise ModelFilesMissing(f"cannot register {model_id!r}: {path} has no config.json")
        row = self.store.register_model(
            model_id, str(path), base=base, data=data, params=params, metrics=metrics
        )
        return self._decorate(row, self.active())

    def model_dir_for(self, model_id: str) -> Path:
        """Where a job's model of this id goes (inside the data dir)."""
        return self.models_dir / model_id
