"""Explain: answer a learner's question from authored teaching cards, else from whole note paragraphs.

The answer is assembled, not generated: our small GPT cannot write explanations (0% of its own
sentences were supported by the notes), so the words come from material we author.

1. The question is matched to a card question (``knowledge.card_index``); the notes retrieval
   supplies the topic and the section to cite.
2. A good enough match (``CARD_THRESHOLD``, measured with ``scripts/eval_answers.py``) is
   answered with the card: the answer, then why, then the example (a learner new to the topic
   gets display maths only after the intuition and the example), a pitfall when there is room,
   "Check yourself", and the sources.
3. Otherwise the best whole paragraph(s) of the best note section, never sentence fragments and
   never a paragraph that starts by pointing back at text that is not shown.

Follow-ups ("why?", "show me in code", "simpler", "more") reuse the thread's last card.
Everything returned is Markdown with maths inside ``$`` delimiters, the same for the UI and the API.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from knowledge.card_index import CardHit
from knowledge.cards import Card

OFF_TOPIC_SIMILARITY = 0.85  # a card off the notes' best topics needs a near-verbatim match
CARD_THRESHOLD = 0.55  # best card score below this: the question is not one our cards answer
OFF_COURSE_SIMILARITY = 0.3  # below both of these the question is not about the course
OFF_COURSE_PASSAGE = 0.6
OFF_COURSE = (
    "That doesn't look like something our course covers, so I won't guess. I teach data science, "
    'machine learning and GPT transformers: ask me about one of those (for example "what is '
    'broadcasting in numpy?"), or say "show me the curriculum".'
)
MAX_WORDS = 430  # the reply stays readable (the answer-quality check wants 40-450 words)
NOVICE_BELOW = 0.3  # topic mastery under this (and prerequisites not mastered): intuition first
FollowUp = Literal["why", "example", "simpler", "more"]
_SKIP_SECTIONS = re.compile(r"self-check|answers?\b|practical|further reading|exercises?", re.I)
_DANGLING = re.compile(
    r"^(this|that|these|those|it|they|so|but|and|also|however|then|here|thus|hence)\b", re.I
)
_FILLER = (
    r"(?:\s*(?:ok|okay|hmm|sorry|thanks|thank you|please|pls|can you|could you|would you|you|"
    r"but|and|so|then|a|an|the|me|us|it|this|that|there|again|just|maybe|really|some|more|one|bit|little|"
    r"to|of|for|with|about|on)\b[\s,.!?]*)*"
)
_FOLLOW = {
    "why": r"(why|but why|how come|why (is|does|would|do|did|was) (that|it|this)( so| true| work| happen| the case| matter)?|"
    r"what'?s the (reason|intuition)|reason|intuition)",
    "example": r"((give|show|write)( me)?( (an|another|a))?( (code|worked|concrete|small|quick))? example|"
    r"(an|another|a)? ?(code )?example|examples?|show( me)?|show (it|that|this|me)( in code)?|in code|"
    r"(how|what) (does|would) (that|it|this) look( like)? in code|code( please)?|demo|"
    r"(can|could) (you|i) see (it|that|some code)( in code)?|with code)",
    "simpler": r"(simpler|more simply|simply|in simple (words|terms)|in plain (words|english)|eli5|"
    r"explain (it|that|this) (like i'?m|as if i'?m) (five|5|a beginner|new)|"
    r"i (still )?(do not|don'?t|dont|didn'?t|didnt) (get|understand|follow)( (it|that|this|you))?|"
    r"(that'?s|it'?s|this is|too) (too )?(complicated|confusing|hard|technical)|i'?m (lost|confused)|"
    r"what do you mean|(explain|say) (it|that|this) (differently|another way|again)|lost me)",
    "more": r"(more|tell me more|go on|continue|keep going|more detail(s)?|go deeper|deeper|elaborate|"
    r"(and )?then what|what else|expand( on (it|that|this))?|in (more )?depth|details?)",
}
_FOLLOW_RE = {k: re.compile(rf"^{_FILLER}{v}{_FILLER}$", re.I) for k, v in _FOLLOW.items()}


def follow_up_kind(text: str) -> FollowUp | None:
    """The kind of follow-up a short message asks for, or None when it is a new question.

    Only messages made of follow-up words and filler count: "explain overfitting like I'm new to
    this" names a subject, so it is a new question even though it contains "this"."""
    low = " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())
    if not low or len(low.split()) > 12 or "```" in text:
        return None
    for kind in ("simpler", "example", "why", "more"):
        if _FOLLOW_RE[kind].match(low):
            return kind  # type: ignore[return-value]
    return None


@dataclass
class Citation:
    topic_id: str
    source: str  # "knowledge/notes/m1.pandas.md#merge-join-concat-combining-tables"
    section: str  # the section title as written in the note
    card_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {"topic_id": self.topic_id, "source": self.source, "section": self.section}
        if self.card_id:
            d["card_id"] = self.card_id
        return d


@dataclass
class Answer:
    """A composed reply and what it was made of."""

    text: str
    topic_id: str | None
    citations: list[Citation] = field(default_factory=list)
    card_id: str | None = None
    check_item: str | None = None  # practice item behind the card's "Check yourself", if any
    kind: Literal["card", "notes", "material", "none"] = "none"
    score: float = 0.0


@dataclass
class Learner:
    """What the composer needs to know about the learner."""

    mastery: Mapping[str, float] = field(default_factory=dict)

    def is_novice(self, topic_id: str, prerequisites: Sequence[str]) -> bool:
        if self.mastery.get(topic_id, 0.0) >= NOVICE_BELOW:
            return False
        return not prerequisites or any(self.mastery.get(p, 0.0) < 0.6 for p in prerequisites)


# --- sources ------------------------------------------------------------------------------------
def section_title(heading_path: str) -> str:
    """The section's own title as written ("NumPy > Broadcasting rules" -> "Broadcasting rules")."""
    return heading_path.split(" > ")[-1].strip() if heading_path else ""


def _link(c: Citation, topic_title: str) -> str:
    anchor = c.source.partition("#")[2]
    label = f"{topic_title} › {c.section}" if c.section else topic_title
    return (
        f"[{label.replace('[', '(').replace(']', ')')}](notes/{c.topic_id}{'#' + anchor if anchor else ''})"
    )


def sources_line(citations: Sequence[Citation], titles: Callable[[str], str]) -> str:
    return "**Sources:** " + "; ".join(_link(c, titles(c.topic_id)) for c in citations[:2])


def _passage_citation(p: Any, card_id: str | None = None) -> Citation:
    return Citation(
        topic_id=str(_get(p, "topic_id")),
        source=str(_get(p, "source")),
        section=section_title(str(_get(p, "heading") or "")),
        card_id=card_id,
    )


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


# --- composing a card ---------------------------------------------------------------------------
_DISPLAY_MATH = re.compile(r"\$\$.*?\$\$", re.S)


def _words(text: str) -> int:
    return len(text.split())


def card_body(card: Card, *, novice: bool) -> list[str]:
    """Answer, why, example (and pitfall): for a novice, display maths moves after the example."""
    answer, moved = card.answer, []
    if novice and _DISPLAY_MATH.search(answer) and not _DISPLAY_MATH.match(answer.strip()):
        moved = _DISPLAY_MATH.findall(answer)
        answer = _DISPLAY_MATH.sub("", answer).replace("  ", " ").strip()
    parts = [answer, f"**Why:** {card.why}"]
    if card.example:
        parts.append(f"**Example:**\n\n{card.example}")
    if moved:
        parts.append("**In symbols:** " + " ".join(moved))
    if card.pitfall:
        parts.append(f"**Watch out:** {card.pitfall}")
    return parts


def check_line(card: Card) -> str:
    if card.check is None:
        return ""
    tail = ' Say "quiz me" to answer it here.' if card.check.practice else ""
    return f"**Check yourself:** {card.check.question}{tail}"


def fit(parts: list[str], tail: list[str], limit: int = MAX_WORDS) -> str:
    """Join parts and tail, dropping optional parts (from the end of ``parts``) until it fits."""
    parts = [p for p in parts if p]
    tail = [t for t in tail if t]
    while len(parts) > 1 and _words("\n\n".join(parts + tail)) > limit:
        parts.pop(-2 if parts[-1].startswith("**In symbols") and len(parts) > 2 else -1)
    return "\n\n".join(parts + tail)


# --- whole paragraphs from a note ---------------------------------------------------------------
def _content(text: str) -> set[str]:
    from tutor.llm.grounding import content_words

    return set(content_words(text))


def paragraphs(text: str) -> list[str]:
    """Blank-line separated blocks; a fenced code block stays with its paragraph."""
    out: list[str] = []
    buf: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
        if not line.strip() and not fenced:
            if buf:
                out.append("\n".join(buf).strip())
                buf = []
            continue
        buf.append(line)
    if buf:
        out.append("\n".join(buf).strip())
    return [p for p in out if p]


def best_paragraphs(question: str, passages: Sequence[Any], max_words: int = 220) -> tuple[str, Any] | None:
    """The best whole paragraph(s) of the best usable note section, and that section's passage.

    A paragraph that opens by pointing back ("This", "It", "That last fact...") brings the one
    before it; self-check questions and answer lists are never used."""
    q = _content(question)
    best: tuple[float, int, Any, list[str]] | None = None
    top = _get(passages[0], "topic_id") if passages else None
    ordered = [p for p in passages if _get(p, "topic_id") == top] + [
        p for p in passages if _get(p, "topic_id") != top
    ]
    for rank, p in enumerate(ordered):
        if best is not None and _get(p, "topic_id") != top:
            break  # another topic's passage only when the best topic had nothing usable
        heading = str(_get(p, "heading") or "")
        if _SKIP_SECTIONS.search(section_title(heading)):
            continue
        paras = [x for x in paragraphs(str(_get(p, "text") or "")) if not x.lstrip().startswith("#")]
        for i, para in enumerate(paras):
            if para.rstrip().endswith("?") or para.startswith("```"):
                continue
            overlap = len(q & _content(para)) / (len(q) or 1)
            score = overlap + 0.3 / (1 + rank) + (0.05 if i == 0 else 0.0)
            if best is None or score > best[0]:
                best = (score, i, p, paras)
    if best is None:
        return None
    _, i, p, paras = best
    start = i
    while start > 0 and _DANGLING.match(_first_words(paras[start])):
        start -= 1
    if _DANGLING.match(_first_words(paras[start])):
        return None
    chosen = [paras[start]]
    j = start + 1
    while j < len(paras) and j <= i + 1 and _words("\n\n".join([*chosen, paras[j]])) <= max_words:
        chosen.append(paras[j])
        j += 1
    if _words(chosen[0]) < 25 and j < len(paras) and _words("\n\n".join([*chosen, paras[j]])) <= max_words:
        chosen.append(paras[j])
        j += 1
    # a sentence that runs on into display maths ("learn a low-rank" / $$...$$ / "update where ...")
    # is finished, whatever the word budget: never stop mid-sentence
    while j < len(paras) and _unfinished(chosen[-1]) and _words("\n\n".join(chosen)) <= max_words + 150:
        chosen.append(paras[j])
        j += 1
    return "\n\n".join(chosen), p


def _unfinished(paragraph: str) -> bool:
    """A paragraph that does not end a sentence (or is display maths that a sentence runs through)."""
    tail = paragraph.rstrip()
    if tail.startswith("$$") and tail.endswith("$$"):
        return not tail[:-2].rstrip().endswith((".", ",.", "!"))
    if tail.startswith("```") or tail.startswith(("- ", "* ", "1.", "|")):
        return False
    return not tail.endswith((".", "!", "?", ":", ")", '"', "*", "`"))


def _first_words(text: str) -> str:
    return re.sub(r"^[\s*_>#-]+", "", text)


def off_course(hits: Sequence[CardHit], passages: Sequence[Any]) -> bool:
    """Nothing in the course is near the question: no card phrasing is even loosely similar and
    the best note passage is a weak match. Measured on 129 learner questions (none caught) and 16
    off-course ones ("how do I bake bread": 7 caught); the rest get the best note paragraphs."""
    sim = hits[0].similarity if hits else 0.0
    score = _get(passages[0], "score")
    return sim < OFF_COURSE_SIMILARITY and isinstance(score, int | float) and score < OFF_COURSE_PASSAGE


def pick_card(hits: Sequence[CardHit], topics: Sequence[str], threshold: float) -> CardHit | None:
    """The best card that is on one of the notes retrieval's two best topics (retrieval finds the
    topic almost always; card phrasings alone are easily fooled by shared words), or any card
    that matches nearly word for word."""
    for h in hits:
        on_topic = h.card.topic_id in topics[:2]
        if (on_topic and h.score >= threshold) or h.similarity >= OFF_TOPIC_SIMILARITY:
            return h
    return None


# --- the use case -------------------------------------------------------------------------------
@dataclass
class Explainer:
    """Answers questions from cards and notes. ``cards.search`` and ``retriever.search`` are the
    knowledge layer's searches; ``topic_title`` and ``prerequisites`` come from the catalog."""

    cards: Any  # knowledge.card_index.CardIndex (or a fake with .search and .cards)
    retriever: Any  # knowledge.retriever.Retriever
    topic_title: Callable[[str], str]
    prerequisites: Callable[[str], Sequence[str]]
    threshold: float = CARD_THRESHOLD
    materials: Any = None  # knowledge.materials.MaterialSearch: teachers' material; None: notes only

    def answer(self, question: str, learner: Learner | None = None, topic_id: str | None = None) -> Answer:
        """A new question: the best card, else the best note paragraphs."""
        learner = learner or Learner()
        query = re.sub(r"```.*?```", " ", question, flags=re.S).strip() or question
        passages = self.retriever.search(query, k=4, **({"topic_id": topic_id} if topic_id else {}))
        topics = list(dict.fromkeys(str(_get(p, "topic_id")) for p in passages))
        hits: list[CardHit] = self.cards.search(query[:600], k=8, top_topic=topics[0] if topics else None)
        best = pick_card(hits, topics, self.threshold)
        if best is not None:
            return self.from_card(best.card, learner, passages, score=best.score)
        if self.materials is not None and topic_id is None:  # a teacher's material that fits better
            from tutor.usecases.materials import material_answer

            found = material_answer(self.materials, query)
            if found is not None:
                return found  # type: ignore[no-any-return]
        if passages and topic_id is None and off_course(hits, passages):  # a follow-up keeps its topic
            return Answer(OFF_COURSE, None)
        return self.from_notes(query, passages)

    def from_card(
        self, card: Card, learner: Learner, passages: Sequence[Any] = (), score: float = 1.0
    ) -> Answer:
        novice = learner.is_novice(card.topic_id, self.prerequisites(card.topic_id))
        citations = self._card_citations(card, passages)
        text = fit(
            card_body(card, novice=novice), [check_line(card), sources_line(citations, self.topic_title)]
        )
        return Answer(
            text,
            card.topic_id,
            citations,
            card.id,
            card.check.practice if card.check else None,
            "card",
            score,
        )

    def from_notes(self, question: str, passages: Sequence[Any]) -> Answer:
        found = best_paragraphs(question, passages)
        if found is None:
            return Answer(OFF_COURSE, None)
        text, p = found
        cite = _passage_citation(p)
        heading = cite.section or self.topic_title(cite.topic_id)
        lead = f"From the notes on **{heading}**:\n\n" if heading else ""
        return Answer(
            f"{lead}{text}\n\n{sources_line([cite], self.topic_title)}", cite.topic_id, [cite], kind="notes"
        )

    def follow_up(
        self, kind: FollowUp, card_id: str | None, topic_id: str | None, learner: Learner | None = None
    ) -> Answer | None:
        """The thread's last card seen from another side; None when there is no card to go on."""
        cards = self.cards.cards()
        card = cards.get(card_id or "")
        if card is None:
            return None
        learner = learner or Learner()
        citations = self._card_citations(card, [])
        tail = [sources_line(citations, self.topic_title)]
        if kind == "why":
            parts = [card.why] + ([f"**Watch out:** {card.pitfall}"] if card.pitfall else [])
        elif kind == "example":
            ex_card = card if card.example else None
            if ex_card is None:
                ex_card = next(
                    (c for c in cards.values() if c.topic_id == card.topic_id and c.example_code), None
                )
            if ex_card is None:
                return None
            lead = (
                "Here is an example:"
                if ex_card is card
                else f"Here is an example from a related question ({ex_card.questions[0]}):"
            )
            parts = [lead, ex_card.example]
        elif kind == "simpler":
            smaller = _smallest_example(card, cards)
            parts = [f"Put simply: {card.why}"] + ([f"A small example:\n\n{smaller}"] if smaller else [])
        else:  # more: the note section behind the card
            passages = self.retriever.search(card.questions[0], k=3, topic_id=card.topic_id)
            found = best_paragraphs(card.questions[0] + " " + card.answer, passages, max_words=300)
            if found is None:
                return None
            text, p = found
            citations = [_passage_citation(p, card.id)]
            parts = [f"More from the notes on **{citations[0].section}**:", text]
            tail = [sources_line(citations, self.topic_title)]
        check = card.check.practice if card.check else None  # "quiz me" still means this card's check
        return Answer(fit(parts, tail), card.topic_id, citations, card.id, check, "card", 1.0)

    def _card_citations(self, card: Card, passages: Sequence[Any]) -> list[Citation]:
        same = [p for p in passages if _get(p, "topic_id") == card.topic_id]
        if not same:
            try:
                same = list(self.retriever.search(card.questions[0], k=1, topic_id=card.topic_id))
            except LookupError:
                same = []
        if same:
            return [_passage_citation(same[0], card.id)]
        return [Citation(card.topic_id, f"knowledge/notes/{card.topic_id}.md", "", card.id)]


def _smallest_example(card: Card, cards: Mapping[str, Card]) -> str:
    pool = [c for c in cards.values() if c.topic_id == card.topic_id and c.example]
    if card.example:
        pool.insert(0, card)
    return min((c.example for c in pool), key=_words, default="")
