"""No internal code in the text people read: every page kind, as every role, on the demo world.

The app runs on a scratch SQLite database with the demo world in it. For each role a
crawler follows the page's own links from the home page and the dashboard, one page per
page kind (a path with its ids and numbers blanked), and reads the text a person sees:
tags dropped, attribute values (title, value, href, class, id) and ``<code>``, ``<script>``
and ``<style>`` left out. No code of the labels table that differs from its words (a key
with ``_`` or ``.``) may appear there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from stewardship.core import labels
from stewardship.core.config import Settings
from stewardship.core.db import make_sessionmaker
from stewardship.core.web import SESSION_COOKIE
from stewardship.demo import load_demo
from stewardship.registry.service import accounts
from stewardship.web.app import create_app
from tests.conftest import scratch_database

ROLES = {"public": None, "secretariat": "secretariat@stewardship.example",
         "member_admin": "admin@fjordal.example", "member_user": "erik.nygard@fjordal.example",
         "auditor": "harriet.lowe@thistlebrook.example"}
STARTS = ("/", "/dashboard", "/register", "/facilities", "/certificates", "/standards",
          "/verify", "/complaints", "/custody", "/assurance/audits", "/secretariat/events")
PAGES_PER_ROLE = 90
SKIP = re.compile(r"^/(api|epcis|pact|static|logout|login|account/tokens/.*/revoke)|"
                  r"\.(pdf|csv|json|svg|png|xml)$|/(export|download)")
CODES = sorted((code for code, words in labels.LABELS.items()
                if ("_" in code or "." in code) and code != words), key=len, reverse=True)
FINDER = re.compile(r"(?<![\w.\-/])(" + "|".join(re.escape(c) for c in CODES)
                    + r")(?![\w\-/]|\.\w)")


class _Reader(HTMLParser):
    """The text of a page as a person reads it, and the links it offers."""

    HIDDEN = frozenset({"code", "script", "style", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.links: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self._hidden += 1
        if tag == "a":
            self.links.extend(v for k, v in attrs if k == "href" and v)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.text.append(data)


def read(page: str) -> tuple[str, list[str]]:
    reader = _Reader()
    reader.feed(page)
    return " ".join(" ".join(reader.text).split()), reader.links


def kind_of(path: str) -> str:
    """A page kind: the path with ids, numbers and slugs of records blanked."""
    parts = []
    for part in path.strip("/").split("/"):
        record = parts and parts[-1] in ("organizations", "members", "firms", "audit-firms",
                                         "standards", "register", "entities") and "-" in part
        if record or re.search(r"\d", part):
            parts.append("*")
        else:
            parts.append(part)
    return "/" + "/".join(parts)


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, dict[str,
                                                                                        str]]]:
    directory: Path = tmp_path_factory.mktemp("labels-pages")
    with scratch_database("sqlite", directory) as engine:
        settings = Settings(environment="test", password_profile="fast", var_dir=directory,
                            secret_key="l" * 40)
        sessions = make_sessionmaker(engine)
        cookies: dict[str, str] = {}
        with sessions() as db:
            load_demo(db, settings=settings)
            for role, email in ROLES.items():
                if email is None:
                    continue
                user = accounts.find_user(db, email)
                assert user is not None, email
                cookies[role] = accounts.start_session(db, user, settings)
            db.commit()
        yield create_app(settings=settings, engine=engine), cookies


def crawl(client: TestClient) -> dict[str, tuple[str, str]]:
    """``{page kind: (path, visible text)}`` of the pages reachable from the starts."""
    seen: dict[str, tuple[str, str]] = {}
    queue = list(STARTS)
    visited: set[str] = set()
    while queue and len(seen) < PAGES_PER_ROLE:
        path = queue.pop(0)
        kind = kind_of(urlsplit(path).path)
        if path in visited or kind in seen:
            continue
        visited.add(path)
        answer = client.get(path, follow_redirects=True)
        if answer.status_code != 200 or "text/html" not in answer.headers.get("content-type",
                                                                              ""):
            continue
        shown, links = read(answer.text)
        seen[kind] = (path, shown)
        for link in links:
            target = urlsplit(urljoin("http://testserver" + path, link))
            if target.netloc != "testserver" or SKIP.search(target.path):
                continue
            url = target.path + (f"?{target.query}" if target.query else "")
            if url not in visited:
                queue.append(url)
    return seen


@pytest.mark.parametrize("role", list(ROLES))
def test_no_page_shows_a_code_instead_of_its_words(
        demo_app: tuple[object, dict[str, str]], role: str) -> None:
    app, cookies = demo_app
    client = TestClient(app, raise_server_exceptions=False)  # type: ignore[arg-type]
    if role in cookies:
        client.cookies.set(SESSION_COOKIE, cookies[role])
    pages = crawl(client)
    assert len(pages) >= 8, sorted(pages)
    leaks = [f"{path}: …{shown[max(0, m.start() - 50):m.end() + 20]}…"
             for path, shown in sorted(pages.values()) for m in FINDER.finditer(shown)]
    assert leaks == [], "\n".join([f"{len(pages)} pages read", *leaks])


def test_the_reader_leaves_out_attributes_and_code() -> None:
    shown, links = read('<p title="asi_alumina">ASI Alumina <code>semi_fabrication</code>'
                        '<a href="/x?material=asi_bauxite">go</a></p>')
    assert shown == "ASI Alumina go" and links == ["/x?material=asi_bauxite"]
    assert FINDER.search("made of asi_alumina here")
    assert FINDER.search("Semi-fabrication") is None
    assert FINDER.search("/custody/asi_alumina/x") is None
