"""xAPI statements reach a real learning record store, Ralph (``make ralph`` installs it into
``.venv/ralph``: its pinned fastapi/uvicorn cannot share the tutor's venv), and wait in the outbox
while it is down.

A real Tutor (SQLite store, learner model, practice engine) records practice answers; its
background sender posts them to ``ralph runserver -b fs``; the test reads them back from Ralph's
``/xAPI/statements``. Ralph's ``fs`` backend stores only the first POST it gets in each LRS file,
so the restarted Ralph writes to a second file (``--fs-default-lrs-file``) in the same folder.
The statement as Ralph stored it goes to ``test-artifacts/xapi-example.json``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.served import REPO, free_port
from tutor.config import Settings
from tutor.service import Tutor
from tutor.usecases.xapi import VERBS, Outbox, make_sender

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RALPH = REPO / ".venv" / "ralph" / "bin" / "ralph"
USER, PASSWORD = "tutor", "lrs-secret"
BASE = "https://tutor.example.org/xapi"
ARTIFACTS = REPO / "test-artifacts"


class Ralph:
    """``ralph runserver`` on a loopback port, credentials in its own app dir."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/xAPI/"
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("RALPH_", "TUTOR_"))}
        self.env.update(RALPH_APP_DIR=str(root / "app"), RALPH_RUNSERVER_BACKEND="fs")
        subprocess.run([str(RALPH), "auth", "-u", USER, "-p", PASSWORD, "-s", "all",
                        "-M", "mailto:tutor@example.org", "-w"], env=self.env, cwd=root, check=True,
                       capture_output=True, timeout=60)  # fmt: skip

    def start(self, lrs_file: str) -> None:
        (self.root / "data").mkdir(exist_ok=True)
        log = open(self.root / f"{lrs_file}.log", "wb")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            [str(RALPH), "runserver", "-b", "fs", "--fs-default-directory-path", str(self.root / "data"),
             "--fs-default-lrs-file", lrs_file, "-h", "127.0.0.1", "-p", str(self.port)],
            env=self.env, cwd=self.root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "statements", auth=(USER, PASSWORD), timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("Ralph did not start:\n" + (self.root / f"{lrs_file}.log").read_text()[-3000:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)

    def statements(self, **params: str) -> list[dict[str, Any]]:
        r = httpx.get(self.url + "statements", params=params, auth=(USER, PASSWORD), timeout=5)
        r.raise_for_status()
        return list(r.json()["statements"])


@pytest.fixture
def ralph(tmp_path: Path) -> Iterator[Ralph]:
    if not RALPH.exists():
        pytest.fail(f"Ralph is missing at {RALPH}: run `make ralph` (make test does it)")
    (tmp_path / "ralph").mkdir()
    lrs = Ralph(tmp_path / "ralph")
    try:
        yield lrs
    finally:
        lrs.stop()


def wait_for(check: Any, timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    return check()


def test_statements_reach_ralph_and_wait_while_it_is_down(tmp_path: Path, ralph: Ralph) -> None:
    t0 = time.monotonic()
    ralph.start("first.jsonl")
    settings = Settings(data_dir=tmp_path / "var", xapi_url=ralph.url, xapi_username=USER,
                        xapi_password=PASSWORD, xapi_activity_base=BASE, llm_backend="fake")  # fmt: skip
    tutor = Tutor(settings)
    tutor.__dict__["xapi"] = make_sender(tutor, poll_s=0.3, base_delay_s=0.5, max_delay_s=2.0)
    tutor.start_background()
    try:
        items = [i for i in tutor.practice.items.values() if i.kind == "multiple_choice"][:2]
        agent = json.dumps({"account": {"homePage": BASE, "name": "ralph-ada"}})

        # 1. up: the answer's statement is in Ralph within moments, as sent
        t_answer = time.monotonic()
        tutor.practice.answer("ralph-ada", items[0].id, items[0].right_choice)
        got = wait_for(lambda: ralph.statements(agent=agent))
        assert len(got) == 1, got
        delivered_s = time.monotonic() - t_answer
        st = got[0]
        assert st["verb"]["id"] == VERBS["answered"]
        assert st["object"]["id"] == f"{BASE}/practice/{items[0].id}"
        assert st["result"]["success"] is True
        assert st["actor"]["account"] == {"homePage": BASE, "name": "ralph-ada"}
        assert Outbox(tutor.store).count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "xapi-example.json").write_text(json.dumps(st, indent=2) + "\n")

        # 2. down: the learner is answered at once, the statement waits in the outbox
        ralph.stop()
        t_down = time.monotonic()
        wrong = next(n for n, c in enumerate(items[1].choices) if not c.correct)
        out = tutor.practice.answer("ralph-ada", items[1].id, wrong)
        answer_s = time.monotonic() - t_down
        assert out.correct is False and answer_s < 2.0
        (waiting,) = Outbox(tutor.store).statements()
        time.sleep(1.5)  # a few failed tries
        assert Outbox(tutor.store).count() == 1

        # 3. back up: it arrives, and the outbox empties
        ralph.start("second.jsonl")
        got = wait_for(lambda: ralph.statements(statementId=waiting["id"]))
        assert len(got) == 1 and got[0]["result"]["success"] is False
        assert wait_for(lambda: Outbox(tutor.store).count() == 0, 5)
        print(f"\nxAPI: delivered {delivered_s:.2f}s after the answer; answered in {answer_s:.2f}s with "
              f"the LRS down; whole test {time.monotonic() - t0:.1f}s")  # fmt: skip
    finally:
        tutor.close()
