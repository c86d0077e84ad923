"""The review report in a real headless browser (Debian's chromium at /usr/bin/chromium).

A tiny Chrome DevTools Protocol client (stdlib only: a socket speaking WebSocket) loads the
report and checks that it logs no console error or exception, fetches nothing from the
network, and shows every machine's section with its diagram; a full-page screenshot is kept
under the test's tmp dir and in artifacts/ (git-ignored).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from authspec.diagrams.overlay import Coverage
from authspec.diagrams.render import dot_available
from authspec.diagrams.report import report_html
from authspec.model import load

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium"
                                        if Path("/usr/bin/chromium").exists() else None)
REPO = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                       "(/usr/bin/chromium; `apt-get install chromium`, as the Makefile does)"),
    pytest.mark.skipif(not dot_available(), reason="Graphviz's dot is not installed"),
]


class WebSocket:
    """Just enough of RFC 6455 for CDP: text frames, client masking, fragmented replies."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        match = re.match(r"ws://([^/:]+):(\d+)(/.*)", url)
        assert match, url
        host, port, path = match.group(1), int(match.group(2)), match.group(3)
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError("websocket handshake: connection closed")
            head += chunk
        assert b" 101 " in head.split(b"\r\n", 1)[0], head

    def _exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("websocket closed")
            data += chunk
        return data

    def send(self, text: str) -> None:
        payload = text.encode()
        header = bytes([0x81])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def recv(self) -> str:
        message = b""
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            payload = self._exact(n)
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise ConnectionError("websocket closed by the browser")
            if opcode in (0x9, 0xA):  # ping/pong: ignore
                continue
            message += payload
            if b0 & 0x80:
                return message.decode()

    def close(self) -> None:
        self.sock.close()


class Page:
    """One browser tab over CDP, recording console errors and network requests."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == my_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_for(self, method: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        if any(ev["method"] == method for ev in self.events):
            return
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            if "method" in message:
                self.events.append(message)
                if message["method"] == method:
                    return
        raise TimeoutError(method)

    def errors(self) -> list[str]:
        out = []
        for ev in self.events:
            p = ev.get("params", {})
            if ev["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console: " + " ".join(str(a.get("value", a.get("description")))
                                                  for a in p.get("args", [])))
            elif ev["method"] == "Runtime.exceptionThrown":
                out.append("exception: " + json.dumps(p.get("exceptionDetails", {}))[:500])
            elif ev["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append("log: " + p["entry"].get("text", ""))
        return out

    def requests(self) -> list[str]:
        return [ev["params"]["request"]["url"] for ev in self.events
                if ev["method"] == "Network.requestWillBeSent"]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    profile = tmp_path_factory.mktemp("chromium-profile")
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-extensions", "--hide-scrollbars", "--mute-audio",
         f"--user-data-dir={profile}", "--remote-debugging-port=0", "--window-size=1400,1000",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        deadline = time.monotonic() + 30
        assert proc.stderr is not None
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
            match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if match:
                port = int(match.group(1))
                break
        assert port, "chromium did not open its DevTools port"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as reply:
            targets = json.load(reply)
        page_target = next(t for t in targets if t.get("type") == "page")
        ws = WebSocket(page_target["webSocketDebuggerUrl"])
        page = Page(ws)
        yield page
        ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def sample_coverage(system) -> Coverage:
    transitions = {t.id: (i % 4) * 3 for i, t in enumerate(system.transitions)}
    rejections = {r.id: i % 2 for i, r in enumerate(system.rejections)}
    states = {f"{m.name}.{s.name}": 5 for m in system.machines for s in m.states}
    failure = {"title": "static quota overrun", "steps": [
        {"event": "register", "params": {"local_account": True,
                                         "initial_login_password": "123456",
                                         "initial_payment_password": "654321"},
         "transitions": ["account.register_with_local_account",
                         "login_password.set_at_registration",
                         "payment_password.set_at_registration", "static_password.open"],
         "rejection": None, "expected": "accepted", "actual": "accepted"},
        {"event": "pay", "params": {"method": "static", "amount": 30001, "password": "654321"},
         "transitions": [], "rejection": "static_password.pay_beyond_quota",
         "expected": "rejected(quota_exceeded)", "actual": "accepted"}]}
    return Coverage.from_json({"transitions": transitions, "rejections": rejections,
                               "states": states, "failures": [failure]}, "sample-run")


def open_page(page: Page, path: Path) -> None:
    page.events.clear()
    for domain in ("Runtime", "Log", "Network", "Page"):
        page.call(f"{domain}.enable")
    page.call("Page.navigate", url=path.as_uri())
    page.wait_for("Page.loadEventFired")


def test_the_client_sees_errors_and_fetches(browser: Page, tmp_path: Path) -> None:
    """The checks below are not vacuous: a page with an error and a fetch is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png">'
                   '<script>console.error("boom"); undefinedFunction();</script></body></html>')
    open_page(browser, bad)
    time.sleep(0.3)
    browser.call("Runtime.evaluate", expression="1")  # drain pending events
    errors = browser.errors()
    assert any("boom" in e for e in errors) and any("exception" in e for e in errors)
    assert any(u.startswith("http://127.0.0.1:9/") for u in browser.requests())


def test_report_in_chromium(browser: Page, tmp_path: Path) -> None:
    system = load(REPO / "specs")
    html = report_html(system, spec_name="specs", coverage=sample_coverage(system))
    assert "654321" not in html and "123456" not in html  # secrets never in clear
    report = tmp_path / "report.html"
    report.write_text(html, encoding="utf-8")

    page = browser
    open_page(page, report)

    shown = page.call("Runtime.evaluate", returnByValue=True, expression="""
        JSON.stringify([...document.querySelectorAll('section.machine')].map(s => ({
          name: s.dataset.machine,
          visible: s.getBoundingClientRect().height > 0
                   && getComputedStyle(s).display !== 'none'
                   && getComputedStyle(s).visibility !== 'hidden',
          svg: !!s.querySelector('svg g.node'),
          rows: s.querySelectorAll('table tr').length })))""")
    sections = {s["name"]: s for s in json.loads(shown["result"]["value"])}
    assert list(sections) == [m.name for m in system.machines]
    for name, section in sections.items():
        assert section["visible"], f"{name} not shown"
        assert section["svg"], f"{name} has no diagram"
        assert section["rows"] > 3, f"{name} has no tables"
    for anchor in ("traceability", "assumptions", "run", "overview"):
        found = page.call("Runtime.evaluate", returnByValue=True,
                          expression=f"!!document.getElementById('{anchor}')")
        assert found["result"]["value"], anchor

    metrics = page.call("Page.getLayoutMetrics")
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    width, height = int(size["width"]), min(int(size["height"]), 16000)
    shot = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                     clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 0.5})
    png = base64.b64decode(shot["data"])
    assert png.startswith(b"\x89PNG")
    (tmp_path / "report.png").write_bytes(png)
    artifacts = REPO / "artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "report-screenshot.png").write_bytes(png)

    assert page.errors() == []
    fetched = [u for u in page.requests() if not u.startswith(("file:", "data:", "about:"))]
    assert fetched == [], f"the report fetched {fetched}"
