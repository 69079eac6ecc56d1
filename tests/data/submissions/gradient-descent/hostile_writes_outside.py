# Tries to write outside its work dir: the host path __HOST_DIR__, the venv, /usr, /etc.
import sys

WROTE = []
for path in (
    "__HOST_DIR__/pwned.txt",
    sys.prefix + "/pwned.txt",
    "/usr/pwned.txt",
    "/etc/pwned.txt",
    "../pwned.txt",
):
    try:
        with open(path, "w") as f:
            f.write("pwned")
        WROTE.append(path)
    except OSError:
        pass


def gradient_descent(X, y, lr=0.01, epochs=1000):
    raise RuntimeError(f"wrote: {WROTE}")
