"""The console served for real on loopback (uvicorn in a thread), and Debian's chromium through
Playwright: what the browser tests and the console benchmark drive."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from console.app import ConsoleServices, standalone_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def chromium_missing() -> str:
    """Why the browser tests cannot run here ("" when they can)."""
    if not shutil.which("chromium"):
        return "Debian's chromium is not installed (make test-deps installs it)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (requirements/lock.txt)"
    return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_console(services: ConsoleServices) -> Iterator[str]:
    """Serve the console alone on a free loopback port; yields its base URL (…/console)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(standalone_app(services), "127.0.0.1", port, log_level="warning", ws="wsproto")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the console server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/console"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def browser_page(width: int = 1200, height: int = 760) -> Iterator[object]:
    """A Playwright page in headless Debian chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height}, locale="ko-KR")
            yield page
        finally:
            browser.close()
