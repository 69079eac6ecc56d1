"""tutor/llm/tasks.py with its checks: grounding, hints without solutions, plans that are
validated, repaired, and decoded under the plan grammar."""

from __future__ import annotations

import pytest

from curriculum.catalog import load_catalog
from curriculum.planner import plan_lesson, validate_plan
from tests.llm_helpers import tiny_model_dir
from tutor.llm import grounding as g
from tutor.llm.chat_format import format_plan, parse_plan, plan_prompt
from tutor.llm.constrained import PlanGrammar
from tutor.llm.fake import FakeChatModel
from tutor.llm.tasks import REFUSAL, explain, gpt_plan, hint, template_hint

CATALOG = load_catalog()
P1 = "Broadcasting stretches axes of size one so that arrays of different shapes combine elementwise."
P2 = "A DataFrame is a table of columns that share one index; each column is a Series with its own dtype."
PASSAGES = [
    {"text": P1, "topic_id": "m1.numpy", "source": "n.md#b"},
    {"text": P2, "topic_id": "m1.pandas", "source": "p.md#d"},
]


# --- grounding -----------------------------------------------------------------------------


def test_sentences_keep_their_markers() -> None:
    assert g.split_sentences("A is b, e.g. c. [1] It works! [2]\nnext") == [
        "A is b, e.g. c. [1]",
        "It works! [2]",
        "next",
    ]


@pytest.mark.parametrize(
    ("sentence", "ok"),
    [
        ("Broadcasting stretches axes of size one so that arrays combine elementwise.", True),
        ("Broadcasting stretches columns that share one dtype.", False),  # note words, new claim
        ("Gradient descent follows the negative gradient.", False),
        ("Yes.", False),
    ],
)
def test_support_needs_words_and_word_pairs(sentence: str, ok: bool) -> None:
    assert g.support(sentence, [P1, P2]).supported is ok


# --- explain -------------------------------------------------------------------------------


def test_explain_keeps_supported_sentences_and_fixes_markers() -> None:
    llm = FakeChatModel(replies=[f"{P2} [1] Pandas was invented on the moon. [2]"])
    e = explain(llm, "what is a dataframe", PASSAGES)
    assert not e.extractive and e.text == f"{P2} [2]"
    assert e.citations == [{"topic_id": "m1.pandas", "source": "p.md#d"}]
    assert e.raw_supported_share == 0.5 and e.supported_share == 1.0
    assert e.dropped == ["Pandas was invented on the moon. [2]"]


def test_explain_falls_back_to_quoting_the_notes() -> None:
    llm = FakeChatModel(replies=["Broadcasting is when pandas copies data to the GPU. It is slow."])
    e = explain(llm, "what is broadcasting", PASSAGES)
    assert e.extractive and e.raw_supported_share == 0.0 and e.supported_share == 1.0
    assert e.text.startswith("From the course notes: ") and "[1]" in e.text
    assert {"topic_id": "m1.numpy", "source": "n.md#b"} in e.citations


def test_explain_without_passages_does_not_guess() -> None:
    llm = FakeChatModel(replies=["Anything."])
    e = explain(llm, "what is life", [])
    assert e.citations == [] and e.extractive and not llm.calls


# --- hint ----------------------------------------------------------------------------------

EXERCISE = {
    "title": "Mean",
    "statement": "Write `mean(xs)` returning the average. Use no libraries.",
    "hint": "Divide the sum by the count.",
    "tests": [],
}


@pytest.mark.parametrize(
    "reply", ["```python\ndef mean(xs):\n    return sum(xs)/len(xs)\n```", "ok", "result = sum(xs)"]
)
def test_hint_never_passes_on_code_or_nothing(reply: str) -> None:
    out = hint(
        FakeChatModel(replies=[reply]), EXERCISE, [{"name": "empty list", "message": "ZeroDivisionError"}]
    )
    assert out == template_hint(EXERCISE, [{"name": "empty list", "message": "ZeroDivisionError"}])
    assert "empty list" in out and "Divide the sum by the count." in out and "def " not in out


def test_hint_refuses_full_solutions_politely() -> None:
    llm = FakeChatModel(replies=["Check what happens when the list is empty before dividing."])
    out = hint(llm, EXERCISE, [], wants_solution=True)
    assert out.startswith(REFUSAL) and "empty" in out


def test_hidden_test_messages_never_reach_the_model() -> None:
    llm = FakeChatModel(replies=["Check the edge case of the hidden test carefully please."])
    hint(llm, EXERCISE, [{"name": "secret", "message": "expected 4.25", "hidden": True}])
    assert "4.25" not in str(llm.calls[0][-1].content) and "secret" in str(llm.calls[0][-1].content)


# --- plans ---------------------------------------------------------------------------------

MASTERY = {"m1.numpy": 0.9}


def test_plan_prompt_floors_mastery_on_the_right_side_of_thresholds() -> None:
    text = plan_prompt({"m1.numpy": 0.79, "m1.pandas": 0.8, "m2.calculus": 0.29}, 1.5)
    assert "known: m1.pandas\n" in text and "m1.numpy=0.7" in text and "m2.calculus=0.2" in text


def test_plan_prompt_lists_topics_in_the_given_order() -> None:
    text = plan_prompt(
        {"m2.calculus": 0.9, "m1.numpy": 0.9, "m10.x": 0.9}, 1.0, order=["m2.calculus", "m1.numpy"]
    )
    assert "known: m2.calculus m1.numpy m10.x\n" in text


def test_plan_prompt_states_the_time_in_minutes_and_the_goals_path() -> None:
    text = plan_prompt({}, 1.5, ["m1.pandas"], path=["m1.numpy", "m1.pandas"])
    assert text.startswith("due: -\nminutes: 90\ngoal: m1.pandas\npath: m1.numpy m1.pandas\n")
    assert "path: -\n" in plan_prompt({}, 2.0)


def test_plan_prompt_puts_the_due_reviews_where_no_other_line_can_move_them() -> None:
    from tutor.llm.chat_format import PLAN_SYSTEM, render

    def due_offset(prompt: str) -> int:
        text = render([{"role": "system", "content": PLAN_SYSTEM}, {"role": "user", "content": prompt}])
        return text.index("due: m1.numpy m2.calculus\n")

    long_path = [f"m{k}.topic-{k}" for k in range(40)]
    few = plan_prompt({"m1.numpy": 0.9}, 1.0, [], ["m1.numpy", "m2.calculus"], path=["m1.pandas"])
    many = plan_prompt(
        {"m1.numpy": 0.9, "m1.pandas": 0.4}, 6.0, ["m8.gpt"], ["m1.numpy", "m2.calculus"], path=long_path
    )
    assert due_offset(few) == due_offset(many)


def test_the_served_plan_prompt_shows_what_is_left_to_learn_with_or_without_a_goal(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from curriculum.plan_reasons import goal_path
    from tutor.llm import tasks

    prompts: list[str] = []
    monkeypatch.setattr(tasks, "_ask", lambda llm, system, user, **kw: prompts.append(user) or "")
    mastery = {t: 0.9 for t in CATALOG.topological_order()[:3]}
    open_topics = [t for t in CATALOG.topological_order() if t not in mastery]
    gpt_plan(FakeChatModel(replies=[""]), CATALOG, mastery, 1.0)
    gpt_plan(FakeChatModel(replies=[""]), CATALOG, mastery, 1.0, ["m8.gpt"])
    path = goal_path(CATALOG, mastery, ["m8.gpt"])
    assert f"\ngoal: -\npath: {' '.join(open_topics)}\n" in prompts[0]
    assert f"\ngoal: m8.gpt\npath: {' '.join(path)}\n" in prompts[1] and len(path) < len(open_topics)


def test_plan_lines_can_count_the_minutes_left_which_the_learner_never_sees() -> None:
    items = [
        {"topic_id": "m1.pandas", "activity": "study", "minutes": 45, "reason": "new topic in module 1"},
        {"topic_id": "m2.calculus", "activity": "study", "minutes": 15},
    ]
    text = format_plan(items, budget=60)
    assert text == "m1.pandas study 45 | 15 left; new topic in module 1\nm2.calculus study 15 | 0 left"
    assert parse_plan(text) == items


def test_plan_lines_carry_an_optional_reason() -> None:
    items = [
        {"topic_id": "m1.pandas", "activity": "study", "minutes": 30, "reason": "new topic in module 1"},
        {"topic_id": "m2.calculus", "activity": "study", "minutes": 15},
    ]
    text = format_plan(items)
    assert text == "m1.pandas study 30 | new topic in module 1\nm2.calculus study 15"
    assert parse_plan(text) == items


def test_grammar_lets_the_model_write_a_reason_after_a_whole_line() -> None:
    for level in ("ids", "strict"):
        gr = PlanGrammar(CATALOG, MASTERY, 1.0, level=level)
        assert gr.parse("m1.pandas study 30 |") is not None
        assert gr.parse("m1.pandas study 30 | new topic in module 1") is not None
        assert gr.parse("m1.pandas study 30 | new topic in module 1\nm2.calc") is not None
        assert gr.parse("m1.pandas stu | x") is None  # a reason only after a whole line
        assert gr.parse("m1.pandas study 30 x") is None
        assert gr.parse("m1.pandas study 30 | " + "x" * 200) is None  # reasons are short
        assert gr.parse("m1.pandas study 30 | a\x1fb") is None  # printable text only
        assert gr.can_end("m1.pandas study 30 | new topic in module 1") == (level == "ids")
        assert not gr.can_end("m1.pandas study 30 | ")  # a separator promises a reason


def test_a_valid_model_plan_is_kept_and_attributed() -> None:
    rule = plan_lesson(CATALOG, MASTERY, 2.0)
    llm = FakeChatModel(replies=[format_plan(i.__dict__ for i in rule.items)])
    plan = gpt_plan(llm, CATALOG, MASTERY, 2.0)
    assert not plan["repaired"] and plan["repairs"] == [] and plan["model"] == "fake"
    assert plan["items"] == parse_plan(format_plan(i.__dict__ for i in rule.items))


@pytest.mark.parametrize(
    "reply", ["m8.gpt study 30", "m1.pandas study 500", "nonsense", "m1.pandas study 30\nm1.pandas study 30"]
)
def test_an_invalid_model_plan_is_repaired_and_marked(reply: str) -> None:
    plan = gpt_plan(FakeChatModel(replies=[reply]), CATALOG, MASTERY, 2.0)
    assert plan["repaired"] and plan["repairs"]
    assert validate_plan(CATALOG, plan["items"], MASTERY, 2.0) == [] and plan["items"]


def test_grammar_allows_only_real_ready_topics() -> None:
    gr = PlanGrammar(CATALOG, MASTERY, 1.0, due=["m1.numpy"], level="strict")
    assert gr.parse("m1.pan") is not None and gr.parse("m1.pandas prac") is not None
    assert gr.parse("m8.gpt") is None  # prerequisites not met
    assert (
        gr.parse("m1.numpy study") is None and gr.parse("m1.numpy review 15") is not None
    )  # mastered: review only
    assert gr.parse("m1.pandas study 61") is None and gr.parse("m1.pandas study 60") is not None
    assert gr.parse("m1.pandas study 30\nm1.pandas") is None  # no topic twice
    assert gr.can_end("m1.pandas study 50") and not gr.can_end("m1.pandas study")
    assert not gr.can_end("m1.pandas study 30")  # 30 of 60 minutes left open: keep planning
    assert not gr.can_end("") and not gr.can_end("m1.pandas study 50\n")
    ids = PlanGrammar(CATALOG, MASTERY, 1.0, level="ids")
    assert ids.parse("m8.gpt study 30") is not None and ids.parse("m9.nothing") is None


def test_the_ids_level_holds_each_topic_once_as_validation_counts_it() -> None:
    ids = PlanGrammar(CATALOG, MASTERY, 1.0, level="ids")
    assert ids.parse("m1.numpy review 15\nm1.numpy study 30") is not None  # a review, then study
    assert ids.parse("m1.numpy review 15\nm1.numpy review") is None
    assert ids.parse("m1.numpy study 15\nm1.numpy") is None


@pytest.fixture(scope="module")
def local_llm(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from tutor.llm import make_chat_model

    d = tiny_model_dir(
        tmp_path_factory.mktemp("plan") / "tiny", whole_words=sorted(CATALOG.topics), vocab=300
    )
    return make_chat_model("local", model_dir=d, device="cpu")


@pytest.mark.parametrize("hours", [0.5, 3.0])
def test_constrained_decoding_makes_even_a_random_model_write_a_valid_plan(local_llm, hours: float) -> None:  # type: ignore[no-untyped-def]
    mastery = {"m1.numpy": 0.9, "m1.pandas": 0.85, "m2.calculus": 0.4}
    plan = gpt_plan(
        local_llm, CATALOG, mastery, hours, due=["m1.numpy"], constraint="strict", max_new_tokens=2000
    )
    assert not plan["repaired"], plan["repairs"]
    assert plan["items"] and validate_plan(CATALOG, plan["items"], mastery, hours) == []
    assert plan["model"] == "tiny"
    if hours <= 1:  # the hours are filled (for long plans a random model's long random reasons
        # fill the tiny model's context first; ``can_end`` is tested on its own above)
        assert sum(i["minutes"] for i in plan["items"]) > hours * 60 - 15


def test_without_constraint_a_random_model_gets_repaired(local_llm) -> None:  # type: ignore[no-untyped-def]
    plan = gpt_plan(local_llm, CATALOG, MASTERY, 1.0, constraint="none", max_new_tokens=20)
    assert plan["repaired"] and validate_plan(CATALOG, plan["items"], MASTERY, 1.0) == []
