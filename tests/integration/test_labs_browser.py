"""A guided lab end to end in the browser (the Playwright set-up of test_browser.py): open the
Labs picker in the Code tab, pick a lab, check step 1 with working code (passes, in the learner's
real sandboxed kernel), then check step 2's untouched starter (does not pass, with a message),
and see the progress saved."""

from __future__ import annotations

from typing import Any

import pytest

from curriculum.labs.selfcheck import load_solution
from tests.integration.test_browser import browser, open_tab, page, pick_learner  # noqa: F401 - fixtures
from tests.served import served_tutor  # noqa: F401 - the fixture

pytestmark = [pytest.mark.integration, pytest.mark.slow]
LAB = "gradient-descent-attention"


def set_editor(pg: Any, code: str) -> None:
    editor = pg.locator("#editor .cm-content")
    editor.click()
    pg.keyboard.press("Control+A")
    pg.keyboard.press("Delete")
    pg.keyboard.insert_text(code)


def test_open_a_lab_check_two_steps_one_passes(page: Any) -> None:  # noqa: F811
    pick_learner(page, "browser-lab")
    open_tab(page, "Code")
    page.get_by_text("Labs: guided, checked practicals").click()
    page.locator("#lab input").click()
    page.get_by_role("option", name="Gradient descent by hand").first.click()
    page.wait_for_function("() => document.querySelector('#lab-text').innerText.includes('Step 1 of 6')")
    page.wait_for_function("() => document.querySelector('#editor').innerText.includes('TODO')")

    set_editor(page, load_solution(LAB)["design-matrix"])
    page.locator("#lab-check").click()
    page.wait_for_function(
        "() => /Step passed|Not yet/.test(document.querySelector('#lab-verdict').innerText)", timeout=120_000
    )
    assert "Step passed" in page.locator("#lab-verdict").inner_text(), page.locator(
        "#lab-verdict"
    ).inner_text()
    assert "1/6" in page.locator("#lab-progress").inner_text()

    page.locator("#lab-step input").click()
    page.get_by_role("option", name="The loss and its gradient").first.click()
    page.wait_for_function("() => document.querySelector('#lab-text').innerText.includes('Step 2 of 6')")
    page.wait_for_function("() => document.querySelector('#editor').innerText.includes('def mse')")
    page.locator("#lab-check").click()  # the starter as it is: runs, but the check does not pass
    page.wait_for_function(
        "() => /Not yet/.test(document.querySelector('#lab-verdict').innerText)", timeout=120_000
    )
    verdict = page.locator("#lab-verdict").inner_text()
    assert "mse" in verdict, verdict
    assert "1/6" in page.locator("#lab-progress").inner_text()
