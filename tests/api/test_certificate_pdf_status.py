"""The certificate PDF says what the certificate is worth when it is read: an active one
certifies, one that is not active is marked across the page with its status and no longer
reads "This certifies that"; every PDF prints when its status was read and the live
address (the request's own address, or the configured public base URL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.assurance.pdf import status_as_of_line
from stewardship.assurance.schemas import StatusChange
from stewardship.assurance.service import certificates
from stewardship.core import clock
from tests import assurance_world as aw
from tests.pdf_text import pdf_text


def _words(data: bytes) -> str:
    return " ".join(pdf_text(data).split())


@pytest.fixture
def issued(db: Session) -> tuple[aw.World, str]:
    w = aw.build(db)
    decision = aw.certify(db, w, aw.scope(db, w))
    assert decision.certificate is not None
    return w, decision.certificate.number


def test_an_active_certificate_certifies_and_prints_its_status_time_and_live_link(
        client: TestClient, issued: tuple[aw.World, str]) -> None:
    _, number = issued
    before = clock.now().replace(second=0, microsecond=0)
    response = client.get(f"/certificates/{number}.pdf")
    assert response.status_code == 200
    body = _words(response.content)
    assert "This certifies that Fjord Aluminium AS" in body
    assert "Status as of" in body and "UTC: ACTIVE" in body
    stamp = body.split("Status as of ", 1)[1].split(" UTC", 1)[0]
    printed = datetime.strptime(stamp, "%d %b %Y, %H:%M").replace(tzinfo=UTC)
    assert before <= printed <= clock.now()
    assert f"http://testserver/certificates/{number}" in body
    assert "SUSPENDED" not in body
    # the live address is a link on the page too
    assert f"/URI (http://testserver/certificates/{number})".encode() in response.content


@pytest.mark.parametrize("change, word", [("suspend", "SUSPENDED"), ("withdraw", "WITHDRAWN")])
def test_a_certificate_that_is_not_active_is_marked_and_does_not_certify(
        client: TestClient, db: Session, issued: tuple[aw.World, str], change: str,
        word: str) -> None:
    w, number = issued
    getattr(certificates, change)(db, w.secretariat, number,
                                  StatusChange(reason="complaint upheld on site safety"))
    db.flush()
    body = _words(client.get(f"/certificates/{number}.pdf").content)
    assert "This certifies that" not in body
    assert f"This certificate {'is suspended' if word == 'SUSPENDED' else 'was withdrawn'}" \
        in body
    assert f"UTC: {word}" in body
    # the watermark: the status word drawn on its own, across the page
    assert word in pdf_text(client.get(f"/certificates/{number}.pdf").content).splitlines()
    assert f"http://testserver/certificates/{number}" in body


def test_the_configured_public_address_is_printed(app: FastAPI,
                                                  issued: tuple[aw.World, str]) -> None:
    _, number = issued
    app.state.settings.base_url = "https://register.example.org/"
    browser = TestClient(app, base_url="http://10.0.0.5:8000", raise_server_exceptions=False)
    body = _words(browser.get(f"/certificates/{number}.pdf").content)
    assert f"https://register.example.org/certificates/{number}" in body


def test_the_status_line_is_in_utc() -> None:
    from datetime import timedelta, timezone

    moment = datetime(2026, 12, 2, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    assert status_as_of_line(moment) == "Status as of 02 Dec 2026, 07:30 UTC"
