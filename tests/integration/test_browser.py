"""The served UI in Debian's Chromium, driven by Playwright: ask a question and get a streamed
answer with a citation link, run code and see the plot, grade an exercise, start and cancel a
small training job. On failure a screenshot and the page's console go to ``test-artifacts/``.

Chromium comes from apt (``/usr/bin/chromium``; the Makefile installs it): Playwright's own
browser download does not work here. The page never reaches "network idle" (Gradio keeps a
connection open), so the test waits for ``load`` and then for the element it needs.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.served import REPO, ServedTutor, served_tutor  # noqa: F401 - the fixture

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "test-artifacts"
PLOT_CODE = "import matplotlib.pyplot as plt\nplt.plot([0, 1, 4, 9])\nplt.title('squares')\nplt.show()\nprint('plotted')\n"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.fail("chromium is missing: `apt-get install -y chromium` (make test does it as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, served_tutor: ServedTutor, request: pytest.FixtureRequest) -> Iterator[Any]:  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    console: list[str] = []
    pg.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    pg.goto(served_tutor.url + "/", wait_until="load")
    pg.wait_for_selector("#chat-input textarea")
    failed = request.session.testsfailed
    yield pg
    if request.session.testsfailed > failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = request.node.name
        pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        (ARTIFACTS / f"{name}.console.txt").write_text("\n".join(console))
        (ARTIFACTS / f"{name}.serve.log").write_text(served_tutor.log_tail(20_000))
    context.close()


def pick_learner(pg: Any, name: str) -> None:
    box = pg.locator("#learner input")
    box.click()
    box.fill(name)
    box.press("Enter")
    pg.wait_for_function("n => document.querySelector('#learner input').value === n", arg=name)


def open_tab(pg: Any, name: str) -> None:
    pg.get_by_role("tab", name=name).click()


def test_chat_streams_an_answer_with_a_citation(page: Any) -> None:
    pick_learner(page, "browser-ada")
    box = page.locator("#chat-input textarea")
    box.fill("What are the broadcasting rules?")
    box.press("Enter")
    link = page.locator("#chatbot a[href*='notes/t1.arrays']").first
    link.wait_for(timeout=120_000)  # the first answer loads the embedding model and builds the index
    assert "explain" in page.locator("#chatbot").inner_text()  # the tool call, as a step
    # the answer came from the authored card: its maths is rendered by KaTeX, its code as a code block
    page.locator("#chatbot .katex").first.wait_for(timeout=30_000)
    assert page.locator("#chatbot pre code").filter(has_text="np.arange(3)").count() >= 1
    chat_text = page.locator("#chatbot").inner_text()
    assert "Check yourself" in chat_text and "$(3, 1)$" not in chat_text  # no raw TeX delimiters shown
    href = link.get_attribute("href")
    note = page.request.get(page.url.rstrip("/") + "/" + href.lstrip("/").split("#")[0])
    assert note.ok and "Broadcasting" in note.text()
    page.locator("#threads").wait_for()
    assert "broadcasting" in page.locator("#threads input").input_value().lower()


def test_a_newcomer_types_a_question_and_presses_enter_at_once(page: Any) -> None:
    """No name picked: the newcomer is a guest; the box is editable only once the app is ready,
    so Enter pressed as soon as it can be typed into is never lost."""
    box = page.locator("#chat-input textarea")
    box.fill("What are the broadcasting rules?")  # waits until the box is editable, then types
    box.press("Enter")
    page.locator("#chatbot a[href*='notes/t1.arrays']").first.wait_for(timeout=120_000)
    assert "pick or type your name" not in page.locator("body").inner_text()
    assert page.locator("#learner input").input_value().startswith("guest-")


def test_run_code_shows_the_plot_then_grade(page: Any) -> None:
    pick_learner(page, "browser-bea")
    open_tab(page, "Code")
    editor = page.locator("#editor .cm-content")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(PLOT_CODE)
    page.locator("#run").click()
    page.locator("#plots img").first.wait_for(timeout=90_000)
    assert "ok" in page.locator("#run-status").inner_text()
    assert "plotted" in page.locator("#stdout textarea").input_value()

    page.locator("#exercise input").click()
    page.get_by_role("option", name="(pca)").first.click()
    page.wait_for_function("() => document.querySelector('#statement').innerText.includes('pca(')")
    page.locator("#grade").click()
    page.wait_for_function(
        "() => /Passed|Not yet/.test(document.querySelector('#verdict').innerText)", timeout=120_000
    )
    assert "Not yet" in page.locator("#verdict").inner_text()  # the starter code does not solve it
    assert page.locator("#tests tbody tr").count() >= 1


def test_start_and_cancel_a_training_job(page: Any) -> None:
    pick_learner(page, "browser-cy")
    open_tab(page, "Train")
    page.locator("#start-job").click()  # sklearn on the first bundled dataset: small
    page.wait_for_function("() => /queued|running/.test(document.querySelector('#job-progress').innerText)")
    page.locator("#cancel-job").click()
    page.wait_for_function(
        "() => /cancelled/.test(document.querySelector('#job-progress').innerText)", timeout=60_000
    )
    assert "cancelled" in page.locator("#job-msg").inner_text()
