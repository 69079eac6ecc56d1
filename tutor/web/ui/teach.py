"""The Teach tab: every learner at once (``tutor.usecases.cohort``). A heatmap of learners x
topics by mastery (matplotlib, as the run outputs are), the pass rate of the hardest exercises and
practice items, tables of items with their most common failures, learners who are stuck, reviews
due per learner, and a CSV download of all of it.

Who sees it: without API keys (local single-user mode, loopback) everyone, like the rest of the
UI; with keys, a login made with a teacher key (``KEY:teacher``) or an admin key under a name that
is not a learner's (learner logins get a message instead of data). A teacher login only reads: it
cannot act as a learner in the other tabs (``ui_common.learner_of``).
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from tutor.errors import TutorError
from tutor.usecases.cohort import Cohort, cohort
from tutor.web.ui.common import error_text

log = logging.getLogger(__name__)

CSV_DIR = Path(tempfile.gettempdir()) / "tutor-ui-teach"  # Gradio serves files under the temp dir
KEEP_CSV = 50
BARS = 20  # hardest exercises / items shown in the pass-rate chart
ITEM_WIDTHS: list[str | int] = ["20%", "13%", "11%", "8%", "8%", "8%", "32%"]
ITEM_HEADERS = ["item", "topic", "kind", "attempts", "learners", "pass rate", "most common failures"]
STUCK_HEADERS = ["learner", "topic", "failed tries", "last success", "last try"]
DUE_HEADERS = ["learner", "topic", "due since"]
LEARNER_HEADERS = ["learner", "attempts", "passed", "answers", "correct", "mean mastery", "mastered", "due", "last active"]  # fmt: skip
NO_ACCESS = (
    "The Teach tab shows every learner's progress. Sign in with a **teacher key** (`KEY:teacher` in "
    "`TUTOR_API_KEYS`) or an admin key, under a name that is not a learner's."
)


def learner_key_names(keys: dict[str, str]) -> set[str]:
    return {who for who in keys.values() if who not in ("admin", "teacher")}


def may_see(tutor: Any, request: gr.Request | None) -> bool:
    """Everyone without keys (loopback only); with keys, teacher and admin logins."""
    keys = tutor.settings.api_key_map
    if not keys:
        return True
    user = getattr(request, "username", None) if request is not None else None
    return bool(user) and user not in learner_key_names(keys)


def heatmap(c: Cohort) -> Any:
    """Learners x topics coloured by mastery (grey: no graded work); None without data."""
    if not c.mastery or not c.topics:
        return None
    import numpy as np
    from matplotlib.figure import Figure  # not pyplot: no global figure to leak

    learners = list(c.mastery)
    grid = np.array([[c.mastery[lid].get(t.id, np.nan) for t in c.topics] for lid in learners], dtype=float)
    width = min(18.0, max(6.0, 0.42 * len(c.topics) + 3.0))
    height = min(14.0, max(2.6, 0.32 * len(learners) + 1.8))
    fig = Figure(figsize=(width, height), dpi=90, layout="constrained")
    ax = fig.add_subplot()
    cmap = _cmap()
    im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(c.topics)), [t.id for t in c.topics], rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(learners)), learners, fontsize=8)
    ax.set_title("Mastery by learner and topic (grey: no graded work)", fontsize=10)
    fig.colorbar(im, ax=ax, label="mastery", fraction=0.04)
    return fig


def _cmap() -> Any:
    from matplotlib import colormaps

    return colormaps["RdYlGn"].with_extremes(bad="#d9dde3")


def pass_rates(c: Cohort) -> pd.DataFrame:
    """The hardest exercises and practice items (lowest pass rate first) for the bar chart."""
    stats = sorted(c.exercises + c.practice, key=lambda s: (s.pass_rate, -s.attempts, s.item_id))[:BARS]
    rows = [{"item": s.item_id, "pass rate": s.pass_rate, "kind": "exercise" if s.kind == "exercise" else "practice",
             "attempts": s.attempts, "title": s.title} for s in stats]  # fmt: skip
    return pd.DataFrame(rows, columns=["item", "pass rate", "kind", "attempts", "title"])


def item_rows(stats: list[Any]) -> list[list[Any]]:
    return [[s.item_id, s.topic_id, s.kind, s.attempts, s.learners, f"{s.pass_rate:.0%}",
             "; ".join(f"{f.label} ({f.count})" for f in s.failures)] for s in stats]  # fmt: skip


def write_csv(c: Cohort) -> str:
    CSV_DIR.mkdir(parents=True, exist_ok=True)
    path = CSV_DIR / f"cohort-{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns() % 10**6}.csv"
    path.write_text(c.to_csv(), encoding="utf-8")
    old = sorted(CSV_DIR.glob("cohort-*.csv"), key=lambda p: p.stat().st_mtime)[:-KEEP_CSV]
    for p in old:
        p.unlink(missing_ok=True)
    return str(path)


class TeachHandlers:
    def __init__(self, tutor: Any) -> None:
        self.tutor = tutor

    def view(self, stuck_days: float | None, min_failures: float | None, request: gr.Request | None = None) -> tuple[Any, ...]:  # fmt: skip
        """(message, heatmap, pass-rate frame, exercises, practice, stuck, due, learners, CSV file)."""
        empty: tuple[Any, ...] = (
            None,
            pass_rates(_EMPTY),
            [],
            [],
            [],
            [],
            [],
            gr.update(value=None, visible=False),
        )
        if not may_see(self.tutor, request):
            return (NO_ACCESS, *empty)
        try:
            c = cohort(self.tutor, stuck_days=float(stuck_days if stuck_days is not None else 7),
                       min_failures=int(min_failures or 3))  # fmt: skip
        except (TutorError, ValueError) as e:
            return (f"⚠ {error_text(e)}", *empty)
        stuck = [
            [k.learner_id, k.topic_id, k.failures, k.last_success or "never", k.last_try] for k in c.stuck
        ]
        due = [[s.learner_id, d.topic_id, d.due] for s in c.learners for d in s.due]
        summary = [[s.learner_id, s.attempts, s.passed, s.answers, s.correct,
                    "" if s.mean_mastery is None else f"{s.mean_mastery:.0%}", s.topics_mastered, len(s.due),
                    s.last_active or ""] for s in c.learners]  # fmt: skip
        msg = (f"**{len(c.learners)} learners** · {len(c.exercises)} exercises and {len(c.practice)} practice "
               f"items tried · **{len(c.stuck)} stuck** (≥ {c.min_failures} failed tries on a topic, no success "
               f"in {c.stuck_days:g} days) · {len(due)} reviews due · as of {c.generated}")  # fmt: skip
        csv_file = gr.update(value=write_csv(c), visible=True)
        return (msg, heatmap(c), pass_rates(c), item_rows(c.exercises), item_rows(c.practice), stuck, due,
                summary, csv_file)  # fmt: skip


_EMPTY = Cohort("", 7.0, 3, [], [], {}, [], [], [])


def build_teach_tab(tutor: Any) -> dict[str, Any]:
    h = TeachHandlers(tutor)
    msg = gr.Markdown("Open this tab to see every learner.", elem_id="teach-msg")
    with gr.Row(equal_height=False):
        days = gr.Number(
            7, label="Stuck: days without a success", minimum=0, maximum=365, precision=1, min_width=160
        )
        fails = gr.Number(
            3, label="Stuck: failed tries in a row", minimum=1, maximum=100, precision=0, min_width=160
        )
        with gr.Column(scale=0, min_width=160):
            refresh = gr.Button("Refresh", size="sm", elem_id="teach-refresh")
            csv_btn = gr.DownloadButton("Download CSV", visible=False, size="sm", elem_id="teach-csv")
    heat = gr.Plot(label="Mastery heatmap", elem_id="teach-heatmap", format="png")
    bars = gr.BarPlot(
        None,
        x="item",
        y="pass rate",
        color="kind",
        y_lim=[0, 1],
        title=f"Pass rate of the {BARS} hardest exercises and practice items",
        tooltip=["title", "pass rate", "attempts"],
        sort="y",  # hardest first
        x_label_angle=-35,
        height=320,
        elem_id="teach-pass-rates",
    )
    with gr.Row(equal_height=False):
        with gr.Column(min_width=300):
            gr.Markdown("#### Stuck learners")
            stuck = gr.Dataframe(headers=STUCK_HEADERS, datatype="str", interactive=False, column_count=len(STUCK_HEADERS), elem_id="teach-stuck")  # fmt: skip
        with gr.Column(min_width=300):
            gr.Markdown("#### Reviews due")
            due = gr.Dataframe(headers=DUE_HEADERS, datatype="str", interactive=False, column_count=len(DUE_HEADERS), elem_id="teach-due")  # fmt: skip
    gr.Markdown("#### Exercises (hardest first)")
    exercises = gr.Dataframe(headers=ITEM_HEADERS, datatype="str", interactive=False, column_count=len(ITEM_HEADERS), column_widths=ITEM_WIDTHS, wrap=True, elem_id="teach-exercises")  # fmt: skip
    gr.Markdown("#### Practice items (hardest first)")
    practice = gr.Dataframe(headers=ITEM_HEADERS, datatype="str", interactive=False, column_count=len(ITEM_HEADERS), column_widths=ITEM_WIDTHS, wrap=True, elem_id="teach-practice")  # fmt: skip
    gr.Markdown("#### Learners")
    learners = gr.Dataframe(headers=LEARNER_HEADERS, datatype="str", interactive=False, column_count=len(LEARNER_HEADERS), elem_id="teach-learners")  # fmt: skip
    outs = [msg, heat, bars, exercises, practice, stuck, due, learners, csv_btn]
    refresh.click(h.view, [days, fails], outs, api_visibility="private")
    return {"view": (h.view, [days, fails], outs), "handlers": h}
