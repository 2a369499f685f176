"""Certification on the registry's pages: an organisation's and a facility's live
certificates (number linking to the certificate, standard, status, expiry), and the member
register's certification column and filter, read from assurance's service in one query
per page however many rows it has."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from stewardship.assurance.schemas import StatusChange
from stewardship.assurance.service import certificates
from stewardship.assurance.service import register as certification
from stewardship.core.errors import InvalidInput
from tests import assurance_world as aw
from tests import factories


def text(body: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


@pytest.fixture
def world(db: Session) -> tuple[aw.World, str]:
    w = aw.build(db)
    decision = aw.certify(db, w, aw.scope(db, w, facilities=[w.smelter],
                                          activities=["smelting", "casthouse"]))
    assert decision.certificate is not None
    db.flush()
    return w, decision.certificate.number


def _section(body: str, heading_id: str) -> str:
    found = re.search(rf'<section aria-labelledby="{heading_id}".*?</section>', body, re.S)
    assert found, f"no section {heading_id}"
    return found.group(0)


def test_the_organisation_page_lists_its_live_certificates(
        client: TestClient, db: Session, world: tuple[aw.World, str]) -> None:
    w, number = world
    page = client.get(f"/organizations/{w.org}")
    assert page.status_code == 200
    section = _section(page.text, "certificates-heading")
    assert f'href="/certificates/{number}"' in section
    words = text(section)
    assert "Performance Standard" in words and ", version 3" in words
    assert 'class="badge badge-active"' in section
    cert = certificates.get_certificate(db, number)
    assert cert.valid_until.strftime("%d %b %Y") in words
    assert 'href="#certificates-heading"' in page.text  # from "Certified" to the list
    certificates.suspend(db, w.secretariat, number, StatusChange(reason="complaint upheld"))
    db.flush()
    suspended = _section(client.get(f"/organizations/{w.org}").text, "certificates-heading")
    assert 'class="badge badge-suspended"' in suspended and number in suspended
    certificates.withdraw(db, w.secretariat, number, StatusChange(reason="not remedied"))
    db.flush()
    gone = _section(client.get(f"/organizations/{w.org}").text, "certificates-heading")
    assert number not in gone and "holds no certificate in force" in text(gone)
    assert f'href="/certificates?organization={w.org}"' in gone


def test_the_facility_page_shows_the_certificates_covering_it(
        client: TestClient, db: Session, world: tuple[aw.World, str]) -> None:
    w, number = world
    covered = _section(client.get(f"/facilities/{w.smelter}").text, "certificates-heading")
    assert f'href="/certificates/{number}"' in covered
    assert 'class="badge badge-active"' in covered
    outside = _section(client.get(f"/facilities/{w.casthouse}").text, "certificates-heading")
    assert number not in outside
    assert "No certificate in force or suspended today covers this facility." in text(outside)


def _register_rows(body: str) -> dict[str, str]:
    rows = re.findall(r'<tr>\s*<th scope="row" data-label="Name"><a href="/organizations/'
                      r'([^"]+)">.*?</tr>', body, re.S)
    full = re.findall(r'(<tr>\s*<th scope="row" data-label="Name">.*?</tr>)', body, re.S)
    return dict(zip(rows, full, strict=True))


def test_the_register_shows_and_filters_by_certification(
        client: TestClient, db: Session, world: tuple[aw.World, str]) -> None:
    w, _ = world
    everyone = client.get("/register", params={"per_page": 50})
    assert everyone.status_code == 200 and "<th scope=\"col\">Certification</th>" in everyone.text
    rows = _register_rows(everyone.text)
    assert "Performance" in text(rows[w.org]) and "None" in text(rows[w.other_org])

    def slugs(value: str) -> set[str]:
        page = client.get("/register", params={"certification": value, "per_page": 50})
        assert page.status_code == 200
        return set(_register_rows(page.text))

    assert w.org in slugs("performance") and w.other_org not in slugs("performance")
    assert w.org in slugs("any")
    assert w.org not in slugs("chain_of_custody")
    assert w.other_org in slugs("none") and w.org not in slugs("none")
    certificates.suspend(db, w.secretariat, world[1], StatusChange(reason="complaint upheld"))
    db.flush()
    assert w.org in slugs("none") and w.org not in slugs("performance")
    suspended_row = _register_rows(client.get("/register", params={"per_page": 50}).text)[w.org]
    assert 'class="badge badge-suspended"' in suspended_row
    wrong = client.get("/register", params={"certification": "gold"})
    assert wrong.status_code == 422
    assert "is not a certification filter" in text(wrong.text)


def test_the_register_filter_keeps_paginating(client: TestClient, db: Session,
                                              world: tuple[aw.World, str]) -> None:
    for n in range(3):
        factories.organization(db, name=f"Uncertified Rollers {n}")
    db.flush()
    first = client.get("/register", params={"certification": "none", "per_page": 2})
    second = client.get("/register", params={"certification": "none", "per_page": 2,
                                             "page": 2})
    one, two = set(_register_rows(first.text)), set(_register_rows(second.text))
    assert len(one) == 2 and two and not one & two
    assert "certification=none" in first.text  # the next-page link keeps the filter


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_the_register_reads_certification_in_a_fixed_number_of_queries(
        client: TestClient, db: Session, engine: Engine, world: tuple[aw.World, str]) -> None:
    def certificate_queries(per_page: int, certification_filter: str = "") -> int:
        with _statements(engine) as seen:
            page = client.get("/register", params={"certification": certification_filter,
                                                   "per_page": per_page})
            assert page.status_code == 200
        return sum(1 for s in seen if "certificates" in s)

    for n in range(6):
        factories.organization(db, name=f"More Members {n}")
    db.flush()
    assert certificate_queries(2) == certificate_queries(40)
    assert certificate_queries(2, "none") == certificate_queries(40, "none")


def test_the_filter_refuses_an_unknown_value_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as refused:
        certification.certification_filter("gold")
    assert set(refused.value.field_errors()) == {"certification"}
    assert certification.certification_filter("") is None
