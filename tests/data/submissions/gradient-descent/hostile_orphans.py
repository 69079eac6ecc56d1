# Leaves processes behind: a setsid'd double fork and a fork bomb of sleepers (marker __MARKER__).
import os
import subprocess
import sys

SLEEP = [sys.executable, "-c", "import time; time.sleep(1000)", "__MARKER__"]
subprocess.Popen(SLEEP, start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, SLEEP)
    os._exit(0)
forks = 0
try:
    while True:  # a fork bomb, kept from growing by RLIMIT_NPROC
        if os.fork() == 0:
            os.execv(sys.executable, SLEEP)
        forks += 1
except OSError as e:
    ERROR = f"fork failed after {forks} forks: {type(e).__name__}"


def gradient_descent(X, y, lr=0.01, epochs=1000):
    raise RuntimeError(ERROR)
