"""tools/_kernel_launcher.py outside a sandbox: a kernel that fails to start exits at once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

LAUNCHER = Path(__file__).resolve().parents[2] / "tools" / "_kernel_launcher.py"

# a live non-daemon thread (as the kernel's own are by then) and an IOPub thread that cannot start
_DRIVER = """
import runpy, sys, threading, time
threading.Thread(target=time.sleep, args=(60,)).start()
from ipykernel import iostream
def refuse(self):
    raise RuntimeError("can't start new thread")
iostream.IOPubThread.start = refuse
sys.argv = [sys.argv[1], "-f", sys.argv[2], "--HistoryManager.enabled=False"]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_a_kernel_that_cannot_start_exits_instead_of_hanging(tmp_path: Path) -> None:
    conn = tmp_path / "connection.json"
    conn.write_text(json.dumps({
        "transport": "ipc", "ip": str(tmp_path / "s"), "shell_port": 1, "iopub_port": 2, "stdin_port": 3,
        "control_port": 4, "hb_port": 5, "key": "k", "signature_scheme": "hmac-sha256", "kernel_name": "python3",
    }))  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", _DRIVER, str(LAUNCHER), str(conn)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=40)  # fmt: skip
    assert proc.returncode == 1
    assert "can't start new thread" in proc.stderr
