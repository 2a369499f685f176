"""Every answer carries the same protective headers, errors included, and the pages'
Content-Security-Policy allows no inline script or style."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine

from stewardship.core.config import Settings
from stewardship.core.web import PAGE_CSP
from stewardship.web.app import create_app
from tests.conftest import session_on

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PROTECTIVE = ("content-security-policy", "x-content-type-options", "referrer-policy",
              "x-frame-options")
SOURCE = Path(__file__).resolve().parents[2] / "src" / "stewardship"
MAX_BODY = 2_000


@pytest.fixture
def small_app(engine: Engine, connection: Connection, settings: Settings) -> FastAPI:
    """The app with a small body limit and two routes that fail on our side."""
    application = create_app(settings=settings.model_copy(update={"max_body_bytes": MAX_BODY}),
                             engine=engine)
    application.state.sessionmaker = lambda: session_on(connection)

    @application.get("/api/v1/test-failure")
    def api_failure() -> None:
        raise RuntimeError("a bug on our side")

    @application.get("/test-failure")
    def page_failure() -> None:
        raise RuntimeError("a bug on our side")

    return application


@pytest.fixture
def raw(small_app: FastAPI) -> TestClient:
    return TestClient(small_app, raise_server_exceptions=False)


def protective(response: object) -> dict[str, str]:
    headers = response.headers  # type: ignore[attr-defined]
    return {name: headers.get(name) for name in PROTECTIVE}


def test_the_pages_policy_allows_nothing_inline() -> None:
    directives = dict(d.strip().split(" ", 1) for d in PAGE_CSP.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["img-src"] == "'self' data:"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert directives["base-uri"] == "'self'"
    assert directives["object-src"] == "'none'"


def test_errors_carry_the_same_headers_as_a_page(raw: TestClient) -> None:
    ok = raw.get("/")
    assert ok.status_code == 200
    expected = protective(ok)
    assert expected["content-security-policy"] == PAGE_CSP
    assert all(expected.values())
    api_ok = raw.get("/api/v1/registry/organizations")
    assert api_ok.status_code == 200 and protective(api_ok) == expected

    answers = {
        "page 404": raw.get("/no-such-page"),
        "api 404": raw.get("/api/v1/no-such-thing"),
        "api 422": raw.get("/api/v1/registry/organizations", params={"per_page": "many"}),
        "page 500": raw.get("/test-failure"),
        "api 500": raw.get("/api/v1/test-failure"),
        "413 declared": raw.post("/api/v1/auth/tokens", content=b"x" * (MAX_BODY + 1),
                                 headers={"content-type": "application/json"}),
        "413 streamed": raw.post("/api/v1/auth/tokens",
                                 content=iter([b"x" * 1500, b"x" * 1500]),
                                 headers={"content-type": "application/json"}),
    }
    statuses = {name: r.status_code for name, r in answers.items()}
    assert statuses == {"page 404": 404, "api 404": 404, "api 422": 422, "page 500": 500,
                        "api 500": 500, "413 declared": 413, "413 streamed": 413}
    for name, response in answers.items():
        assert protective(response) == expected, name
    assert answers["api 500"].json()["error"]["code"] == "internal"
    assert answers["413 declared"].json()["error"]["code"] == "payload_too_large"


def test_the_csrf_refusal_carries_the_headers_too(raw: TestClient) -> None:
    refused = raw.post("/api/v1/auth/tokens", json={"name": "x"},
                       cookies={"stw_session": "anything"})
    assert refused.status_code == 403
    assert protective(refused) == protective(raw.get("/"))


def test_the_api_docs_have_their_own_policy_with_the_inline_script_hashed(
        raw: TestClient) -> None:
    docs = raw.get("/api/docs")
    assert docs.status_code == 200
    policy = docs.headers["content-security-policy"]
    script_src = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
    hashes = re.findall(r"'sha256-([A-Za-z0-9+/=]+)'", script_src)
    inline = re.findall(r"<script>(.*?)</script>", docs.text, re.S)
    assert len(hashes) == len(inline) == 1
    assert "'unsafe-inline'" not in script_src
    assert "https://cdn.jsdelivr.net" in script_src
    assert "frame-ancestors 'none'" in policy
    # Only the docs page: every other answer keeps the strict policy.
    assert raw.get("/api/openapi.json").headers["content-security-policy"] == PAGE_CSP


def test_no_template_has_inline_script_or_style() -> None:
    offenders = []
    for template in sorted(SOURCE.glob("**/templates/**/*.html")):
        text = template.read_text()
        inline_script = re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text)
        handler = re.search(r"\son[a-z]+\s*=", text)
        style = re.search(r"<style|\sstyle\s*=", text)
        if inline_script or handler or style or "javascript:" in text:
            offenders.append(str(template.relative_to(SOURCE)))
    assert offenders == []
