"""The public and certificate pages of assurance through HTTP: a certificate's page, PDF and
QR code, the secretariat's status changes, the register with its filters, CSV and charts,
findings and audit summaries, claims, and the due dates on the dashboards."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.assurance.rules import ClaimKind
from stewardship.assurance.schemas import ClaimCreate, Note, ScopeRead
from stewardship.assurance.service import certificates, claims, decisions
from stewardship.core.auth import Actor
from stewardship.core.config import Settings
from tests import assurance_world as aw
from tests.api.pages import post, text


@dataclass
class Certified:
    w: aw.World
    scope: ScopeRead
    number: str
    provisional: str | None = None


@pytest.fixture
def certified(db: Session) -> Certified:
    """A full Performance certificate of a Norwegian smelter and casthouse (with a German
    casthouse), and a provisional one of another scope with two majors."""
    w = aw.build(db)
    s = aw.scope(db, w)
    decision = aw.certify(db, w, s)
    assert decision.certificate is not None
    return Certified(w=w, scope=s, number=decision.certificate.number)


def test_certificate_page_shows_facts_qr_links_and_history(client: TestClient,
                                                           certified: Certified,
                                                           settings: Settings) -> None:
    page = client.get(f"/certificates/{certified.number}")
    assert page.status_code == 200
    body = text(page)
    assert certified.number in body
    assert "Performance Standard" in body and "version 3" in body
    assert "Fjord Smelter" in body and "Rhein Casthouse" in body
    assert "Smelting" in body and "Norway" in body and "Germany" in body
    assert "Surveillance audit due" in body and "Full" in body
    assert '<svg' in page.text and 'class="qr-code"' in page.text
    verify = f"http://testserver/certificates/{certified.number}"
    assert verify in body
    assert f'href="/certificates/{certified.number}.pdf"' in page.text
    assert f'href="/api/v1/assurance/certificates/{certified.number}/document"' in page.text
    assert "Status history" in body and "after audit" in body
    # the anonymous visitor sees no secretariat form
    assert "Change the status" not in body and "Request a claim" not in body
    assert client.get("/certificates/STW-PS-1999-9999").status_code == 404


def test_certificate_pdf(client: TestClient, certified: Certified) -> None:
    pdf = client.get(f"/certificates/{certified.number}.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert certified.number.encode() in pdf.content
    assert client.get("/certificates/STW-PS-1999-9999.pdf").status_code == 404


def test_secretariat_suspends_reinstates_and_withdraws(
        certified: Certified, signed_in: Callable[[Actor], TestClient], db: Session) -> None:
    office = signed_in(certified.w.secretariat)
    url = f"/certificates/{certified.number}/status"
    page = office.get(f"/certificates/{certified.number}")
    assert "Change the status" in text(page)
    refused = post(office, url, {"action": "suspend", "reason": ""})
    assert refused.status_code == 422 and "reason" in text(refused).lower()
    assert certificates.get_certificate(db, certified.number).status == "active"
    wrong = post(office, url, {"action": "reinstate", "reason": "nothing to lift"})
    assert wrong.status_code == 409 and "cannot become active" in text(wrong)
    done = post(office, url, {"action": "suspend", "reason": "Complaint about water use"})
    assert done.status_code == 303
    shown = text(office.get(f"/certificates/{certified.number}"))
    assert "Complaint about water use" in shown and "This certificate is suspended" in shown
    assert post(office, url, {"action": "reinstate", "reason": "Complaint resolved"}
                ).status_code == 303
    assert post(office, url, {"action": "withdraw", "reason": "Scope closed down"}
                ).status_code == 303
    history = certificates.get_certificate(db, certified.number).history
    assert [h.to_status for h in history] == ["active", "suspended", "active", "withdrawn"]


def test_status_change_is_secretariat_only_and_needs_csrf(
        certified: Certified, signed_in: Callable[[Actor], TestClient],
        client: TestClient) -> None:
    url = f"/certificates/{certified.number}/status"
    data = {"action": "suspend", "reason": "not allowed"}
    for actor in (certified.w.admin, certified.w.auditor, certified.w.other_admin):
        assert post(signed_in(actor), url, data).status_code == 403
    anonymous = post(client, url, data)
    assert anonymous.status_code == 303 and "/login" in anonymous.headers["location"]
    office = signed_in(certified.w.secretariat)
    no_token = office.post(url, data=data, follow_redirects=False)
    assert no_token.status_code == 403


def test_register_lists_filters_and_exports(client: TestClient, db: Session,
                                            certified: Certified) -> None:
    w2 = aw.build(db)
    s2 = aw.scope(db, w2, facilities=[w2.casthouse], activities=["casthouse"])
    other = aw.certify(db, w2, s2, majors=1).certificate
    assert other is not None and other.certificate_type == "provisional"
    page = client.get("/certificates")
    assert page.status_code == 200
    assert certified.number in page.text and other.number in page.text
    only_no = client.get("/certificates?country=NO")
    assert certified.number in only_no.text and other.number not in only_no.text
    smelting = client.get("/certificates?activity=smelting&kind=performance")
    assert certified.number in smelting.text and other.number not in smelting.text
    suspended = client.get("/certificates?status=suspended")
    assert certified.number not in suspended.text and "No certificate matches" in text(
        suspended)
    versioned = client.get("/certificates?standard=performance&version=3&q=Fjord")
    assert certified.number in versioned.text
    bad = client.get("/certificates?activity=juggling")
    assert bad.status_code == 422 and "not an activity" in text(bad)
    export = re.search(r'href="(/api/v1/assurance/certificates/export[^"]*)"',
                       client.get("/certificates?country=NO").text)
    assert export and "country=NO" in html.unescape(export.group(1))
    csv_response = client.get(html.unescape(export.group(1)))
    assert csv_response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(csv_response.text)))
    assert rows[0][:3] == ["number", "status", "type"]
    assert [r[0] for r in rows[1:]] == [certified.number]


def test_register_draws_svg_charts(client: TestClient, certified: Certified) -> None:
    page = client.get("/certificates")
    assert page.text.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 3
    assert "Smelting: 1 certificates" in page.text
    assert "Norway: 1" in html.unescape(page.text)


def test_findings_register_and_audit_summary(client: TestClient, db: Session) -> None:
    w = aw.build(db)
    s = aw.scope(db, w)
    decision = aw.certify(db, w, s, majors=2, minors=1)
    page = client.get("/register/findings")
    assert page.status_code == 200
    assert "2 major and 1 minor" in text(page)
    majors = client.get("/register/findings?rating=major")
    assert "2 major and 0 minor" in text(majors)
    assert "No non-conformity matches" in text(client.get("/register/findings?principle=9"))
    bad = client.get("/register/findings?principle=2&criterion=1.1")
    assert bad.status_code == 422 and "not under principle" in text(bad)
    export = client.get("/api/v1/assurance/findings/export?rating=minor")
    assert export.headers["content-type"].startswith("text/csv")
    assert 'href="/api/v1/assurance/findings/export?rating=major"' in majors.text
    summary = client.get(f"/audits/{decision.audit_id}/summary")
    assert summary.status_code == 200
    body = text(summary)
    assert "Provisional" in body and "2 major, 1 minor" in body
    assert "The audit covered both sites" in body
    assert decision.certificate is not None and decision.certificate.number in body


def test_claim_request_through_the_certificate_page(
        certified: Certified, signed_in: Callable[[Actor], TestClient], db: Session) -> None:
    admin = signed_in(certified.w.admin)
    page = admin.get(f"/certificates/{certified.number}")
    assert "Request a claim" in text(page)
    url = f"/certificates/{certified.number}/claims"
    on_product = post(admin, url, {"kind": "on_product", "wording": "Made with certified "
                                                                     "aluminium metal"})
    assert on_product.status_code == 409 and "Chain of Custody" in text(on_product)
    short = post(admin, url, {"kind": "off_product", "wording": "short"})
    assert short.status_code == 422 and "at least 10 characters" in text(short)
    done = post(admin, url, {"kind": "off_product", "uses_logo": "1", "percentage": "40",
                             "wording": "Our smelter is certified against the standard"})
    assert done.status_code == 303
    follow = admin.get(done.headers["location"])
    assert "sent to the secretariat" in text(follow)
    # another member's admin and a member user may not
    assert "Request a claim" not in text(signed_in(certified.w.other_admin).get(
        f"/certificates/{certified.number}"))
    assert post(signed_in(certified.w.member_user), url,
                {"kind": "off_product", "wording": "x" * 20}).status_code == 403
    other = post(signed_in(certified.w.other_admin), url,
                 {"kind": "off_product", "wording": "Not our certificate at all"})
    assert other.status_code == 422 and "is not your organisation's" in text(other)


def test_secretariat_approves_and_rejects_claims(
        certified: Certified, signed_in: Callable[[Actor], TestClient], client: TestClient,
        db: Session) -> None:
    w = certified.w
    first = claims.request_claim(db, w.admin, ClaimCreate(
        certificate=certified.number, kind=ClaimKind.OFF_PRODUCT,
        wording="Our Fjord smelter is certified"))
    second = claims.request_claim(db, w.admin, ClaimCreate(
        certificate=certified.number, kind=ClaimKind.OFF_PRODUCT, uses_logo=True,
        wording="Certified aluminium from Norway"))
    db.flush()
    assert signed_in(w.admin).get("/secretariat/claims").status_code == 403
    assert post(signed_in(w.admin), f"/secretariat/claims/{first.id}/decide",
                {"decision": "approve"}).status_code == 403
    office = signed_in(w.secretariat)
    listing = text(office.get("/secretariat/claims"))
    assert "Our Fjord smelter is certified" in listing and "Certified aluminium" in listing
    no_reason = post(office, f"/secretariat/claims/{second.id}/decide",
                     {"decision": "reject", "reason": ""})
    assert no_reason.status_code == 422 and "reason is required" in text(no_reason)
    assert post(office, f"/secretariat/claims/{first.id}/decide",
                {"decision": "approve", "reason": "fine"}).status_code == 303
    assert post(office, f"/secretariat/claims/{second.id}/decide",
                {"decision": "reject", "reason": "The logo use is not allowed"}
                ).status_code == 303
    again = post(office, f"/secretariat/claims/{first.id}/decide",
                 {"decision": "approve"})
    assert again.status_code == 409 and "approved already" in text(again)
    public = text(client.get("/claims"))
    assert "Our Fjord smelter is certified" in public and certified.number in public
    assert "Certified aluminium from Norway" not in public
    assert "Our Fjord smelter is certified" in text(client.get(
        f"/certificates/{certified.number}"))


def test_dashboards_show_due_dates_and_standing(
        certified: Certified, signed_in: Callable[[Actor], TestClient], db: Session) -> None:
    w = certified.w
    # Both joined in 2020, so both are years past the two-year deadline: one never
    # certified, one holding a provisional Performance certificate (one major), which is a
    # current certificate and keeps it in good standing.
    late = aw.build(db, joined_on=date(2020, 1, 1))
    covered = aw.build(db, joined_on=date(2020, 1, 1))
    provisional = aw.certify(db, covered, aw.scope(db, covered), majors=1)
    assert provisional.certificate is not None
    dashboard = signed_in(w.secretariat).get("/dashboard")
    office, page = text(dashboard), dashboard.text
    assert "Due dates" in office and "Surveillance audit for Performance certificate" in office
    assert certified.number in office
    standing = page.split("Members past their certification deadline", 1)[1]
    standing = standing.split("Certificates and claims", 1)[0]
    assert f'href="/organizations/{late.org}"' in standing
    assert f'href="/organizations/{covered.org}"' not in standing
    assert f'href="/organizations/{w.org}"' not in standing  # certified, joined 2024
    member = signed_in(w.admin).get("/dashboard")
    body = text(member)
    assert "Due dates" in body and certified.number in body
    assert "Re-certification audit before Performance certificate" in body
    # the provisional holder's corrective plans fall due a month after the audit: none
    # overdue yet
    covered_page = signed_in(covered.admin).get("/dashboard")
    assert "Corrective action plan" in text(covered_page)


def test_overdue_items_are_flagged(db: Session,
                                   signed_in: Callable[[Actor], TestClient]) -> None:
    w = aw.build(db)
    s = aw.scope(db, w)
    audit_id = aw.plan(db, w, s.id, start_on=aw.TODAY - timedelta(days=80))
    aw.start(db, w, audit_id)
    aw.rate_all(db, w, audit_id, s, majors=1)
    aw.submit_and_review(db, w, audit_id)
    decisions.decide_audit(db, w.secretariat, audit_id, Note())
    page = signed_in(w.secretariat).get("/dashboard")
    assert 'class="badge badge-overdue">Overdue</span>' in page.text
    assert "Corrective action plan" in text(page)
