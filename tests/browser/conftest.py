"""A live server with the demo world, and Chromium driven by Playwright.

The server runs the real app (uvicorn in a background thread) on a fresh, migrated SQLite
file with the demo world loaded, on a free port of 127.0.0.1. Every test gets a new browser
context (own cookies). Without Debian's Chromium at /usr/bin/chromium the tests skip.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stewardship.core import issuance
from stewardship.core.config import Settings
from stewardship.core.db import make_engine, make_sessionmaker, transaction
from stewardship.core.keys import log_signer
from stewardship.core.migrate import upgrade
from stewardship.demo import load_demo

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync",
                 "--disable-quic"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DEMO_PASSWORD = "demo-password"


# First among the collection hooks: pytest-xdist's worker reads the xdist_group marks in
# its own pytest_collection_modifyitems to send `--dist loadgroup` the group of each test,
# and this conftest is loaded before that plugin when tests/browser is named on the
# command line (so without tryfirst it would run after it, too late). Note: pytest-xdist
# 3.8 records the group by rewriting item._nodeid, which pytest 9 no longer reads, so with
# that pair `--dist loadgroup` groups nothing (see docs/coverage.md).
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    skip = None
    if not CHROMIUM.exists():
        skip = pytest.mark.skip(reason=f"Chromium is not installed at {CHROMIUM} "
                                       "(apt-get install chromium)")
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.xdist_group("browser"))
            if skip is not None:
                item.add_marker(skip)


def _wait_until_up(url: str, server: Any, thread: threading.Thread, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the live server stopped while starting")
        if server.started:
            try:
                with urllib.request.urlopen(url + "/login", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
        time.sleep(0.05)
    raise RuntimeError(f"the live server did not answer at {url} within {timeout} s")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a running app with the demo world loaded."""
    import uvicorn

    from stewardship.web.app import create_app

    tmp = tmp_path_factory.mktemp("live-server")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    settings = Settings(environment="test", var_dir=tmp, secret_key="b" * 40,
                        database_url=f"sqlite:///{tmp / 'browser.db'}", base_url=base_url)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    # The demo's certificates are issued as credentials of this server (its address and
    # its key, kept in its var_dir), so that their bundles verify on its own pages.
    issuer = issuance.Issuer(base_url, log_signer(settings))
    with transaction(make_sessionmaker(engine)) as db, issuance.issuing_as(issuer):
        load_demo(db)

    app = create_app(settings, engine)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name="live-server")
    thread.start()
    try:
        _wait_until_up(base_url, server, thread)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser: Any, live_server: str) -> Iterator[Callable[..., Any]]:
    """Open pages in fresh browser contexts: ``new_page()`` or ``new_page(width, height)``."""
    contexts: list[Any] = []
    violations: list[str] = []

    def make(width: int = 1280, height: int = 900) -> Any:
        context = browser.new_context(base_url=live_server,
                                      viewport={"width": width, "height": height})
        context.set_default_timeout(10_000)
        contexts.append(context)
        opened = context.new_page()
        opened.on("console", lambda message: _note_csp_violation(message, opened, violations))
        return opened

    yield make
    for context in contexts:
        context.close()
    # Every page of every browser test also proves the Content-Security-Policy lets it work:
    # Chromium reports each script, style or resource the policy blocks on the console.
    assert violations == [], "the Content-Security-Policy blocked something:\n" + "\n".join(
        violations)


def _note_csp_violation(message: Any, page: Any, violations: list[str]) -> None:
    if "Content Security Policy" in message.text:
        violations.append(f"{page.url}: {message.text}")


@pytest.fixture
def page(new_page: Callable[..., Any]) -> Any:
    return new_page()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def log_in(page: Any, email: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the login page, as a person would."""
    page.goto("/login")
    page.fill("#field-email", email)
    page.fill("#field-password", password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
