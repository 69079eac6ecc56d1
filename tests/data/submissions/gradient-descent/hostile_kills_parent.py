# Tries to kill its parent, the grader (pid __PID__ on the host) and every process it can signal,
# then itself.
import os
import signal

for pid in (os.getppid(), 1, __PID__, -1):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
os.kill(os.getpid(), signal.SIGKILL)
