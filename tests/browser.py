"""Headless Chromium for tests that must see a page as a user would (the report, the MLflow UI).

Playwright drives the system's Chromium (Debian's `chromium`, found on PATH): `playwright install` would
download a browser build, which cannot happen here, so we pass `executable_path` instead. A page is opened
in a fresh browser, we wait for its `load` event (after every <img> present at parse time has loaded or
failed), then for any image still loading, and read what we need with `evaluate`.

`require_chromium()` skips a test when Chromium or Playwright is missing, except on CI (`CI=true`), where
it fails: a browser check must never pass silently by not running. Set `CHROMIUM` to a binary to pick one.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "/usr/bin/chromium")
INSTALL_HINT = "apt-get install -y chromium (Debian/Ubuntu), or set CHROMIUM to a Chromium/Chrome binary"
# Playwright adds --headless itself; these keep a sandbox-less container browser quiet and offline.
FLAGS = (
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
MAX_SHOT_HEIGHT = 16000  # CSS px: taller full-page screenshots exceed what Chromium captures in one piece

# Resolves once the page has loaded and no <img> is still loading: natural widths, 0 for a broken image.
_IMAGE_WIDTHS = """
new Promise(resolve => {
  const settle = () => Promise.all(Array.from(document.images, img => img.complete ? null :
      new Promise(done => { img.addEventListener('load', done); img.addEventListener('error', done); })))
    .then(() => resolve(Array.from(document.images, img => img.naturalWidth)));
  if (document.readyState === 'complete') settle(); else window.addEventListener('load', settle);
})
"""


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
    if found and find_spec("playwright"):
        return found
    if found:
        message = "playwright is not installed: pip install -e '.[dev]'"
    else:
        message = f"chromium not installed: {INSTALL_HINT}"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: browser checks must run)")
    pytest.skip(message)


@contextmanager
def open_page(chromium: str, url: str, width: int = 1400, height: int = 1000, timeout: float = 30) -> Iterator[Page]:
    """A Playwright page showing `url` after its load event; the browser is closed on leaving."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=list(FLAGS), timeout=timeout * 1000
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
            page.set_default_timeout(timeout * 1000)
            page.goto(url, wait_until="load")
            yield page
        finally:
            browser.close()


def evaluate(page: Page, expression: str) -> Any:
    """The value of a JavaScript expression in the page (promises are awaited)."""
    return page.evaluate(expression)


def image_widths(chromium: str, url: str, settle_s: float = 0.0) -> list[int]:
    """naturalWidth of every <img> on the page at `url` (0 = did not load), after the page has loaded.

    `settle_s`: extra seconds to wait after the load event, for pages that add images from script (SPAs).
    """
    with open_page(chromium, url) as page:
        if settle_s:
            time.sleep(settle_s)
        return [int(width) for width in evaluate(page, _IMAGE_WIDTHS)]


def screenshot(chromium: str, url: str, path: Path, width: int = 1400, full_page: bool = True) -> Path:
    """A PNG of the page at `url`, `width` CSS pixels wide, the whole page tall (or one 1000-px viewport)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open_page(chromium, url, width=width) as page:
        evaluate(page, _IMAGE_WIDTHS)
        clip = None
        if full_page:
            height = evaluate(page, "document.documentElement.scrollHeight")
            clip = {"x": 0, "y": 0, "width": width, "height": min(height, MAX_SHOT_HEIGHT)}
        page.screenshot(path=path, full_page=full_page, clip=clip)
    return path
