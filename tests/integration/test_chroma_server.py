"""The same indexing and hybrid retrieval through a real Chroma server (`chroma run`) on loopback."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from knowledge.index import NoteIndex
from knowledge.retriever import Retriever

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "sample_notes"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    exe = Path(sys.executable).with_name("chroma")
    if not exe.exists():
        found = shutil.which("chroma")
        assert found, "the `chroma` CLI of the installed chromadb package is missing"
        exe = Path(found)
    data = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    log = (data / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(exe), "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"chroma run exited: {(data / 'server.log').read_text()[-2000:]}"
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "chroma server did not answer its heartbeat in 60 s"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_index_and_search_through_the_server(chroma_url: str, tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    shutil.copytree(SAMPLES, notes)
    index = NoteIndex(notes, chroma_url=chroma_url)  # the real bundled MiniLM embedder
    summary = index.build(rebuild=True)
    assert (summary.chunks, summary.added, summary.removed) == (9, 9, 0)

    retriever = Retriever(index)
    top = retriever.search("my merge gave more rows than both tables", k=3)[0]
    assert (top.topic_id, top.heading) == ("t1.tables", "Tables > Merging tables")
    assert retriever.search("elbwo method", k=1, module="t2")[0].topic_id == "t2.clusters"

    # incremental against the server too: a second process sees the stored hashes
    again = NoteIndex(notes, chroma_url=chroma_url).build()
    assert (again.chunks, again.added, again.removed) == (9, 0, 0)
    (notes / "t1.arrays.md").unlink()
    assert NoteIndex(notes, chroma_url=chroma_url).build().removed == 3
    assert "t1.arrays" not in {p.topic_id for p in Retriever(index).search("broadcasting", k=10)}
