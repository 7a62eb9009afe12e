"""The embedded server's child process: llama.cpp's OpenAI-compatible server that ends when its parent does.

Run as `python -m synthc.run._llama_child PARENT_PID SERVER_ARGS...`. A watchdog thread stops the server
when the parent is gone (even a `kill -9`'d build must not leave a server holding memory and a port).
The server reads every setting also from same-named environment variables (API_KEY, PORT, N_CTX...), so
those are cleared first: the command line alone decides.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import threading
import time


def _watch(parent: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)  # uvicorn shuts down on SIGTERM
            time.sleep(5)
            os._exit(1)


def main(argv: list[str]) -> None:
    parent, args = int(argv[0]), argv[1:]
    threading.Thread(target=_watch, args=(parent,), daemon=True).start()
    from llama_cpp.server.settings import Settings

    for name in list(os.environ):
        if name.lower() in Settings.model_fields or name.upper() in ("HOST", "PORT", "CONFIG_FILE"):
            del os.environ[name]
    sys.argv = ["llama_cpp.server", *args]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
