# Connects to the tutor's own port (__PORT__) on the host's loopback and to the internet.
import socket

REACHED = []
for host, port in (("127.0.0.1", __PORT__), ("10.0.2.2", __PORT__), ("pypi.org", 443), ("1.1.1.1", 53)):
    try:
        with socket.create_connection((host, port), timeout=1):
            REACHED.append((host, port))
    except OSError:
        pass


def gradient_descent(X, y, lr=0.01, epochs=1000):
    raise RuntimeError(f"reached: {REACHED}")
