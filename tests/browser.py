"""Headless Chromium for tests that must see a page as a user would (the report, the MLflow UI).

Chromium is driven through the DevTools protocol over `--remote-debugging-pipe`: the browser reads
NUL-terminated JSON commands on fd 3 and writes replies and events on fd 4. That needs no extra Python
package (no websocket client, no Selenium/Playwright) and no free TCP port, and it works for `file://`
and `http://127.0.0.1` pages alike. A page is opened in a fresh tab, we wait for its `load` event (which
fires after every <img> present at parse time has loaded or failed), then for any image still loading, and
read what we need with `Runtime.evaluate`.

`require_chromium()` skips a test when Chromium is missing, except on CI (`CI=true`), where it fails:
a browser check must never pass silently by not running. Set `CHROMIUM` to a binary to pick one.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "/usr/bin/chromium")
INSTALL_HINT = "apt-get install -y chromium (Debian/Ubuntu), or set CHROMIUM to a Chromium/Chrome binary"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
)

# Resolves once the page has loaded and no <img> is still loading: natural widths, 0 for a broken image.
_IMAGE_WIDTHS = """
new Promise(resolve => {
  const settle = () => Promise.all(Array.from(document.images, img => img.complete ? null :
      new Promise(done => { img.addEventListener('load', done); img.addEventListener('error', done); })))
    .then(() => resolve(Array.from(document.images, img => img.naturalWidth)));
  if (document.readyState === 'complete') settle(); else window.addEventListener('load', settle);
})
"""


class BrowserError(RuntimeError):
    pass


def find_chromium() -> str | None:
    """$CHROMIUM if set, else the first Chromium/Chrome on PATH (or /usr/bin/chromium)."""
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return shutil.which(explicit) or (explicit if Path(explicit).is_file() else None)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> str:
    """The browser, or skip the test (fail it on CI, where a skipped browser check would hide a failure)."""
    found = find_chromium()
    if found:
        return found
    message = f"chromium not installed: {INSTALL_HINT}"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: browser checks must run)")
    pytest.skip(message)


class _DevTools:
    """One DevTools session over the pipe; `call` sends a command and waits for its reply."""

    def __init__(self, process: subprocess.Popen, read_fd: int, write_fd: int, timeout: float, log: Path) -> None:
        self.process, self.read_fd, self.write_fd, self.timeout, self.log = process, read_fd, write_fd, timeout, log
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"no answer from chromium within {self.timeout:g} s")
            ready, _, _ = select.select([self.read_fd], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(self.read_fd, 1 << 20)
                if not chunk:
                    raise BrowserError(f"chromium closed the DevTools pipe{self._why()}")
                self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def _why(self) -> str:
        """Exit code and the end of chromium's own output, for an error message."""
        time.sleep(0.2)
        tail = self.log.read_text(errors="replace").strip().splitlines()[-8:] if self.log.exists() else []
        return f" (exit code {self.process.poll()}): " + " | ".join(tail)

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        self.next_id += 1
        request: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            request["sessionId"] = session
        try:
            os.write(self.write_fd, json.dumps(request).encode() + b"\0")
        except BrokenPipeError:
            raise BrowserError(f"chromium is gone before {method}{self._why()}") from None
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._receive(deadline)
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error'].get('message')}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_event(self, method: str, session: str | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            for i, event in enumerate(self.events):
                if event["method"] == method and (session is None or event.get("sessionId") == session):
                    return self.events.pop(i)
            message = self._receive(deadline)
            if "method" in message:
                self.events.append(message)


_LAUNCH = (
    "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); os.execv(sys.argv[3], sys.argv[3:])"
)


def _above_9(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


@contextmanager
def _browser(chromium: str, timeout: float) -> Iterator[_DevTools]:
    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()
    # The child's ends above fd 9: were one of them already 3 or 4, the dup2 calls below would clash.
    to_browser_r, from_browser_w = _above_9(to_browser_r), _above_9(from_browser_w)
    with tempfile.TemporaryDirectory(prefix="vae-pipe-chromium-") as profile:
        # A tiny Python launcher puts our pipe ends on fds 3 and 4, where --remote-debugging-pipe expects
        # them, then becomes chromium (a shell cannot: dash only redirects single-digit fds).
        command = [
            sys.executable,
            "-c",
            _LAUNCH,
            str(to_browser_r),
            str(from_browser_w),
            chromium,
            *FLAGS,
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "about:blank",
        ]
        log = Path(profile) / "chromium.log"
        with log.open("wb") as log_file:
            process = subprocess.Popen(
                command,
                pass_fds=(to_browser_r, from_browser_w),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so a hung browser is killed with its helpers
            )
        os.close(to_browser_r)
        os.close(from_browser_w)
        devtools = _DevTools(process, from_browser_r, to_browser_w, timeout, log)
        try:
            yield devtools
        finally:
            try:
                devtools.call("Browser.close")
            except (BrowserError, OSError):
                pass
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            os.close(from_browser_r)
            os.close(to_browser_w)


@contextmanager
def open_page(
    chromium: str, url: str, width: int = 1400, height: int = 1000, timeout: float = 30
) -> Iterator[tuple[_DevTools, str]]:
    """(devtools, session id) of a tab showing `url`, after its load event."""
    with _browser(chromium, timeout) as devtools:
        target = devtools.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = devtools.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        devtools.call("Page.enable", session=session)
        devtools.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        navigated = devtools.call("Page.navigate", {"url": url}, session=session)
        if navigated.get("errorText"):
            raise BrowserError(f"cannot open {url}: {navigated['errorText']}")
        devtools.wait_event("Page.loadEventFired", session)
        yield devtools, session


def evaluate(devtools: _DevTools, session: str, expression: str) -> Any:
    """The value of a JavaScript expression in the page (promises are awaited)."""
    result = devtools.call(
        "Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True}, session=session
    )
    if "exceptionDetails" in result:
        raise BrowserError(f"script failed: {result['exceptionDetails'].get('text')}")
    return result["result"].get("value")


def image_widths(chromium: str, url: str, settle_s: float = 0.0) -> list[int]:
    """naturalWidth of every <img> on the page at `url` (0 = did not load), after the page has loaded.

    `settle_s`: extra seconds to wait after the load event, for pages that add images from script (SPAs).
    """
    with open_page(chromium, url) as (devtools, session):
        if settle_s:
            time.sleep(settle_s)
        return [int(width) for width in evaluate(devtools, session, _IMAGE_WIDTHS)]


def screenshot(chromium: str, url: str, path: Path, width: int = 1400, full_page: bool = True) -> Path:
    """A PNG of the page at `url`, `width` CSS pixels wide, the whole page tall (or one 1000-px viewport)."""
    with open_page(chromium, url, width=width) as (devtools, session):
        evaluate(devtools, session, _IMAGE_WIDTHS)
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = devtools.call("Page.getLayoutMetrics", session=session)["cssContentSize"]
            params.update(
                captureBeyondViewport=True,
                clip={"x": 0, "y": 0, "width": width, "height": min(size["height"], 16000), "scale": 1},
            )
        data = devtools.call("Page.captureScreenshot", params, session=session)["data"]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(data))
    return path
