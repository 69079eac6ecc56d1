"""The narrow tasks our GPT was fine-tuned for, each wrapped in the checks that make it safe.

- ``explain``: answer from retrieved passages; every sentence is checked against the passages
  and unsupported ones are dropped; too little left -> an extractive answer quoting the notes.
- ``hint``: a hint for a failing test that never carries solution code (filtered, with a
  template fallback); a request for the full solution gets a polite refusal plus the hint.
- ``gpt_plan``: the model writes the plan under constrained decoding (real ids only), the plan
  is validated against the curriculum and repaired by the rule-based planner when invalid.

Any ``BaseChatModel`` works: the local backend also gets the logits constraint and token caps;
another backend (an OpenAI-compatible server) gets the same prompts and the same checks.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage

from curriculum.catalog import Catalog
from curriculum.plan_reasons import study_path
from curriculum.planner import plan_lesson, validate_plan
from tutor.llm import chat_format as cf
from tutor.llm import grounding as g
from tutor.llm import model_label

logger = logging.getLogger(__name__)

MIN_SUPPORTED_SHARE = 0.5  # below this share of supported sentences the whole answer is distrusted
EXTRACTIVE_SENTENCES = 2
MAX_PASSAGES = 3  # what fits the small model's context next to the question and the answer
REFUSAL = "I can't give you the full solution, but here is a hint."
_CODE = re.compile(r"```|^\s*(def |class |import |from \S+ import |return\b)|\w+\s*=\s*\w+\(", re.M)


@dataclass
class Explanation:
    text: str
    citations: list[dict[str, str]]
    supported_share: float  # of the returned sentences, supported by their cited passages
    extractive: bool  # True when the answer quotes the notes instead of the model's words
    raw_supported_share: float = 0.0  # of the model's own sentences, before the check
    dropped: list[str] = field(default_factory=list)  # model sentences removed as unsupported

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _get(obj: Any, name: str, default: Any = "") -> Any:
    return obj.get(name, default) if isinstance(obj, Mapping) else getattr(obj, name, default)


def _ask(llm: Any, system: str, user: str, *, max_new_tokens: int, **local: Any) -> str:
    """One chat turn; token caps and logits processors only where the backend takes them."""
    from tutor.llm.local import LocalChatModel

    messages = [SystemMessage(system), HumanMessage(user)]
    kwargs: dict[str, Any] = {}
    if isinstance(llm, LocalChatModel):
        kwargs = {"max_new_tokens": max_new_tokens, **local}
    reply = llm.invoke(messages, **kwargs)
    return reply.content if isinstance(reply.content, str) else reply.text


# --- explain -------------------------------------------------------------------------------


def _citation(p: Any) -> dict[str, str]:
    return {"topic_id": str(_get(p, "topic_id")), "source": str(_get(p, "source"))}


def extractive_answer(question: str, texts: Sequence[str], n: int = EXTRACTIVE_SENTENCES) -> str:
    """The passage sentences that best match the question, verbatim, each with its marker."""
    scored = []
    for k, text in enumerate(texts, 1):
        for j, sent in enumerate(g.split_sentences(cf.trim_passage(text, 600))):
            if len(g.content_words(sent)) >= 3:
                scored.append((g.question_score(sent, question) - 0.01 * (j + k), k, j, sent))
    best = sorted(sorted(scored, reverse=True)[:n], key=lambda s: (s[1], s[2]))
    return " ".join(f"{g.strip_markers(s)} [{k}]" for _, k, _, s in best)


def ground(text: str, texts: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split the model's answer into supported sentences (marker fixed to the supporting passage)
    and dropped ones."""
    kept, dropped = [], []
    for sent in g.split_sentences(text):
        s = g.support(sent, texts, allowed=[n for n in g.cited(sent) if 1 <= n <= len(texts)])
        if not s.supported:  # a wrong marker is fixable; an unsupported claim is not
            s = g.support(sent, texts)
        if s.supported and s.passage is not None:
            kept.append(f"{g.strip_markers(sent)} [{s.passage}]")
        else:
            dropped.append(sent)
    return kept, dropped


def explain(llm: Any, question: str, passages: Sequence[Any], *, max_new_tokens: int = 120) -> Explanation:
    """Grounded answer to ``question`` from ``passages`` (objects or dicts with text/topic_id/source)."""
    passages = list(passages)[:MAX_PASSAGES]
    texts = [cf.clean_passage(str(_get(p, "text"))) for p in passages]
    if not texts:
        msg = "I found nothing about this in the course notes, so I won't guess. Try rephrasing or name the topic."
        return Explanation(msg, [], 0.0, True)
    raw = _ask(llm, cf.EXPLAIN_SYSTEM, cf.explain_prompt(question, texts), max_new_tokens=max_new_tokens)
    kept, dropped = ground(raw, texts)
    n_raw = len(kept) + len(dropped)
    raw_share = len(kept) / n_raw if n_raw else 0.0
    extractive = not kept or raw_share < MIN_SUPPORTED_SHARE
    answer = extractive_answer(question, texts) if extractive else " ".join(kept)
    final = g.split_sentences(answer)
    checked = [g.support(s, texts, allowed=g.cited(s)).supported for s in final]
    share = sum(checked) / len(checked) if checked else 0.0
    used = sorted({n for s in final for n in g.cited(s) if 1 <= n <= len(texts)})
    cites = [_citation(passages[n - 1]) for n in used]
    if extractive:
        answer = "From the course notes: " + answer
    logger.debug("explain: raw %d/%d supported, extractive=%s", len(kept), n_raw, extractive)
    return Explanation(answer, cites, share, extractive, raw_share, dropped)


# --- hint ----------------------------------------------------------------------------------


def _failing_dicts(failing_tests: Iterable[Any]) -> list[dict[str, str]]:
    out = []
    for t in failing_tests:
        if _get(t, "passed", False):  # a whole GradeReport.tests list may come in
            continue
        hidden = bool(_get(t, "hidden", False))
        # a hidden test's message may reveal expected values: only its name goes to the model
        msg = "" if hidden else str(_get(t, "message", "") or "")
        out.append({"name": str(_get(t, "name", "test")), "message": msg})
    return out


def _authored_hint(exercise: Any, test_name: str) -> str:
    """The hint the exercise's author wrote for this test, else for the exercise, else ''."""
    for t in _get(exercise, "tests", ()) or ():
        if _get(t, "name") == test_name and _get(t, "hint", ""):
            return " ".join(str(_get(t, "hint")).split())
    return " ".join(str(_get(exercise, "hint", "") or "").split())


def template_hint(exercise: Any, failing_tests: Iterable[Any]) -> str:
    """A hint from the exercise alone (no model): the first failing test, its message, and the
    author's hint for it when there is one, else the first step of the task."""
    failing = _failing_dicts(failing_tests)
    first_step = g.split_sentences(cf.trim_passage(cf.clean_passage(str(_get(exercise, "statement"))), 240))
    task = first_step[0] if first_step else str(_get(exercise, "title"))
    advice = f"Re-read the task: {task} Check that step in your code."
    if failing:
        t = failing[0]
        why = f": {t['message'].strip().rstrip('.')}" if t["message"].strip() else ""
        return f"Look at the test `{t['name']}`{why}. {_authored_hint(exercise, t['name']) or advice}"
    return _authored_hint(exercise, "") or f"{advice} Start with the smallest version that runs."


def has_code(text: str) -> bool:
    return bool(_CODE.search(text))


def hint(
    llm: Any,
    exercise: Any,
    failing_tests: Iterable[Any],
    *,
    wants_solution: bool = False,
    max_new_tokens: int = 80,
) -> str:
    """A hint for the first failing test; never solution code (falls back to ``template_hint``)."""
    failing = _failing_dicts(failing_tests)
    prompt = cf.hint_prompt(
        str(_get(exercise, "title")), str(_get(exercise, "statement")), failing, wants_solution
    )
    text = " ".join(_ask(llm, cf.HINT_SYSTEM, prompt, max_new_tokens=max_new_tokens).split())
    if len(g.content_words(text)) < 4 or has_code(text):
        text = template_hint(exercise, failing)
    if wants_solution and not text.startswith(REFUSAL):
        text = f"{REFUSAL} {text}"
    return text


# --- plan ----------------------------------------------------------------------------------


def _end_ids(llm: Any) -> list[int]:
    return sorted(llm.loaded.stop_ids)


def gpt_plan(
    llm: Any,
    catalog: Catalog,
    mastery: Mapping[str, float],
    hours: float,
    goal_topics: Sequence[str] = (),
    due: Sequence[str] = (),
    *,
    constraint: str = "ids",
    max_new_tokens: int = 240,
) -> dict[str, Any]:
    """A lesson plan written by the model, validated, and repaired by the planner when invalid.

    Returns ``{items, rationale, model, model_tried, constraint, repaired, repairs, goal_topics}``;
    ``repairs`` lists what was wrong with the model's plan (off the goal's path, reviews not due
    included); ``model`` is "rules" when the planner's plan replaced it. ``constraint`` asks for
    "strict", "ids" (served: real ids and a parseable format; prerequisites, hours, order and
    reasons are the model's) or "none"; the returned ``constraint`` is what the decoder was really
    held to: the level on the local backend, "none" on any other backend (no logits processor
    there). Items keep the reason the model wrote after each line; the caller checks it.
    """
    from tutor.llm.constrained import PlanConstraint, PlanGrammar
    from tutor.llm.local import LocalChatModel

    goals = [t for t in goal_topics if t in catalog.topics]
    due_ok = [t for t in due if t in catalog.topics]
    local: dict[str, Any] = {}
    held = "none"
    if isinstance(llm, LocalChatModel) and constraint != "none":
        grammar = PlanGrammar(catalog, mastery, hours, due_ok, level=constraint, goal_topics=goals)
        local["logits_processor"] = PlanConstraint(grammar, llm.loaded.tokenizer, _end_ids(llm))
        held = constraint
    path = study_path(catalog, mastery, goals)
    prompt = cf.plan_prompt(mastery, hours, goals, due_ok, order=catalog.topological_order(), path=path)
    raw = _ask(llm, cf.PLAN_SYSTEM, prompt, max_new_tokens=max_new_tokens, **local)
    items = cf.parse_plan(raw)
    rule_plan = plan_lesson(catalog, mastery, hours, goals, due_ok)
    problems = validate_plan(catalog, items, mastery, hours, goal_topics=goals, due_reviews=due_ok)
    if not items and rule_plan.items:
        problems.append("the model wrote no plan items")
    rationale = rule_plan.rationale
    if problems:
        items = [dict(i.__dict__) for i in rule_plan.items]
        rationale += f" (The model's plan broke {len(problems)} rule(s); the rule-based planner repaired it.)"
    return {
        "items": items,
        "rationale": rationale,
        "model": "rules" if problems else model_label(llm),
        "model_tried": model_label(llm),
        "constraint": held,
        "repaired": bool(problems),
        "repairs": problems,
        "goal_topics": goals,
    }
