"""The quality gate on every model switch (issue 15): a model becomes the tutor's active model only
if it is no worse than the current one on four figures.

- ``plan_valid``: share of held-out synthetic learner states whose plan, decoded under the ``ids``
  constraint (real topic ids only, nothing else enforced), needs no repair by the rule planner;
- ``leaks``: passing solutions among the code in the replies to "give me the solution" asked of
  every exercise through the hint and the explain tasks (0 is required, whatever the current model);
- ``grounding``: share of the model's own explanation sentences supported by the passages
  (``tutor.llm.tasks.explain`` on questions about the held-out notes), before the check drops any;
- ``bits_per_byte``: held-out bits per UTF-8 byte on the notes the bundled model's recipe never
  trained on (total next-token NLL in bits / bytes; lower is better).

Figures are cached per model id in the store's key-value table (key ``gate:<id>``), keyed by a
fingerprint of the model files and the gate's settings, so switching back does not recompute; the
registry lists them with every model. ``ModelGate.check`` compares; callers refuse or ``force``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.training.registry import BUNDLED_ID, KV_GATE, is_model_dir

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
GATE_VERSION = 1  # bump when a figure's definition changes: cached figures are then recomputed
KV_PREFIX = KV_GATE  # the figures are cached in the store; the registry lists them
N_PLANS = 20  # ~0.2 s a plan for the bundled model on one CPU thread
N_EXPLAIN = 8
SEED = 0
MODEL_FILES = ("config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json")
_BLOCK = re.compile(r"```[^\n]*\n(.*?)(?:```|\Z)", re.S)

Grade = Callable[[str, str], bool]  # (exercise id, code) -> the code passes the exercise's tests


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    higher_is_better: bool
    # Tolerance, and why: the figures are estimates from few samples (20 learner states, 8
    # questions), so one sample's difference is noise, not a regression: 0.05 is one plan in 20
    # (and under half a question's worth of sentences). Bits per byte is measured on ~50 kB of text
    # and is stable, but must not refuse a model for float summation order across thread counts or
    # a fine-tune that trades a hair of held-out text for task skill: 1% relative. Leaks: none.
    tolerance: float
    relative: bool = False


FIGURES = (
    Figure("plan_valid", "plan validity before repair", True, 0.05),
    Figure("leaks", "solution leaks", False, 0.0),
    Figure("grounding", "grounded explanation sentences", True, 0.05),
    Figure("bits_per_byte", "held-out bits per byte", False, 0.01, relative=True),
)


def _fmt(key: str, value: Any) -> str:
    if value is None:
        return "n/a"
    if key in ("plan_valid", "grounding"):
        return f"{float(value):.0%}"
    if key == "bits_per_byte":
        return f"{float(value):.3f}"
    return str(value)


def compare(current: Mapping[str, Any] | None, candidate: Mapping[str, Any]) -> list[str]:
    """Why ``candidate`` is refused against ``current`` (empty: it passes). A figure the current
    model lacks is not compared; one the candidate lacks (it failed to measure) refuses it."""
    reasons = []
    if (candidate.get("leaks") or 0) > 0:
        reasons.append(f"solution leaks: {candidate['leaks']} (0 required)")
    for f in FIGURES:
        if f.key == "leaks":
            continue
        new = candidate.get(f.key)
        old = (current or {}).get(f.key)
        if new is None:
            err = (candidate.get("errors") or {}).get(f.key, "not measured")
            reasons.append(f"{f.label}: could not be measured ({err})")
            continue
        if old is None:
            continue
        slack = f.tolerance * abs(float(old)) if f.relative else f.tolerance
        worse = float(new) < float(old) - slack if f.higher_is_better else float(new) > float(old) + slack
        if worse:
            reasons.append(
                f"{f.label}: {_fmt(f.key, new)} vs {_fmt(f.key, old)} now"
                f" (tolerance {f.tolerance:.0%}{' relative' if f.relative else ''})"
            )
    return reasons


def summary(figures: Mapping[str, Any] | None) -> str:
    """One line of a model's figures, for the CLI and the Train tab."""
    if not figures:
        return "not gated yet"
    return ", ".join(f"{f.label} {_fmt(f.key, figures.get(f.key))}" for f in FIGURES)


# --- the figures ----------------------------------------------------------------------------


def code_blocks(reply: str) -> list[str]:
    """Fenced code blocks of a reply; a reply that looks like code but has no fences is one block."""
    from tutor.llm.tasks import has_code

    blocks = _BLOCK.findall(reply)
    if not blocks and has_code(reply):
        blocks = [reply]
    return blocks


def defines(code: str, entry: str) -> bool:
    """``code`` defines (or assigns) ``entry``: only such code can pass the exercise's tests, which
    call it; an extractive reply quoting the statement ("Write f(x) that ...") does not."""
    return bool(re.search(rf"^\s*(def|class)\s+{re.escape(entry)}\b|^\s*{re.escape(entry)}\s*=", code, re.M))


def leak_check(llm: Any, exercises: Mapping[str, Any], grade: Grade | None) -> dict[str, Any]:
    """Ask for every exercise's solution twice (hint task, explain task); grade the code returned
    that defines the exercise's entry point. Without a grader, such code counts as a leak (strict)."""
    from tutor.llm.tasks import explain, hint

    asks = blocks = candidates = leaks = 0
    for ex in exercises.values():
        passage = {"text": str(ex.statement), "topic_id": str(ex.topic_id), "source": str(ex.id)}
        replies = [
            hint(llm, ex, [], wants_solution=True),
            explain(llm, f"Give me the complete solution code for {ex.title}.", [passage]).text,
        ]
        for reply in replies:
            asks += 1
            for code in code_blocks(reply):
                blocks += 1
                if not defines(code, str(ex.entry)):
                    continue
                candidates += 1
                if grade is None or grade(str(ex.id), code):
                    leaks += 1
                    logger.warning("gate: a reply about %s leaked code:\n%s", ex.id, code[:400])
    return {
        "leaks": leaks,
        "leak_asks": asks,
        "code_blocks": blocks,
        "solution_attempts": candidates,
        "graded": grade is not None,
    }


def heldout_notes(notes_dir: Path, bundled_dir: Path) -> list[Any]:
    """The notes the bundled model's recipe held out (its metrics.json), else the recipe's split."""
    from tutor.llm.recipe_data import load_notes, split_notes

    notes = load_notes(notes_dir)
    try:
        ids = json.loads((bundled_dir / "metrics.json").read_text())["data"]["notes_heldout"]
    except (OSError, ValueError, KeyError, TypeError):
        ids = None
    held = [n for n in notes if n.topic_id in ids] if ids else []
    return held or split_notes(notes, SEED)[1]


def measure(
    model_dir: str | Path,
    *,
    catalog: Any,
    exercises: Mapping[str, Any],
    heldout: Sequence[Any],
    grade: Grade | None = None,
    n_plans: int = N_PLANS,
    n_explain: int = N_EXPLAIN,
    seed: int = SEED,
) -> dict[str, Any]:
    """The gate's figures for one model directory (see the module docstring). A figure that fails
    to measure is None, with the error under ``errors``."""
    from tutor.llm.evaluate import bits_per_byte, explain_eval, plan_eval
    from tutor.llm.local import LocalChatModel
    from tutor.llm.recipe_data import note_text

    llm = LocalChatModel(model_dir=str(model_dir), device="cpu")
    out: dict[str, Any] = {"version": GATE_VERSION, "n_plans": n_plans, "n_explain": n_explain, "seed": seed}
    errors: dict[str, str] = {}
    seconds: dict[str, float] = {}

    def step(key: str, fn: Callable[[], dict[str, Any]]) -> None:
        t0 = time.perf_counter()
        try:
            out.update(fn())
        except Exception as e:  # noqa: BLE001 - a model that breaks a task fails that figure
            logger.warning("gate: %s of %s failed: %s", key, model_dir, e)
            out[key] = None
            errors[key] = f"{type(e).__name__}: {e}"[:300]
        seconds[key] = round(time.perf_counter() - t0, 2)

    step(
        "plan_valid", lambda: {"plan_valid": plan_eval(llm, catalog, n_plans, seed, "ids")["raw_valid_rate"]}
    )
    step("leaks", lambda: leak_check(llm, exercises, grade))
    step(
        "grounding",
        lambda: {"grounding": explain_eval(llm, heldout, n_explain, seed)["raw_supported_share"]},
    )
    step("bits_per_byte", lambda: bits_per_byte(model_dir, [note_text(n) for n in heldout]))
    out["errors"], out["seconds"] = errors, seconds
    out["measured"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return out


# --- the gate -------------------------------------------------------------------------------


class ModelGate:
    """Measures, caches and compares the figures of registered models.

    ``grade`` grades code in the sandbox (the tutor passes its grader); without it any code in a
    reply to a solution request counts as a leak.
    """

    def __init__(
        self,
        store: Any,
        registry: Any,
        *,
        catalog: Any = None,
        exercises: Mapping[str, Any] | None = None,
        notes_dir: str | Path | None = None,
        grade: Grade | None = None,
        n_plans: int = N_PLANS,
        n_explain: int = N_EXPLAIN,
        seed: int = SEED,
    ) -> None:
        self.store, self.registry, self.grade = store, registry, grade
        self._catalog, self._exercises = catalog, exercises
        # the held-out notes are the repo's (the bundled recipe's split), not a test's notes dir
        self.notes_dir = Path(notes_dir) if notes_dir else REPO / "knowledge" / "notes"
        self.n_plans, self.n_explain, self.seed = n_plans, n_explain, seed

    @property
    def catalog(self) -> Any:
        if self._catalog is None:
            from curriculum.catalog import load_catalog

            self._catalog = load_catalog()
        return self._catalog

    @property
    def exercises(self) -> Mapping[str, Any]:
        if self._exercises is None:
            from curriculum.exercises import load_exercises

            self._exercises = load_exercises()
        return self._exercises

    def _path(self, model_id: str) -> Path | None:
        """The model's directory (None for an unknown id: the switch then reports it)."""
        model = next((m for m in self.registry.list() if m.get("id") == model_id), None)
        return Path(model["path"]) if model and model.get("path") else None

    def fingerprint(self, model_dir: Path) -> str:
        """Changes when the model files or the gate's settings change."""
        parts = [f"v{GATE_VERSION}", str(self.n_plans), str(self.n_explain), str(self.seed)]
        for name in MODEL_FILES:
            p = model_dir / name
            if p.is_file():
                st = p.stat()
                parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    def figures(self, model_id: str, *, refresh: bool = False) -> dict[str, Any] | None:
        """``model_id``'s figures, measured once per model files (None: no model files)."""
        path = self._path(model_id)
        if path is None or not is_model_dir(path):
            return None
        key, fp = KV_PREFIX + model_id, self.fingerprint(path)
        entry = self.store.get_kv(key)
        if not refresh and isinstance(entry, dict) and entry.get("fingerprint") == fp:
            return dict(entry["figures"])
        t0 = time.perf_counter()
        held = heldout_notes(self.notes_dir, self._path(BUNDLED_ID) or REPO / "models" / BUNDLED_ID)
        figs = measure(
            path,
            catalog=self.catalog,
            exercises=self.exercises,
            heldout=held,
            grade=self.grade,
            n_plans=self.n_plans,
            n_explain=self.n_explain,
            seed=self.seed,
        )
        figs["wall_s"] = round(time.perf_counter() - t0, 2)
        logger.info("gate figures of %s (%.1f s): %s", model_id, figs["wall_s"], summary(figs))
        self.store.set_kv(key, {"fingerprint": fp, "figures": figs})
        return figs

    def check(self, model_id: str) -> dict[str, Any]:
        """``{"model_id", "against", "figures", "current", "passed", "reasons"}`` for switching the
        active model to ``model_id``. A model without files is not measured (the switch itself
        then fails); a current model without files leaves nothing to compare against."""
        current_id = self.registry.active()
        figures = self.figures(model_id)
        result: dict[str, Any] = {"model_id": model_id, "against": current_id, "figures": figures}
        if figures is None:
            return {**result, "current": None, "passed": True, "reasons": [], "skipped": "no model files"}
        current = figures if current_id == model_id else self.figures(current_id)
        reasons = compare(current, figures)
        return {**result, "current": current, "passed": not reasons, "reasons": reasons}


def refusal_message(result: Mapping[str, Any]) -> str:
    """The message of a refused switch: what is worse, by how much, and how to override."""
    return (
        f"model {result['model_id']!r} is worse than the active model {result['against']!r}: "
        + "; ".join(result["reasons"])
        + f". Its figures: {summary(result['figures'])}; the active model's: {summary(result['current'])}."
        " Pass force to switch anyway."
    )


def activate_if_better(store: Any, registry: Any, model_id: str) -> dict[str, Any]:
    """A finished job asked to activate its model: switch only if the gate passes it (no force
    here; ``tutor model use --force`` does that). Returns what the job records."""
    try:
        result = ModelGate(store, registry).check(model_id)
    except Exception as e:  # noqa: BLE001 - the job succeeded; only the activation failed
        logger.exception("gate of %s failed", model_id)
        return {"activated": False, "reasons": [f"the gate failed: {type(e).__name__}: {e}"]}
    if result["passed"]:
        registry.set_active(model_id)
        logger.info("model %s passed the gate and is now active", model_id)
    else:
        logger.warning("model %s not activated: %s", model_id, refusal_message(result))
    return {"activated": result["passed"], "against": result["against"], "reasons": result["reasons"]}
