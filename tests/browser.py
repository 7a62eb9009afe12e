"""Headless Chromium (Debian's `chromium`, installed by scripts/test.sh) driven over the DevTools protocol: load a
local page, collect its console errors and uncaught exceptions, evaluate expressions in it, save a screenshot.

Every network request other than the page's own file is counted (`requests`): a self-contained page makes none.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", "--window-size=1280,2000"]


def available() -> bool:
    return Path(CHROMIUM).is_file() or shutil.which("chromium") is not None


@dataclass
class Loaded:
    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions
    requests: list[str] = field(default_factory=list)  # URLs the page asked for besides itself
    values: dict = field(default_factory=dict)  # expression -> its value in the page
    screenshot: Path | None = None


class _Session:
    def __init__(self, ws_url: str):
        import websocket  # websocket-client, a test dependency

        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(method)
            self.events.append(json.loads(self.ws.recv()))


def load(page: Path, profile: Path, expressions: list[str], screenshot: Path) -> Loaded:
    """Open `page` in a fresh Chromium with an empty profile folder; evaluate `expressions` once it has loaded."""
    profile.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and port_file.read_text().strip()):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("chromium did not start")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        s = _Session(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
        for domain in ("Runtime", "Log", "Page", "Network"):
            s.call(f"{domain}.enable")
        url = page.resolve().as_uri()
        s.call("Page.navigate", url=url)
        s.wait_for("Page.loadEventFired")
        out = Loaded()
        for e in expressions:
            got = s.call("Runtime.evaluate", expression=e, returnByValue=True)
            out.values[e] = got.get("result", {}).get("value")
        shot = s.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        out.screenshot = screenshot
        for ev in s.events:
            m, p = ev.get("method"), ev.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.errors.append(json.dumps(p.get("exceptionDetails", {}))[:500])
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.errors.append(json.dumps(p.get("args", []))[:500])
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.errors.append(p["entry"].get("text", "")[:500])
            elif m == "Network.requestWillBeSent" and p.get("request", {}).get("url") != url:
                out.requests.append(p["request"]["url"])
        s.ws.close()
        return out
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
