"""The Teach tab in the browser (the Playwright set-up of test_browser.py): two learners answer
practice questions over the API of the served tutor, then the tab shows the mastery heatmap, the
practice items with their pass rates, the learners and a CSV download. The screenshot goes to
``test-artifacts/teach-tab.png``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.test_browser import ARTIFACTS, browser, open_tab, page  # noqa: F401 - fixtures
from tests.served import ServedTutor, served_tutor  # noqa: F401 - the fixture

pytestmark = [pytest.mark.integration, pytest.mark.slow]


TOPICS = ("m1.numpy", "m1.pandas", "m2.linear-algebra", "m3.eda")
LEARNERS = {"teach-ann": (0, 1, 0), "teach-ben": (1, 1, 2), "teach-cy": (0, 0, 0)}


def seed(url: str) -> list[str]:
    """Practice answers of three learners on a few topics' multiple-choice items (fast: no
    sandbox); returns the items answered."""
    answered = []
    for topic in TOPICS:
        items = httpx.get(f"{url}/api/topics/{topic}/practice", timeout=30).json()["items"]
        mc = [i["id"] for i in items if i["kind"] == "multiple_choice"][:3]
        answered += mc
        for learner, choices in LEARNERS.items():
            for item_id, choice in zip(mc, choices, strict=False):
                r = httpx.post(f"{url}/api/practice/{item_id}/answer",
                               json={"learner_id": learner, "answer": choice}, timeout=60)  # fmt: skip
                assert r.status_code == 200, r.text
    return answered


def test_teach_tab_shows_the_cohort(page: Any, served_tutor: ServedTutor) -> None:  # noqa: F811
    mc = seed(served_tutor.url)
    open_tab(page, "Teach")
    page.wait_for_function(
        "() => /learners/.test(document.querySelector('#teach-msg').innerText)", timeout=60_000
    )
    page.locator("#teach-heatmap img").first.wait_for(timeout=30_000)
    practice = page.locator("#teach-practice").inner_text()
    assert mc[0] in practice, practice
    learners = page.locator("#teach-learners").inner_text()
    assert all(name in learners for name in LEARNERS)
    page.locator("#teach-csv").wait_for(state="visible")
    with page.expect_download() as dl:
        page.locator("#teach-csv").click()
    csv_text = open(dl.value.path(), encoding="utf-8").read()
    assert csv_text.startswith("section,learner_id,topic_id,item_id") and "teach-ben" in csv_text
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "teach-tab.png"), full_page=True)
