"""What a learner's message asks for: reliable rules first, then a small text classifier.

Rules catch what must never be misrouted (a code block, "grade this", "run this", an exercise id,
job words, a self-check rating); everything else goes to a TF-IDF (word + character n-grams)
logistic-regression model trained on ``tutor/agent/data/intents.tsv`` the first time it is needed
(about 0.3 s, once per process). ``tutor/agent/data/intents_heldout.tsv`` is never trained on: it gives
the accuracy figure in the tests and in ``scripts/eval_agent.py``.

Limits: English only; the model has seen a few hundred utterances, so an unusual phrasing may
land on the wrong intent; a low-confidence question falls back to ``explain``, which is the
least harmful guess in a tutor.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args

log = logging.getLogger(__name__)

Intent = Literal[
    "explain",
    "plan",
    "run_code",
    "grade",
    "exercise",
    "train",
    "progress",
    "review",
    "chitchat",
    "quiz",
    "lab",
]
INTENTS: tuple[str, ...] = get_args(Intent)
DATA_DIR = Path(__file__).with_name("data")
TRAIN_PATH = DATA_DIR / "intents.tsv"
HELDOUT_PATH = DATA_DIR / "intents_heldout.tsv"
MIN_CONFIDENCE = 0.3  # below this the model's guess is replaced by a safe default

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_GRADE = re.compile(
    r"\b(grade|grading|mark (this|my|it)|submit\w*|check (this|my|it|if)|verify|is (this|it|my \w+) (right|correct|ok)|"
    r"does (this|it) pass|test my (code|solution|answer|function|attempt|fix|work))\b",
    re.I,
)
_RUN = re.compile(
    r"\b(run|rerun|execute|exec|evaluate|eval)\b|\bwhat (does|will) (this|it) (print|output|return)", re.I
)
# exercise ids are often topic words ("attention", "pca"): a bare id is a concept question, an id
# with one of these words is about the exercise
_EXERCISE_WORDS = re.compile(
    r"\b(exercises?|solutions?|solve[ds]?|answers?|hints?|stuck|give up|starter|tests?|statement|practi[cs]e|task|"
    r"submi\w*|do it for me|(the )?code for)\b",
    re.I,
)
_OPEN_EXERCISE = re.compile(r"^\s*(please\s+)?(give me|show me|open|start|try|let me try|do)\b", re.I)
_JOB_WORDS = re.compile(r"\bjobs?\b|\bjob[-_][0-9a-f]{4,}\b", re.I)
_TRAIN_IMPERATIVE = re.compile(
    r"^\s*(please\s+|pls\s+|ok\s+|now\s+)?(can you\s+|could you\s+|let'?s\s+|i want to\s+|i'd like to\s+)?"
    r"((re-?train|train|fine[- ]?tune|finetune)\b|"
    r"(start|launch|kick off|begin|run)\b.*\b(train\w*|fine[- ]?tun\w*|finetun\w*|model|gpt|job|run)\b)",
    re.I,
)
_TRAIN_STATUS = re.compile(
    r"\b(my|the)\s+(training|fine[- ]?tun\w*|job|run)\b.*\b(status|progress|done|finish\w*|going|ready|metrics|loss|result\w*)\b",
    re.I,
)
_TRAIN_CONFIRM = re.compile(
    r"\b(my|the|this|that|our)\s+(\w+\s+)?(training|fine[- ]?tun\w*|finetun\w*|job|run|model)\b|"
    r"\b(still|how'?s|hows)\s+(it\s+)?training\b|\bloss curve\b|\bmodel id\b|"
    r"\bval(idation)?[ _]loss\b.*\b(my|the|job|run)\b",
    re.I,
)
_QUESTION_START = re.compile(r"^\s*(how|what|why|when|which|explain|is|are|does|do)\b", re.I)
_NEXT = re.compile(
    r"\b(what'?s|whats|what is|what)\s+next\b|\bnext (step|topic|lesson|item|task)\b|^\s*next\s*\??$|"
    r"\bwhat\s+(should|shall|do|can)\s+i\s+(do|study|learn|work on)\s+next\b|"  # plan: go on with it
    r"\b(continue|resume)\s+(with\s+)?(my|the)\s+plan\b",
    re.I,
)
_QUIZ = re.compile(
    r"\b(quiz|test|check|examine) me\b|^\s*quiz\b|\bpractice (questions?|items?|quiz)\b|"
    r"\b(ask|give) me (a |some |another |one more )?(practice |quiz |test |check )?questions?\b",
    re.I,
)
_DIAGNOSE = re.compile(r"\b\w+(Error|Exception|Warning)\b|\bnan\b|\btraceback\b")


def _asks_diagnosis(prose: str) -> bool:
    """Prose around a snippet that asks why something happens and says what ("my loss is nan
    after a few steps, why?"), or quotes an error; "what's wrong here?" alone just runs it."""
    from tutor.llm.grounding import content_words

    said = [w for w in content_words(prose) if w not in ("wrong", "here", "code", "happening", "going")]
    return bool(_DIAGNOSE.search(prose)) or (is_concept_question(prose) and len(said) >= 3)


_CANCEL = re.compile(
    r"^\s*(please\s+)?(cancel|stop|abort|kill)\b.*(\b(gpt|sklearn)-[0-9a-f]{6,}\b|\bjobs?\b|"
    r"\b(my|the|that|this|it|all)\s+(\w+\s+)?(runs?|training|fine-?tun\w*)\b\s*(please|now|job|run)?\s*[.!]?\s*$)",
    re.I,
)
GUESS_CONFIDENCE = 0.6
_TRAIN_ASK = re.compile(
    r"\b(re-?train\w*|train|training|fine[- ]?tun\w*|finetun\w*|start|launch|kick off|resume|cancel|stop|status|"
    r"progress|done|finished|ready|loss curve|jobs?|runs?|metrics)\b",
    re.I,
)
_PLAN_ASK = re.compile(
    r"\b(study|lesson|learning|my) (plan|path|session|schedule)|\broadmap\b|"
    r"\bplan (me\b|my (study|studies|week|weekend|day|evening|session|learning|time|hours?|next)|a (study )?session|\d)|"
    r"\b\d+(\.\d+)?\s*(h|hrs?|hours?|mins?|minutes?)\b|\bwhat should i (do|study|learn)|\bnext\b",
    re.I,
)
# guided labs (tutor/agent/nodes/labs.py): any mention of a lab, or asking where one left off
_LAB = re.compile(r"\blabs?\b", re.I)
_WHERE_WAS_I = re.compile(
    r"\bwhere (was|were|did) (i|we)\b|\bpick up where\b|\b(resume|continue) where\b|\bwhere i left off\b",
    re.I,
)
RATINGS = {"again": 1, "forgot": 1, "hard": 2, "good": 3, "got it": 3, "remembered": 3, "easy": 4}
_RATING = re.compile(r"\b(" + "|".join(re.escape(r) for r in RATINGS) + r")\b", re.I)


# a message that asks to understand something, even when it mentions training, jobs or plans
_CONCEPT = re.compile(
    r"\b(why|how come|how (does|do|can|would|is|are) (that|it|this|they|one|people|we|you|jobs?|\w+ing)\b(?! (going|doing))|"
    r"what('?s| is| are| does| do| happens| causes)\b|differen(ce|t)|\bvs\.?\b|versus|mean(s|ing)?\b|explain|intuition|"
    r"is nan|nan\b|diverg\w*|explod\w*|overfit\w*|underfit\w*|higher than|lower than|go(es)? up|in general|"
    r"should i|is it better|instead of)",
    re.I,
)
# ...unless it is about the learner's own job or run: "what's the status of my job?"
_OWN_JOB = re.compile(
    r"\b(status|progress|done|finished|ready|cancel\w*|stop)\b|\b(my|the|that|this) (training |fine-?tuning )?"
    r"(job|run)s?\b|\bjob[-_][0-9a-f]{4,}\b|\b(gpt|sklearn)-[0-9a-f]{6,}\b",
    re.I,
)


def is_concept_question(text: str) -> bool:
    """A question about how or why something works, not a request about the learner's own jobs."""
    return bool(_CONCEPT.search(text)) and not _OWN_JOB.search(text)


@dataclass(frozen=True)
class IntentResult:
    """Where a message goes and why (``source`` is "rule:<name>" or "model")."""

    intent: str
    confidence: float
    source: str
    exercise_id: str | None = None
    code: str | None = None


# --- message parsing shared with the nodes ---
def extract_code(text: str) -> str | None:
    """The Python in a message: all fenced blocks joined, or the whole message when it is bare code."""
    blocks = [
        body
        for lang, body in _FENCE.findall(text)
        if lang.lower() in ("", "python", "py", "python3", "ipython")
    ]
    if blocks:
        code = "\n\n".join(b.strip("\n") for b in blocks)
        return code if code.strip() else None
    if "```" in text:
        return None
    return text.strip() if _looks_like_code(text) else None


def _looks_like_code(text: str) -> bool:
    """A message that compiles as Python and has code-like syntax (``hello`` compiles but is not code)."""
    s = text.strip()
    if (
        not s
        or s.endswith("?")
        or not re.search(r"[(=\[]|^\s*(import|from|def|class|for|while|if)\b", s, re.M)
    ):
        return False
    try:
        compile(s, "<message>", "exec")
    except (SyntaxError, ValueError):
        return False
    return True


def find_exercise_id(text: str, exercises: Mapping[str, str] | Iterable[str]) -> str | None:
    """An exercise named in the message, by exact id or by its full title (``{id: title}`` or ids)."""
    titles = dict(exercises) if isinstance(exercises, Mapping) else {e: "" for e in exercises}
    low = text.lower()
    for ex_id in sorted(titles, key=len, reverse=True):  # longest first: "kmeans-2" before "kmeans"
        if re.search(r"(?<![\w.-])" + re.escape(ex_id.lower()) + r"(?![\w-])", low):
            return ex_id
    for ex_id, title in titles.items():
        if title and len(title) > 5 and title.lower() in low:
            return ex_id
    return None


def exercise_defined_in(code: str, entries: Mapping[str, str]) -> str | None:
    """The exercise whose function (``{id: entry name}``) the code defines, when exactly one is."""
    found = [
        ex_id
        for ex_id, entry in entries.items()
        if entry and re.search(rf"^\s*def {re.escape(entry)}\s*\(", code, re.M)
    ]
    return found[0] if len(found) == 1 else None


def find_rating(text: str) -> int | None:
    """A self-check rating 1..4 (again, hard, good, easy) in a short reply, else None."""
    m = _RATING.search(text)
    return RATINGS[m.group(1).lower()] if m and len(text.split()) <= 8 else None


def is_next_request(text: str) -> bool:
    return bool(_NEXT.search(text))


# --- rules ---
def rule_intent(
    text: str, exercises: Mapping[str, str] | Iterable[str] = (), *, review_pending: bool = False
) -> IntentResult | None:
    """The intent when a reliable rule applies, else None (then the model decides)."""
    code = extract_code(text)
    # strip code before matching words, so `model.fit` or `eval(...)` inside code does not count
    prose = _FENCE.sub(" ", text) if "```" in text else ("" if code else text)
    ex_id = find_exercise_id(prose, exercises)
    if code is not None:
        if ex_id or _GRADE.search(prose):
            return IntentResult("grade", 1.0, "rule:code+grade", ex_id, code)
        if "```" in text and _asks_diagnosis(prose):
            # "my loss is nan after a few steps, why?" + a snippet: the diagnosis, not just a run
            return IntentResult("explain", 1.0, "rule:code+question", ex_id, code)
        return IntentResult("run_code", 1.0, "rule:code", ex_id, code)
    if _QUIZ.search(prose):  # "quiz me on attention", "test me", "check me"
        return IntentResult("quiz", 1.0, "rule:quiz", ex_id)
    if _GRADE.search(prose) and not _QUESTION_START.search(prose) or re.match(r"\s*grade\b", prose, re.I):
        return IntentResult("grade", 1.0, "rule:grade-words", ex_id)
    if re.match(r"\s*(please\s+|pls\s+|can you\s+)?(re)?run (this|it|that|my)\b", prose, re.I):
        return IntentResult("run_code", 1.0, "rule:run-words", ex_id)
    about_exercise = _EXERCISE_WORDS.search(prose) or (
        _OPEN_EXERCISE.search(prose) and len(prose.split()) <= 5
    )
    if ex_id and about_exercise and not _JOB_WORDS.search(prose):
        return IntentResult("exercise", 1.0, "rule:exercise-id", ex_id)
    if (_LAB.search(prose) or _WHERE_WAS_I.search(prose)) and not _JOB_WORDS.search(prose):
        return IntentResult("lab", 1.0, "rule:lab")  # "start the pandas lab", "where was I?"
    if _CANCEL.search(prose):  # "cancel that job please", "stop gpt-0a1b2c3d4e"
        return IntentResult("train", 1.0, "rule:cancel")
    if is_concept_question(prose) and (
        _JOB_WORDS.search(prose) or _TRAIN_IMPERATIVE.search(prose) or _TRAIN_STATUS.search(prose)
    ):  # "my training loss is nan, why?" asks for an explanation, not a job
        return IntentResult("explain", 1.0, "rule:concept-question")
    if _JOB_WORDS.search(prose) and not re.match(r"\s*(what|why|explain)\b", prose, re.I):
        return IntentResult("train", 1.0, "rule:job-words")
    if _TRAIN_IMPERATIVE.search(prose) or _TRAIN_STATUS.search(prose):
        return IntentResult("train", 1.0, "rule:train-words")
    if review_pending and find_rating(prose) is not None:
        return IntentResult("review", 1.0, "rule:rating")
    if is_next_request(prose) and not ex_id:
        return IntentResult("plan", 1.0, "rule:next")
    return None


# --- the model ---
def load_examples(path: Path = TRAIN_PATH) -> list[tuple[str, str]]:
    """(intent, text) pairs from a TSV with an ``intent<TAB>text`` header."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    out = []
    for n, row in enumerate(rows, 2):
        if row["intent"] not in INTENTS:
            raise ValueError(f"{path}:{n}: intent {row['intent']!r} is not one of {INTENTS}")
        out.append((row["intent"], row["text"]))
    return out


def train_classifier(examples: list[tuple[str, str]]) -> Any:
    """Word 1-2-grams + character 2-5-grams -> multinomial logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline
    from threadpoolctl import threadpool_limits

    features = FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b|\?"),
            ),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
        ]
    )
    model = Pipeline([("features", features), ("clf", LogisticRegression(C=10.0, max_iter=2000))])
    labels, texts = zip(*examples, strict=True)
    # one BLAS thread: on a busy 2-core machine threaded BLAS made this 30x slower (5 s vs 0.15 s)
    with threadpool_limits(1):
        model.fit([t.lower() for t in texts], list(labels))
    return model


@lru_cache(maxsize=1)
def get_classifier() -> Any:
    """The model trained on the bundled utterances (once per process)."""
    examples = load_examples(TRAIN_PATH)
    log.debug("training the intent classifier on %d utterances", len(examples))
    return train_classifier(examples)


def model_intent(text: str, model: Any = None) -> IntentResult:
    model = model or get_classifier()
    probs = model.predict_proba([text.lower()])[0]
    best = int(probs.argmax())
    intent, conf = str(model.classes_[best]), float(probs[best])
    if conf < MIN_CONFIDENCE:
        fallback = "explain" if len(text.split()) > 2 else "chitchat"
        return IntentResult(fallback, conf, f"model:low-confidence({intent})")
    return IntentResult(intent, conf, "model")


def classify(
    text: str, exercises: Mapping[str, str] | Iterable[str] = (), *, review_pending: bool = False
) -> IntentResult:
    """Rules first, then the model; the exercise id found by the rules is kept either way."""
    rule = rule_intent(text, exercises, review_pending=review_pending)
    if rule is not None:
        return rule
    result = model_intent(text)
    if result.intent == "plan" and is_concept_question(text) and not _PLAN_ASK.search(text):
        # "how should I plan a train/test split" is a concept question, not a request for a study plan
        result = IntentResult("explain", result.confidence, "model:plan-concept-question")
    if result.intent == "train" and not (_TRAIN_CONFIRM.search(text) and _TRAIN_ASK.search(text)):
        # "what are the challenges of training GPT", "make the model smaller with int8 weights":
        # concept questions; a job needs a clear ask (a training verb or a question about a job)
        result = IntentResult("explain", result.confidence, "model:train-without-job-words")
    if result.intent in ("quiz", "lab") and result.confidence < GUESS_CONFIDENCE:
        # quizzes and labs start from clear words (rules); a weak guess is a question
        result = IntentResult("explain", result.confidence, f"model:weak-{result.intent}")
    if (
        result.intent == "run_code"
        and extract_code(text) is None
        and (is_concept_question(text) or re.search(r"\b(every|each) time\b|\bwhenever\b", text, re.I))
    ):
        # "tsne plot looks different every time i run it": nothing to run, a question about running
        result = IntentResult("explain", result.confidence, "model:run-without-code")
    return IntentResult(result.intent, result.confidence, result.source, find_exercise_id(text, exercises))


def heldout_accuracy(path: Path = HELDOUT_PATH) -> tuple[float, list[tuple[str, str, str]]]:
    """Accuracy of the model alone on the held-out utterances, and the misses (text, want, got)."""
    examples = load_examples(path)
    model = get_classifier()
    got = model.predict([t.lower() for _, t in examples])
    misses = [(t, want, str(g)) for (want, t), g in zip(examples, got, strict=True) if want != g]
    return 1 - len(misses) / len(examples), misses
