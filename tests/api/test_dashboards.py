"""The dashboards through HTTP, per role, on small worlds: each says what the role has to
act on as a count, the count's link opens a list of exactly those items, an empty item
says there is nothing to act on, and a member never sees another member's items."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import update
from sqlalchemy.orm import Session

from stewardship.assurance.models import Certificate
from stewardship.assurance.rules import EXPIRY_WARNING_DAYS, ClaimKind
from stewardship.assurance.schemas import ClaimCreate, Note
from stewardship.assurance.service import claims, decisions, dues
from stewardship.complaints.models import Complaint
from stewardship.complaints.rules import SubjectKind
from stewardship.complaints.schemas import ComplaintCreate
from stewardship.complaints.service import filing
from stewardship.core.auth import Actor, Role
from stewardship.core.config import Settings
from stewardship.custody.models import CocDocument
from stewardship.custody.rules import UNMATCHED_DAYS
from stewardship.registry.schemas import InvitationCreate
from stewardship.registry.service import accounts
from tests import assurance_world as aw
from tests import custody_world as cw
from tests import factories
from tests.api.pages import text
from tests.today import TODAY

DOCUMENT_LINK = re.compile(r'href="/custody/documents/(COC-[A-Z0-9-]+)"')
AUDIT_LINK = re.compile(r'href="/assurance/audits/([0-9a-f-]{36})"')
CASE_LINK = re.compile(r'href="/secretariat/complaints/([A-Z0-9-]+)"')
ORGANIZATION_LINK = re.compile(r'href="/organizations/([a-z0-9-]+)"')
CERTIFICATE_LINK = re.compile(r'href="/certificates/([A-Z0-9-]+)"')


def main(response: Response) -> str:
    """The page's own content, without the menu and the footer."""
    body = response.text
    return body.split('id="main"', 1)[-1].split("</main>", 1)[0]


def links(pattern: re.Pattern[str], response: Response) -> set[str]:
    return set(pattern.findall(main(response)))


def todo_link(response: Response, words: str) -> tuple[int, str]:
    """The count and the link of the to-do item whose text contains ``words``."""
    for item in re.findall(r'<li class="card todo-item[^"]*">(.*?)</li>', response.text,
                           flags=re.S):
        if words in " ".join(html.unescape(re.sub(r"<[^>]+>", " ", item)).split()):
            found = re.search(r'<a href="([^"]+)"><span class="stat">(\d+)</span>', item)
            assert found, item
            return int(found.group(2)), html.unescape(found.group(1))
    raise AssertionError(f"no to-do item says {words!r}")


def _issued_days_ago(db: Session, number: str, days: int) -> None:
    moment = datetime.combine(TODAY - timedelta(days=days), time(9), tzinfo=UTC)
    db.execute(update(CocDocument).where(CocDocument.number == number)
               .values(issued_at=moment))
    db.flush()


# --- a member user ------------------------------------------------------------------------


def test_a_member_user_sees_the_documents_waiting_for_its_receipt(
        db: Session, signed_in: Callable[[Actor], TestClient]) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 9_000, on=TODAY - timedelta(days=60))
    older = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 1_500, on=TODAY - timedelta(days=40))
    newer = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 2_000, on=TODAY - timedelta(days=9))
    received = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 500,
                       on=TODAY - timedelta(days=9))
    cw.receive(db, w.mill, received)
    theirs = cw.ship(db, w.smelter, w.remelter, "asi_aluminium", 700,
                     on=TODAY - timedelta(days=9))
    _issued_days_ago(db, older, 38)
    _issued_days_ago(db, newer, 8)

    mill = signed_in(w.mill.user)
    page = mill.get("/dashboard")
    assert page.status_code == 200
    count, url = todo_link(page, "wait for your receipt")
    assert (count, url) == (2, "/custody/documents?direction=incoming&status=issued")
    body = text(page)
    assert "The oldest has waited 38 days." in body
    waiting = main(page).split('id="waiting-heading"', 1)[1].split("</table>", 1)[0]
    assert DOCUMENT_LINK.findall(waiting) == [older, newer]  # oldest first
    assert "38 days" in waiting and "8 days" in waiting
    assert theirs not in page.text
    listed = mill.get(url)
    assert listed.status_code == 200
    assert links(DOCUMENT_LINK, listed) == {older, newer}
    # The other member's dashboard counts only what is addressed to it.
    other = signed_in(w.remelter.user).get("/dashboard")
    assert todo_link(other, "waits for your receipt")[0] == 1
    assert older not in other.text and newer not in other.text
    assert links(DOCUMENT_LINK, signed_in(w.remelter.user).get(url)) == {theirs}


def test_a_member_with_nothing_to_act_on_is_told_so(
        db: Session, signed_in: Callable[[Actor], TestClient]) -> None:
    w = cw.build(db)
    body = text(signed_in(w.canmaker.user).get("/dashboard"))
    assert "0 CoC documents wait for your receipt" in body
    assert "Nothing to act on: every document sent to you is received or rejected." in body
    assert "Nothing to act on: no finding is open." in body
    assert "Nothing to act on: no certificate is suspended or ends within 90 days." in body
    assert "need attention" not in body and "needs attention" not in body


def test_the_pages_name_the_thresholds_the_rules_set(
        db: Session, signed_in: Callable[[Actor], TestClient]) -> None:
    assert (EXPIRY_WARNING_DAYS, UNMATCHED_DAYS) == (90, 30)  # the numbers the pages promise
    w = cw.build(db)
    member = signed_in(w.canmaker.admin)
    soon = f"is suspended or ends within {EXPIRY_WARNING_DAYS} days"
    assert soon in text(member.get("/dashboard"))
    assert soon in text(member.get("/todo/certificates"))
    custody = member.get("/custody")
    assert custody.status_code == 200
    assert f'name="days" value="{UNMATCHED_DAYS}"' in custody.text
    assert member.get("/api/v1/custody/unmatched").json()["days"] == UNMATCHED_DAYS
    office = text(signed_in(w.secretariat).get("/dashboard"))
    assert f"unmatched after {UNMATCHED_DAYS} days" in office
    assert f"shipped over {UNMATCHED_DAYS} days ago" in office


def test_the_certificate_banner_names_suspended_and_soon_ending_certificates(
        db: Session, signed_in: Callable[[Actor], TestClient]) -> None:
    w = cw.build(db)
    ending = w.mill.certificates["performance"]
    suspended = w.mill.certificates["chain_of_custody"]
    db.execute(update(Certificate).where(Certificate.number == ending)
               .values(valid_until=TODAY + timedelta(days=30)))
    db.execute(update(Certificate).where(Certificate.number == suspended)
               .values(status="suspended"))
    db.flush()
    mill = signed_in(w.mill.admin)
    page = mill.get("/dashboard")
    banner = page.text.split('class="notice todo-banner"', 1)[1].split("</div>", 1)[0]
    assert "2 certificates need attention" in banner
    assert CERTIFICATE_LINK.findall(banner) == [suspended, ending]
    assert "suspended" in banner and "in 30 days" in banner
    # The banner comes before everything else on the dashboard.
    assert page.text.index("todo-banner") < page.text.index('id="todo-heading"')
    count, url = todo_link(page, "suspended or ending soon")
    assert (count, url) == (2, "/todo/certificates")
    listed = mill.get(url)
    assert listed.status_code == 200
    assert links(CERTIFICATE_LINK, listed) == {suspended, ending}
    # Another member sees no banner and none of these certificates.
    other = signed_in(w.smelter.admin)
    assert "todo-banner" not in other.get("/dashboard").text
    theirs = other.get(url)
    assert links(CERTIFICATE_LINK, theirs) == set()
    assert "Nothing to act on" in text(theirs)


def test_corrective_actions_are_counted_with_due_dates_and_overdue_marked(
        db: Session, signed_in: Callable[[Actor], TestClient]) -> None:
    w = aw.build(db)
    s = aw.scope(db, w)
    audit_id = aw.plan(db, w, s.id, start_on=TODAY - timedelta(days=80))
    aw.start(db, w, audit_id)
    aw.rate_all(db, w, audit_id, s, majors=1, minors=1)
    aw.submit_and_review(db, w, audit_id)
    decisions.decide_audit(db, w.secretariat, audit_id, Note())
    criteria = aw.applicable(s)[:2]
    member = signed_in(w.member_user)
    page = member.get("/dashboard")
    count, url = todo_link(page, "corrective actions due")
    assert (count, url) == (2, "/todo/corrective-actions")
    item = text(page).split("corrective actions due", 1)[1][:40]
    assert "overdue" in item  # the plans were due a month after the audit
    listed = member.get(url)
    assert listed.status_code == 200
    rows = re.findall(r"<tr[^>]*>.*?</tr>", main(listed).split("<tbody>", 1)[1], flags=re.S)
    assert len(rows) == 2 and all('class="is-overdue"' in r for r in rows)
    assert all(f'href="/assurance/audits/{audit_id}#findings"' in r for r in rows)
    body = text(listed)
    assert f"Corrective action plan for the major non-conformity on {criteria[0]}" in body
    assert f"Corrective action plan for the minor non-conformity on {criteria[1]}" in body
    assert "Overdue" in body
    # Another member: nothing; the secretariat: everyone's, with the member named.
    other = signed_in(w.other_admin)
    assert todo_link(other.get("/dashboard"), "corrective actions due")[0] == 0
    assert "Nothing to act on: no finding is open." in text(other.get(url))
    office = signed_in(w.secretariat).get(url)
    assert office.status_code == 200 and w.org in links(ORGANIZATION_LINK, office)


# --- a member admin -----------------------------------------------------------------------


def test_a_member_admin_also_sees_its_scopes_audit_steps_and_invitations(
        db: Session, settings: Settings, signed_in: Callable[[Actor], TestClient]) -> None:
    w = aw.build(db)
    s = aw.scope(db, w)
    audit_id = aw.plan(db, w, s.id, start_on=TODAY + timedelta(days=70))
    accounts.invite(db, w.admin, InvitationCreate(email="nora@fjord.example",
                                                  name="Nora Nilsen", role="member_user"),
                    settings)
    page = signed_in(w.admin).get("/dashboard")
    assert page.status_code == 200
    scopes = main(page).split('id="scopes-heading"', 1)[1].split("</section>", 1)[0]
    assert s.name in html.unescape(scopes)
    assert f"0 of {len(aw.applicable(s))} answered" in scopes
    assert f'href="/assurance/scopes/{s.id}/self-assessment"' in scopes
    assert f'href="/assurance/audits/{audit_id}"' in scopes
    assert "You: send the audit plan to the secretariat" in text_of(scopes)
    assert todo_link(page, "invitation not yet accepted") == (1, "/members/users")
    # The member user sees the same to-do items but not the scope steps.
    user_page = signed_in(w.member_user).get("/dashboard")
    assert 'id="scopes-heading"' not in user_page.text
    assert "invitations not yet accepted" not in text(user_page)
    # Another member sees none of it.
    other = signed_in(w.other_admin).get("/dashboard")
    assert s.name not in html.unescape(other.text)
    assert "No certification scope is defined yet" in text(other)


def text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


# --- the secretariat ----------------------------------------------------------------------


def _complaint(db: Session, settings: Settings, member: str, summary: str) -> str:
    case, _ = filing.file_complaint(db, None, ComplaintCreate(
        subject_kind=SubjectKind.MEMBER, subject=member, summary=summary,
        description="What the village has seen for months.", anonymous=True),
        [], settings=settings, source="203.0.113.7")
    db.flush()
    return case.reference


def test_the_secretariat_sees_what_waits_for_it_and_each_list_shows_exactly_that(
        db: Session, settings: Settings, signed_in: Callable[[Actor], TestClient]) -> None:
    chain = cw.build(db)
    cw.produce(db, chain.smelter, "asi_aluminium", 9_000, on=TODAY - timedelta(days=60))
    stale = {cw.ship(db, chain.smelter, chain.mill, "asi_aluminium", 1_000,
                     on=TODAY - timedelta(days=45)),
             cw.ship(db, chain.smelter, chain.remelter, "asi_aluminium", 1_000,
                     on=TODAY - timedelta(days=31))}
    fresh = cw.ship(db, chain.smelter, chain.mill, "asi_aluminium", 1_000,
                    on=TODAY - timedelta(days=30))
    w = aw.build(db)
    s = aw.scope(db, w)
    submitted = aw.plan(db, w, s.id)
    aw.start(db, w, submitted)
    aw.rate_all(db, w, submitted, s)
    aw.submit_and_review(db, w, submitted)
    running = aw.plan(db, w, aw.scope(db, w, facilities=[w.casthouse],
                                      activities=["casthouse"]).id)
    open_cases = {_complaint(db, settings, w.org, "Dust on the fields"),
                  _complaint(db, settings, w.org, "Noise at night")}
    closed = _complaint(db, settings, w.org, "Water in the cellar")
    db.execute(update(Complaint).where(Complaint.reference == closed)
               .values(status="closed", due_on=None))
    late = sorted(open_cases)[0]
    db.execute(update(Complaint).where(Complaint.reference == late)
               .values(due_on=TODAY - timedelta(days=1)))
    db.flush()
    office = signed_in(w.secretariat)
    page = office.get("/dashboard")
    assert page.status_code == 200

    count, url = todo_link(page, "audit report awaiting review")
    assert (count, url) == (1, "/secretariat/audits")
    assert links(AUDIT_LINK, office.get(url)) == {str(submitted)}
    assert str(running) not in office.get(url).text

    count, url = todo_link(page, "open complaints")
    assert (count, url) == (2, "/secretariat/complaints?open=yes")
    assert links(CASE_LINK, office.get(url)) == open_cases
    assert 'href="/secretariat/complaints?open=yes&amp;overdue=yes">1 overdue' in page.text
    assert links(CASE_LINK, office.get("/secretariat/complaints?open=yes&overdue=yes")) \
        == {late}
    soonest = main(page).split('id="complaints-due-heading"', 1)[1].split("</table>", 1)[0]
    assert CASE_LINK.findall(soonest)[0] == late and closed not in soonest

    count, url = todo_link(page, "unmatched after 30 days")
    assert count == 2
    assert url == ("/custody/documents?status=issued&shipped_to="
                   f"{(TODAY - timedelta(days=31)).isoformat()}")
    unmatched = office.get(url)
    assert unmatched.status_code == 200
    assert links(DOCUMENT_LINK, unmatched) == stale and fresh not in unmatched.text

    overdue = {m.organization.slug for m in dues.overdue_members(db, w.secretariat)}
    assert w.org in overdue  # joined three years ago, never certified
    assert chain.mill.slug not in overdue  # certified
    count, url = todo_link(page, "past their certification deadline")
    assert (count, url) == (len(overdue), "/todo/overdue-members")
    listed = office.get(url)
    assert listed.status_code == 200 and links(ORGANIZATION_LINK, listed) == overdue


def test_an_empty_secretariat_dashboard_says_there_is_nothing_to_act_on(
        db: Session, signed_in: Callable[[Actor], TestClient]) -> None:
    body = text(signed_in(factories.user(db, Role.SECRETARIAT)).get("/dashboard"))
    assert "Nothing to act on: no audit report is waiting for a decision." in body
    assert "Nothing to act on: every complaint is closed." in body
    assert "Nothing to act on: no claim waits for a decision." in body


def test_claim_requests_waiting_for_a_decision_are_counted(
        db: Session, signed_in: Callable[[Actor], TestClient]) -> None:
    w = aw.build(db)
    decision = aw.certify(db, w, aw.scope(db, w))
    assert decision.certificate is not None
    for wording in ("Our Fjord smelter is certified", "Certified aluminium from Norway"):
        claims.request_claim(db, w.admin, ClaimCreate(
            certificate=decision.certificate.number, kind=ClaimKind.OFF_PRODUCT,
            wording=wording))
    db.flush()
    office = signed_in(w.secretariat)
    count, url = todo_link(office.get("/dashboard"), "claim requests to decide")
    assert (count, url) == (2, "/secretariat/claims?status=requested")
    listing = text(office.get(url))
    assert "Our Fjord smelter is certified" in listing
    assert "Certified aluminium from Norway" in listing


# --- an auditor ---------------------------------------------------------------------------


def test_the_auditor_counts_its_audits_by_step_and_each_links_to_exactly_those(
        db: Session, signed_in: Callable[[Actor], TestClient]) -> None:
    w = aw.build(db)
    s = aw.scope(db, w)
    running = aw.plan(db, w, s.id)
    aw.start(db, w, running)
    later = aw.build(db, standard=False)
    planned = aw.plan(db, later, aw.scope(db, later).id, firm=w.firm,
                      lead=w.lead_auditor_id, start_on=TODAY + timedelta(days=40))
    elsewhere = aw.plan(db, w, aw.scope(db, w, facilities=[w.casthouse],
                                        activities=["casthouse"]).id,
                        firm=w.other_firm, lead=w.extra["other_lead_auditor_id"])
    auditor = signed_in(w.auditor)
    page = auditor.get("/dashboard")
    assert "No audits are assigned" not in text(page)
    for words, wanted, status in (("in progress", {str(running)}, "in_progress"),
                                  ("planned", {str(planned)}, "planned"),
                                  ("submitted", set(), "submitted")):
        count, url = todo_link(page, words)
        assert (count, url) == (len(wanted), f"/assurance/audits?status={status}")
        listed = auditor.get(url)
        assert listed.status_code == 200 and links(AUDIT_LINK, listed) == wanted
    assert str(elsewhere) not in page.text
    assert f"The next starts on {(TODAY + timedelta(days=40)):%d %b %Y}." in text(page)
    assert links(AUDIT_LINK, auditor.get("/assurance/audits")) == {str(running), str(planned)}


# --- who may open the to-do lists, and bad filters ---------------------------------------


@pytest.mark.parametrize(("url", "allowed"), [
    ("/todo/certificates", {Role.MEMBER_ADMIN, Role.MEMBER_USER}),
    ("/todo/corrective-actions", {Role.SECRETARIAT, Role.MEMBER_ADMIN, Role.MEMBER_USER}),
    ("/todo/overdue-members", {Role.SECRETARIAT}),
])
def test_who_may_open_the_to_do_lists(db: Session, client: TestClient,
                                      signed_in: Callable[[Actor], TestClient], url: str,
                                      allowed: set[Role]) -> None:
    org = factories.organization(db)
    firm = factories.audit_firm(db)
    anonymous = client.get(url, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login?next=")
    for role in Role:
        actor = factories.user(db, role, organization=org if role in (
            Role.MEMBER_ADMIN, Role.MEMBER_USER) else None,
            audit_firm=firm if role is Role.AUDITOR else None)
        answer = signed_in(actor).get(url)
        assert answer.status_code == (200 if role in allowed else 403), (role, answer.text)


def test_bad_list_filters_are_explained_not_500(
        db: Session, signed_in: Callable[[Actor], TestClient]) -> None:
    w = aw.build(db, standard=False)
    audits = signed_in(w.admin).get("/assurance/audits?status=finished")
    assert audits.status_code == 422
    assert "The status is planned, in progress, submitted, decided or cancelled." in text(audits)
    documents = signed_in(w.admin).get("/custody/documents?shipped_to=yesterday")
    assert documents.status_code == 422
    assert "The shipment date is a date such as 2026-03-31." in text(documents)
