"""The Train tab's loss chart in a real browser: a learner opened the tab, picked a finished GPT
job, and saw axes but no lines (the chart kept the colour domain of the empty chart it first drew,
and Vega gives a series outside it no stroke). Here both lines must be drawn with a stroke.

A finished job is written straight into the served tutor's database (as its worker would leave
it), so no training runs here."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert

from storage.store import Store, jobs, now_iso
from tests.integration.test_browser import ARTIFACTS, browser, open_tab, page, pick_learner  # noqa: F401 - fixtures
from tests.served import ServedTutor, served_tutor  # noqa: F401 - the fixture

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LEARNER = "browser-loss"
HISTORY = [
    {
        "step": s,
        "loss": round(4.0 - 0.05 * s, 4),
        **({"val_loss": round(4.1 - 0.05 * s, 4)} if s % 20 == 0 else {}),
    }
    for s in range(10, 61, 10)
]

# the stroked line paths Vega drew in the chart, one per series: [[stroke, path length], ...]
STROKED_LINES = """() => [...document.querySelectorAll('#loss-plot g.mark-line path')]
    .map(p => [p.getAttribute('stroke'), p.getTotalLength()])
    .filter(([stroke, length]) => stroke && stroke !== 'none' && stroke !== 'transparent' && length > 0)"""


def finished_job(served: ServedTutor) -> str:
    """A succeeded GPT job of LEARNER, inserted as one row (a ``queued`` row could be claimed
    by the served job manager before it is marked done)."""
    store = Store(f"sqlite:///{served.data_dir / 'tutor.db'}")  # the served tutor's default database
    job_id, ts = "gpt-browserloss1", now_iso()
    with store.engine.begin() as conn:
        conn.execute(
            insert(jobs).values(
                id=job_id,
                kind="gpt",
                params={"data": "notes", "max_steps": 60},
                learner_id=LEARNER,
                status="succeeded",
                progress=1.0,
                metrics={"history": HISTORY, "val_loss": HISTORY[-1]["val_loss"]},
                artifacts=[],
                created=ts,
                updated=ts,
            )
        )
    return job_id


def test_a_finished_jobs_chart_draws_train_and_val_lines(page: Any, served_tutor: ServedTutor) -> None:  # noqa: F811
    job_id = finished_job(served_tutor)
    pick_learner(page, LEARNER)
    open_tab(page, "Train")  # the chart is drawn empty first, before any job is picked
    page.locator("#loss-plot").wait_for(state="visible")
    page.locator("#job-picker input").click()
    page.get_by_role("option", name=job_id, exact=False).first.click()
    page.wait_for_function(
        "() => /succeeded/.test(document.querySelector('#job-progress').innerText)", timeout=30_000
    )
    page.wait_for_function(f"() => ({STROKED_LINES})().length >= 2", timeout=30_000)
    lines = page.evaluate(STROKED_LINES)
    assert len(lines) == 2 and len({stroke for stroke, _ in lines}) == 2, lines  # two colours
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#loss-plot").screenshot(path=str(ARTIFACTS / "train-loss-chart.png"))
