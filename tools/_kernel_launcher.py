"""Runs INSIDE a kernel sandbox instead of ``python -m ipykernel_launcher``; never imported by
the tutor (it is bound read-only into the sandbox as a single file).

The sandbox's seccomp filter (``tools.seccomp``) refuses every socket that is not AF_UNIX, but
ipykernel binds one TCP socket on 127.0.0.1 of its own: the IOPub "pipe" that carries the
output of ``fork()``-ed children (``multiprocessing``) back to the kernel, and libzmq aborts
the whole process when it cannot list the network interfaces for it. This launcher moves that
pipe onto an ipc socket (AF_UNIX) in the sandbox's private ``/tmp`` and then starts the kernel
exactly as ``ipykernel_launcher`` does. The kernel's own five sockets are ipc already (see
``tools._kernel_process``).
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any


def _ipc_pipe() -> None:
    import zmq
    from ipykernel import iostream
    from zmq.eventloop.zmqstream import ZMQStream

    thread_cls: Any = iostream.IOPubThread
    if not (hasattr(thread_cls, "_setup_pipe_in") and hasattr(thread_cls, "_setup_pipe_out")):
        raise RuntimeError("this ipykernel has no IOPub pipe to move (update tools/_kernel_launcher.py)")

    def setup_pipe_in(self: Any) -> None:
        self._pipe_uuid = os.urandom(16)
        self._pipe_addr = f"ipc:///tmp/.iopub-pipe-{os.getpid()}-{os.urandom(6).hex()}"
        pipe_in = self.socket.context.socket(zmq.PULL)
        pipe_in.linger = 0
        pipe_in.bind(self._pipe_addr)
        self._pipe_in = ZMQStream(pipe_in, self.io_loop)
        self._pipe_in.on_recv(self._handle_pipe_msg)

    def setup_pipe_out(self: Any) -> tuple[Any, Any]:
        ctx = zmq.Context()  # a new context after fork, as ipykernel does
        pipe_out = ctx.socket(zmq.PUSH)
        pipe_out.linger = 3000
        pipe_out.connect(self._pipe_addr)
        return ctx, pipe_out

    thread_cls._setup_pipe_in = setup_pipe_in
    thread_cls._setup_pipe_out = setup_pipe_out


def main() -> None:
    if sys.path and (sys.path[0] in ("", os.getcwd()) or sys.path[0] == os.path.dirname(__file__)):
        del sys.path[0]  # neither the work dir nor this file's dir shadows installed modules
    _ipc_pipe()
    from ipykernel import kernelapp

    try:
        kernelapp.launch_new_instance()
    except Exception:
        # a kernel that fails (e.g. no thread left under RLIMIT_NPROC) exits now: the threads it
        # already started would keep the process alive, and the tutor waiting for its answer
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)


if __name__ == "__main__":
    main()
