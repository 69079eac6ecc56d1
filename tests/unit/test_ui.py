"""The Gradio UI with fakes behind a real ``Tutor``: it builds with the intended concurrency and
API, and its handlers stream, stop, escape learner HTML, show plots, grade, plan and train."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from fastapi.testclient import TestClient

from knowledge.notes_format import Note
from tests.ui_helpers import CITATION, fake_tutor
from tutor.service import Tutor
from tutor.web.ui import _key_auth, build_ui
from tutor.web.ui.chat import ChatHandlers, render_reply
from tutor.web.ui.code import CodeHandlers, session_id
from tutor.web.ui.common import escape_md, learner_of, linkify_sources
from tutor.web.ui.learn import LearnHandlers, curriculum_html, level
from tutor.web.ui.notes import render_note_html
from tutor.web.ui.train import TrainHandlers, loss_frame


@pytest.fixture
def tutor(tmp_path: Path) -> Tutor:
    return fake_tutor(tmp_path / "var")


def _fns(ui: gr.Blocks) -> list[Any]:
    return list(ui.fns.values())


# --- the Blocks ---
def test_build_ui_sets_concurrency_and_named_api(tutor: Tutor) -> None:
    ui = build_ui(tutor)
    assert ui._queue.default_concurrency_limit == 16  # never Gradio's default of 1
    assert ui._queue.max_thread_count == ui.max_threads == 64
    fns = _fns(ui)
    named = {f.api_name for f in fns if f.api_visibility == "public"}
    assert {"ask", "search"} <= named
    chat = [f for f in fns if getattr(f.fn, "__name__", "") == "respond"]
    assert len(chat) == 2 and all(f.concurrency_limit == 24 and f.concurrency_id == "chat" for f in chat)
    grade = [f for f in fns if getattr(f.fn, "__name__", "") == "grade"]
    assert grade and grade[0].concurrency_id != "chat"  # grading never holds up chat
    chat_ids = {i for i, f in ui.fns.items() if getattr(f.fn, "__name__", "") == "respond"}
    cancellers = [f for f in fns if f.is_cancel_function]
    assert any(set(f.cancels) == chat_ids for f in cancellers)  # Stop cancels both ways of sending


def test_mounted_app_serves_notes_and_ui(tutor: Tutor) -> None:
    from app import create_app

    with TestClient(create_app(tutor.settings, tutor)) as client:
        page = client.get("/notes/m1.numpy")
        assert page.status_code == 200 and 'id="broadcasting-rules"' in page.text
        assert client.get("/notes/no.such-topic").status_code == 404
        assert client.get("/notes/..%2F..%2Fetc%2Fpasswd").status_code == 404
        assert client.get("/").status_code == 200
        assert client.get("/healthz").json() == {"status": "ok"}


def test_note_html_has_no_raw_html_and_numbers_repeated_anchors(tmp_path: Path) -> None:
    body = "# T\n\n## Examples\n\n<script>alert(1)</script>\n\n## Examples\n\ntext"
    note = Note("t.x", "T", "m1", [], body, tmp_path / "t.x.md", "h")
    out = render_note_html(note)
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert 'id="examples"' in out and 'id="examples-1"' in out


# --- safety helpers ---
@pytest.mark.parametrize(
    "text,expected",
    [
        ("<b>x</b>", "&lt;b&gt;x&lt;/b&gt;"),
        ("a `<b>` c", "a `<b>` c"),
        ("```html\n<script>\n```", "```html\n<script>\n```"),
        ("1 < 2 & `x<y`", "1 &lt; 2 &amp; `x<y`"),
    ],
)
def test_escape_md_escapes_html_outside_code(text: str, expected: str) -> None:
    assert escape_md(text) == expected


@pytest.mark.parametrize("name", ["", "a b", "x" * 129, "<script>"])
def test_learner_names_are_checked(name: str) -> None:
    with pytest.raises(Exception, match="name"):
        learner_of(name)


def test_key_auth_binds_keys_to_learners() -> None:
    check = _key_auth({"ak": "ada", "root": "admin"})
    assert check("ada", "ak") and check("bob", "root")
    assert not check("bob", "ak") and not check("ada", "nope") and not check("a b", "root")


def test_citations_become_note_links() -> None:
    text = render_reply("See <here>.", [CITATION], {"m1.numpy": "NumPy"})
    assert "&lt;here&gt;" in text
    assert "[NumPy › broadcasting rules](notes/m1.numpy#broadcasting-rules)" in text
    linked = linkify_sources("from knowledge/notes/m2.calculus.md#chain-rule.")
    assert "(notes/m2.calculus#chain-rule)" in linked


# --- chat ---
def test_chat_streams_tool_steps_tokens_and_citation(tutor: Tutor) -> None:
    h = ChatHandlers(tutor)
    outs = list(h.respond("show a plot of <b>x</b>", [], None, "ada"))
    assert len(outs) > 5  # streamed, not one final message
    first, last = outs[0][0], outs[-1][0]
    assert first[-1]["metadata"]["status"] == "pending"
    assert last[0] == {"role": "user", "content": "show a plot of &lt;b&gt;x&lt;/b&gt;"}
    steps = [m for m in last if m.get("metadata", {}).get("title", "").endswith(("search_notes", "run_code"))]
    assert [m["metadata"]["status"] for m in steps] == ["done", "done"]
    images = [m for m in last if isinstance(m["content"], dict)]
    assert len(images) == 1 and Path(images[0]["content"]["path"]).read_bytes()[:4] == b"\x89PNG"
    reply = last[-1]["content"]
    assert "notes/m1.numpy#broadcasting-rules" in reply and "echo for ada" in reply
    thread_id = outs[-1][2]
    assert thread_id and tutor.store.thread_owner(thread_id) == "ada"
    again = list(h.respond("more", last, thread_id, "ada"))[-1]
    assert again[2] == thread_id


def test_stop_closes_the_service_stream(tmp_path: Path) -> None:
    tutor = fake_tutor(tmp_path / "var", delay_s=0.01)
    h = ChatHandlers(tutor)
    gen = h.respond("a long question", [], None, "ada")
    for history, _box, _tid in gen:
        if history[-1]["content"] and not history[-1].get("metadata"):
            break  # the first tokens arrived
    gen.close()  # what Gradio does when Stop cancels the event
    assert len(tutor.conversations.closed) == 1
    stopped = h.stopped(history)
    assert stopped[-1]["content"].endswith("*(stopped)*")
    pending = [{"role": "assistant", "content": "", "metadata": {"title": "Thinking…", "status": "pending"}}]
    assert h.stopped(pending)[-1] == {"role": "assistant", "content": "*(stopped)*"}


def test_chat_errors_become_messages(tutor: Tutor) -> None:
    h = ChatHandlers(tutor)
    no_name = list(h.respond("hi", [], None, ""))[-1]
    assert "pick or type your name" in no_name[0][-1]["content"] and no_name[1] == "hi"  # message kept
    too_long = list(h.respond("x" * (tutor.settings.max_message_chars + 1), [], None, "ada"))[-1]
    assert "limit" in too_long[0][-1]["content"]
    assert list(h.respond("   ", [], None, "ada")) == [([], "", None)]


def test_threads_list_and_reopen_only_own(tutor: Tutor) -> None:
    h = ChatHandlers(tutor)
    tid = list(h.respond("first question", [], None, "ada"))[-1][2]
    listed = h.threads("ada", tid)
    assert listed["choices"] == [("first question", tid)] and listed["value"] == tid
    history, opened = h.open_thread(tid, "ada")
    assert opened == tid and [m["role"] for m in history] == ["user", "assistant"]
    with pytest.raises(gr.Error):
        h.open_thread(tid, "bob")


# --- code ---
def test_run_shows_text_and_plots_but_never_html(tutor: Tutor) -> None:
    h = CodeHandlers(tutor)
    status, stdout, stderr, plots = h.run("plt.plot([1, 2])", "ada", "tab1")
    assert "ok" in status and stdout == "<b>hello</b>" and stderr == ""
    assert (
        plots["visible"] and len(plots["value"]) == 1 and plots["value"][0].endswith(".png")
    )  # no text/html
    assert tutor.kernels.calls[-1][1] == session_id("ada", "tab1") == "ui.ada.tab1"
    status, _, stderr, plots = h.run("raise ValueError('boom')", "ada", "tab1")
    assert "error" in status and "Traceback" in stderr and "ValueError: boom" in stderr
    assert plots["visible"] is False
    assert "⚠" in h.run("", "ada", "tab1")[0]  # empty code is refused by the service
    h.reset("ada", "tab1")
    assert tutor.kernels.resets == ["ui.ada.tab1"]


def test_exercise_and_grade_record_the_attempt(tutor: Tutor) -> None:
    h = CodeHandlers(tutor)
    assert h.exercise_choices() == [("Numpy Mean (numpy-mean)", "numpy-mean")]
    statement, starter, tests = h.load_exercise("numpy-mean")
    assert "mean(xs)" in statement and "def mean" in starter and "assert mean" in tests
    verdict, rows, hint = h.grade("numpy-mean", "def mean(xs): pass", "ada")
    assert "Not yet" in verdict and rows[0][1] == "✗" and rows[1][0].startswith("(hidden)")
    assert rows[0][2] == "expected 2.0, got <None>"  # a text cell: shown literally, never as HTML
    assert "np.mean" in hint
    verdict, rows, hint = h.grade("numpy-mean", "def mean(xs): return 2.0", "ada")
    assert "Passed" in verdict and "100%" in verdict and hint == ""
    assert [a["passed"] for a in tutor.progress("ada")["attempts"]] == [False, True]
    assert "Pick an exercise" in h.grade(None, "x", "ada")[0]


# --- learn ---
def test_learn_view_colours_mastery_and_plans(tutor: Tutor) -> None:
    tutor.store.set_mastery("ada", "m1.numpy", 0.9)
    h = LearnHandlers(tutor)
    html, chart, due, plan_rows, plan_md = h.view("ada")
    assert "data-topic='m1.numpy'" in html and level(0.9)[1] in html and "↻" in html
    assert list(chart["module"])[:2] == ["m1", "m2"] and 0 < chart["mastery"].iloc[0] < 1
    assert "NumPy" in due and plan_rows == [] and "No plan yet" in plan_md
    rows, md = h.make_plan("ada", 2, "")
    assert rows[0] == ["NumPy", "study", 40, ""] and "&lt;fast&gt;" in md
    assert h.view("ada")[3] == rows  # the saved plan shows on the next visit
    assert "$" in h.note("m2.calculus") and "notes/m2.calculus" in h.note("m2.calculus")
    assert "⚠" in h.note("../secrets")


def test_curriculum_html_escapes_titles() -> None:
    cur = {
        "modules": [
            {
                "id": "m1",
                "title": "<i>M</i>",
                "phase": 1,
                "topics": [{"id": "t1", "title": "<script>", "prerequisites": []}],
            }
        ]
    }
    out = curriculum_html(cur, {}, [])
    assert "<script>" not in out and "&lt;script&gt;" in out and "<i>" not in out


# --- train ---
def test_train_submit_poll_cancel_and_models(tutor: Tutor) -> None:
    h = TrainHandlers(tutor)
    args = ("gpt", "notes", "", 50, 8, None, None, 1e-3, "iris", "logistic_regression", "{}")
    job_id, msg, timer = h.submit(*args, "ada")
    assert job_id and job_id in msg and tutor.jobs.jobs[job_id]["params"]["max_steps"] == 50
    bar, loss, summary, picker, rows, timer = h.poll(job_id, "ada")
    assert (
        "running" in bar
        and job_id in summary
        and picker["value"] == job_id
        and rows[0][:3] == [job_id, "gpt", "running"]
    )
    assert timer.active is True and str(loss["loss"].dtype) == "float64"
    assert "another learner" in h.cancel(job_id, "bob")
    assert "cancelled" in h.cancel(job_id, "ada")
    assert h.poll(job_id, "ada")[5].active is False  # nothing runs: the timer stops
    bad = h.submit("sklearn", *args[1:10], "{not json", "ada")
    assert bad[0] is None and "JSON" in bad[1]
    rows, use_pick, _base = h.models()
    assert rows[0][0] == "tutor-gpt" and rows[0][1] == "✓" and use_pick["value"] == "tutor-gpt"
    assert "m2" in h.use_model("m2") and tutor.registry.active() == "m2"
    assert "⚠" in h.use_model("nope")


def test_loss_frame_is_typed_even_when_empty() -> None:
    empty = loss_frame(None)
    assert list(empty.columns) == ["step", "loss", "series"] and str(empty["loss"].dtype) == "float64"
    job = {"metrics": {"history": [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5, "val_loss": 1.7}]}}
    assert loss_frame(job)["series"].tolist() == ["train", "train", "val"]


def test_with_api_keys_the_ui_needs_a_login_bound_to_the_learner(tmp_path: Path) -> None:
    from app import create_app

    tutor = fake_tutor(tmp_path / "var", api_keys="ak:ada,root:admin")
    with TestClient(create_app(tutor.settings, tutor)) as client:
        assert client.get("/config").status_code == 401  # the UI's config and events need a login
        assert client.post("/login", data={"username": "bob", "password": "ak"}).status_code == 400
        assert client.post("/login", data={"username": "ada", "password": "ak"}).status_code == 200
        assert client.get("/config").status_code == 200


def test_a_logged_in_learner_acts_as_themselves() -> None:
    class Req:
        username = "ada"

    assert learner_of("bob", Req()) == "ada"  # type: ignore[arg-type]  # the picker cannot switch learner


def test_train_tab_gpt_form_works_with_its_own_defaults(tmp_path: Path) -> None:
    """Empty layer/width boxes arrive as 0 and mean "default"; they only apply from scratch."""
    from tutor.web.ui.train import TrainHandlers

    tutor = fake_tutor(tmp_path / "var")
    job_id, message, _ = TrainHandlers(tutor).submit(
        "gpt", "notes", "", 50, 8, 0, 0, 1e-3, "", "", "{}", "ada"
    )
    assert job_id and "Queued" in message
    assert "n_layer" not in tutor.jobs.jobs[job_id]["params"]
    job_id, _, _ = TrainHandlers(tutor).submit(
        "gpt", "notes", "scratch", 50, 8, 2, 64, None, "", "", "{}", "ada"
    )
    assert {"n_layer": 2, "n_embd": 64}.items() <= tutor.jobs.jobs[job_id]["params"].items()
