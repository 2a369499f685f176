"""Every form of every context fails the same way and succeeds the same way.

The walk below enumerates the app's page routes that take a POST and submits an empty form
to each (as a role allowed to use it, from the page that shows the form). A failed submit
answers 4xx with the page itself: the error summary is the first thing in <main>, each of
its links leads to a field of the page, and the summary names the form's own page so that
forms.js can put that address back (a reload then shows the page, it does not send again).
Each linked field also has its own message beside it ("error-<name>", the form macros'),
unless the link leads to the message itself. A submit that succeeds answers 303
(post/redirect/get), never a 200 page (the tests of each context's pages follow them).
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from stewardship.assurance.models import Finding
from stewardship.assurance.rules import ClaimKind, Maturity
from stewardship.assurance.schemas import ClaimCreate, CorrectivePlan, Note, ReportSubmit
from stewardship.assurance.service import audits, claims, decisions, findings
from stewardship.carbon.schemas import InventoryCreate
from stewardship.carbon.service import inventories
from stewardship.complaints.rules import AttachmentUpload, ComplaintStatus, Sanction, SubjectKind
from stewardship.complaints.schemas import ComplaintCreate, TransitionRequest
from stewardship.complaints.service import filing, handling
from stewardship.core.auth import Actor, Role
from stewardship.core.config import Settings
from stewardship.core.web import SESSION_COOKIE
from stewardship.custody.models import CustodyOperation
from stewardship.registry import repository as registry_repo
from stewardship.registry.schemas import InvitationCreate, OrganizationUpdate
from stewardship.registry.service import accounts, organizations
from stewardship.standards.demo import shipped_package_text
from stewardship.standards.rules import Chamber, Choice
from stewardship.standards.schemas import (
    BodyMemberCreate,
    CommentCreate,
    RevisionCreate,
    RoundOpen,
    VoteOpen,
)
from stewardship.standards.service import revisions, votes
from tests import assurance_world as aw
from tests import carbon_world, factories
from tests import custody_world as cw
from tests.api.pages import csrf_in
from tests.today import TODAY

API = ("/api/", "/epcis", "/pact")
MAIN = re.compile(r'<main id="main"[^>]*>\s*(<[^>]+>)', re.S)
LINKS = re.compile(r'<div class="form-errors" id="error-summary".*?</div>', re.S)
HREF = re.compile(r'href="#(field-[^"]+)"')

# Routes that take a POST but are not forms with fields to get wrong: a button whose empty
# submit is the whole request, or a form whose only failures are not about its fields.
NOT_FORMS = {
    "/logout": "a button; signing out has no fields",
    "/account/tokens/{token_id}/revoke": "a button beside each token; no fields",
    "/secretariat/revisions/{revision_id}/rounds/close": "a button; closing has no fields",
    "/secretariat/integrity/check": "a button; checking the database has no fields",
    "/secretariat/revisions/{revision_id}/votes/{vote_id}/close": "a button; no fields",
    "/login/link/{token}": "a button; the e-mailed link's token is the whole input",
    "/complaints/track/{token}/consent": "a yes/no box; either answer is valid",
    "/complaints/{reference}/respondent-consent": "a yes/no box; either answer is valid",
    "/secretariat/complaints/{reference}/respondent-consent": "a yes/no box; either answer "
                                                              "is valid",
    "/secretariat/complaints/{reference}/assign": "a choice of owner in which no owner (the "
                                                  "case unassigned) is valid too",
    "/members/facilities/check": "the duplicate check answers 303 to the form's own page, "
                                 "whose GET shows the check (test_registry_facility_pages)",
    "/assurance/audits/{audit_id}/review": "its one field, a note, is optional: an empty "
                                           "submit is a valid review",
    "/assurance/audits/{audit_id}/decision": "its one field, a note, is optional: an empty "
                                             "submit is a valid decision",
    "/assurance/scopes/{scope_id}/self-assessment/move": "shown only while an older version "
        "of a standard is in transition, a world of its own; its failure is the same "
        "_assessment_page as the answers' (walked here)",
    "/assurance/scopes/{scope_id}/self-assessment/answers/{criterion}": "one criterion's "
        "answer, kept for links and scripts made before the page saved every answer in one "
        "form (that form, .../answers, is walked)",
    "/custody/network/audit": "runs the balance audit of a year; a query, not a form that "
                              "changes anything (its year has a default)",
    "/secretariat/log/checkpoint": "a button; signing a checkpoint now has no fields",
    "/members/pact-clients/{client_pk}/revoke": "a button beside each PACT client; no fields",
}


@dataclass
class Walk:
    """The world the walk submits into: objects for every route's path, the actors."""

    actors: dict[str, Actor]
    paths: dict[str, str]
    forms: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    """declared path -> (actor key, POST url, the page that shows the form)."""


def post_routes(app: FastAPI) -> list[str]:
    found = []
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.path:
            continue
        if "POST" in (route.methods or set()) and not route.path.startswith(API):
            found.append(route.path)
    return sorted(set(found))


def build(db: Session, settings: Settings) -> Walk:
    w = aw.build(db)
    chain = cw.build(db)
    scope = aw.scope(db, w)
    decided = aw.certify(db, w, scope, minors=1)
    assert decided.certificate is not None
    finding = db.scalar(select(Finding.id).where(Finding.audit_id == decided.audit_id))
    claim = claims.request_claim(db, w.admin, ClaimCreate(
        certificate=decided.certificate.number, kind=ClaimKind.OFF_PRODUCT,
        wording="Our Fjord smelter is certified"))
    cw.produce(db, chain.smelter, "asi_aluminium", 5_000)
    cw.produce(db, chain.smelter, "asi_aluminium", 1_000, on=date(TODAY.year - 1, 6, 1))
    operation = db.scalar(select(CustodyOperation.id).limit(1))
    number = cw.ship(db, chain.smelter, chain.mill, "asi_aluminium", 3_000)
    case, track = filing.file_complaint(db, None, ComplaintCreate(
        subject_kind=SubjectKind.MEMBER, subject=w.org, summary="Dust on the fields",
        description="The trucks run uncovered at night past the village.", anonymous=True,
    ), [AttachmentUpload("notes.txt", b"dates")], settings=settings, source="203.0.113.5")
    draft = re.sub(r"^version: 3$", "version: 4", shipped_package_text("performance-v3.yaml"),
                   count=1, flags=re.M)
    revision = revisions.create_revision(db, w.secretariat, RevisionCreate(
        standard="performance", title="Performance Standard version 4",
        summary="Updates the GHG pathway.", draft=draft))
    revisions.open_round(db, w.secretariat, revision.id, RoundOpen(
        opens_on=TODAY - timedelta(days=10), closes_on=TODAY + timedelta(days=50)), settings)
    comment = revisions.add_comment(db, w.member_user, revision.id,
                                    CommentCreate(body="Please keep the 2030 date."), settings)
    voter = factories.user(db, Role.MEMBER_USER, organization=factories.organization(db))
    seat = votes.add_body_member(db, w.secretariat, BodyMemberCreate(
        email=voter.email, chamber=Chamber.CIVIL_SOCIETY, affiliation="Watershed Watch",
        term_starts_on=TODAY - timedelta(days=30), term_ends_on=TODAY + timedelta(days=700)))
    voted = revisions.create_revision(db, w.secretariat, RevisionCreate(
        standard="performance", title="Performance Standard version 4 bis", draft=draft))
    revisions.open_round(db, w.secretariat, voted.id, RoundOpen(
        opens_on=TODAY - timedelta(days=150), closes_on=TODAY - timedelta(days=90)), settings)
    revisions.close_round(db, w.secretariat, voted.id)
    vote = votes.open_vote(db, w.secretariat, voted.id,
                           VoteOpen(closes_on=TODAY + timedelta(days=14)), settings).votes[-1]
    _, invitation = accounts.invite(db, w.admin, InvitationCreate(
        name="Ina Invited", email="ina@fjord.example", role=Role.MEMBER_USER,
        organization=w.org), settings)
    applicant = factories.organization(db, name="Applicant Metals", admitted=False)
    organizations.update_organization(db, w.admin, w.org,
                                      OrganizationUpdate(name="Fjord Aluminium Renamed"))
    assert decided.certificate is not None
    findings.file_corrective_plan(db, w.admin, finding, CorrectivePlan(
        plan="Retrain the shift leads and check every month."))
    audits_by_step = _audits_by_step(db)
    resolved, appeal_token = _resolved_complaint(db, settings, w.org, w.secretariat)
    fresh, consulted, approved = _revisions(db, w.secretariat, draft, voter, settings)
    inventory = inventories.record_inventory(db, chain.smelter.user, InventoryCreate(
        **carbon_world.smelter_body(TODAY.year - 1)))
    db.flush()
    return Walk(
        actors={"secretariat": w.secretariat, "admin": w.admin, "user": w.member_user,
                "auditor": w.auditor, "smelter": chain.smelter.user, "mill": chain.mill.user,
                "smelter_admin": chain.smelter.admin, "voter": voter,
                **{f"{step}_{role}": actor for step, (_, actors) in audits_by_step.items()
                   for role, actor in actors.items()}},
        paths={"slug": w.org, "applicant": applicant, "facility_id": w.smelter,
               "audit_id": str(decided.audit_id), "scope_id": str(scope.id),
               "finding_id": str(finding), "criterion": aw.applicable(scope)[0],
               "number": number, "reference": case.reference, "token": track,
               "revision_id": str(revision.id), "comment_id": str(comment.id),
               "member_id": str(getattr(seat, "id", "")), "vote_id": str(vote.id),
               "voted_revision": str(voted.id), "cert": decided.certificate.number,
               "claim_id": str(claim.id), "firm": w.firm, "invitation": invitation,
               "user_id": str(w.member_user.user_id), "operation_id": str(operation),
               "kind": "production", "this_year": f"{TODAY.year}-01-01",
               "smelter_entity": str(chain.smelter.entity_id),
               "resolved": resolved, "appeal_token": appeal_token,
               "fresh_revision": fresh, "consulted_revision": consulted,
               "approved_revision": approved, "inventory_id": str(inventory.id),
               **{f"{step}_audit": audit_id for step, (audit_id, _) in audits_by_step.items()}},
    )


def _audits_by_step(db: Session) -> dict[str, tuple[str, dict[str, Actor]]]:
    """One audit at each step whose forms differ (each of its own member, one audit a
    scope): planned, running, report submitted, report reviewed."""
    out = {}
    for step in ("planned", "running", "submitted", "reviewed"):
        w = aw.build(db)
        scope = aw.scope(db, w)
        audit_id = aw.plan(db, w, scope.id)
        if step != "planned":
            aw.start(db, w, audit_id)
        if step in ("submitted", "reviewed"):
            aw.rate_all(db, w, audit_id, scope)
            audits.submit_report(db, w.auditor, audit_id, ReportSubmit(
                proposed_maturity=Maturity.HIGH,
                public_summary="The audit covered both sites; see the findings."))
        if step == "reviewed":
            decisions.review_report(db, w.secretariat, audit_id, Note(note="complete"))
        out[step] = (str(audit_id), {"admin": w.admin, "auditor": w.auditor,
                                     "secretariat": w.secretariat})
    return out


def _resolved_complaint(db: Session, settings: Settings, org: str,
                        staff: Actor) -> tuple[str, str]:
    case, token = filing.file_complaint(db, None, ComplaintCreate(
        subject_kind=SubjectKind.MEMBER, subject=org, summary="Noise at night",
        description="The casthouse runs its fans all night.", anonymous=True,
    ), [], settings=settings, source="203.0.113.6")
    for to in (ComplaintStatus.ACCEPTED, ComplaintStatus.MEDIATION):
        handling.transition(db, staff, case.reference, TransitionRequest(to=to),
                            settings=settings)
    handling.transition(db, staff, case.reference, TransitionRequest(
        to=ComplaintStatus.RESOLVED, outcome="Not upheld: the noise is a neighbour's.",
        public_note=True, sanctions=[Sanction.NONE]), settings=settings)
    return case.reference, token


def _revisions(db: Session, staff: Actor, draft: str, voter: Actor,
               settings: Settings) -> tuple[str, str, str]:
    """A revision still a draft, one whose round is closed, one approved by a vote."""
    def revision(title: str) -> uuid.UUID:
        return revisions.create_revision(db, staff, RevisionCreate(
            standard="performance", title=title, draft=draft)).id

    fresh = revision("Performance Standard version 4 ter")
    ids = []
    for title in ("Performance Standard version 4 quater", "Performance Standard version 4 q"):
        rid = revision(title)
        revisions.open_round(db, staff, rid, RoundOpen(
            opens_on=TODAY - timedelta(days=150), closes_on=TODAY - timedelta(days=90)),
            settings)
        revisions.close_round(db, staff, rid)
        ids.append(rid)
    opened = votes.open_vote(db, staff, ids[1], VoteOpen(closes_on=TODAY + timedelta(days=14)),
                             settings).votes[-1]
    votes.cast(db, voter, opened.id, Choice.YES)
    votes.close_vote(db, staff, opened.id)
    return str(fresh), str(ids[0]), str(ids[1])


# declared path -> (who submits, the POST address, the page that shows the form)
FORMS: dict[str, tuple[str, str, str]] = {
    "/login": ("", "/login", "/login"),
    "/login/link": ("", "/login/link", "/login/link"),
    "/account/tokens": ("user", "/account/tokens", "/account/tokens"),
    "/organizations/{slug}/entities": ("admin", "/organizations/{slug}/entities",
                                       "/organizations/{slug}"),
    "/organizations/{slug}/name": ("admin", "/organizations/{slug}/name",
                                   "/organizations/{slug}"),
    "/organizations/{slug}/name-change": ("secretariat", "/organizations/{slug}/name-change",
                                          "/organizations/{slug}"),
    "/organizations/{slug}/admit": ("secretariat", "/organizations/{applicant}/admit",
                                    "/organizations/{applicant}"),
    "/organizations/{slug}/status": ("secretariat", "/organizations/{slug}/status",
                                     "/organizations/{slug}"),
    "/members/facilities/{facility_id}/time-zone": (
        "admin", "/members/facilities/{facility_id}/time-zone", "/facilities/{facility_id}"),
    "/facilities/{facility_id}/capacities": ("admin", "/facilities/{facility_id}/capacities",
                                             "/facilities/{facility_id}"),
    "/members/facilities/new": ("admin", "/members/facilities/new", "/members/facilities/new"),
    "/secretariat/facilities/merge": ("secretariat", "/secretariat/facilities/merge",
                                      "/secretariat/facilities/merge"),
    "/invitations/{token}": ("", "/invitations/{invitation}", "/invitations/{invitation}"),
    "/members/users/invite": ("admin", "/members/users/invite", "/members/users"),
    "/members/users/{user_id}": ("admin", "/members/users/{user_id}", "/members/users"),
    "/secretariat/organizations": ("secretariat", "/secretariat/organizations",
                                   "/secretariat/organizations"),
    "/audit-firms/{slug}/auditors": ("secretariat", "/audit-firms/{firm}/auditors",
                                     "/audit-firms/{firm}"),
    "/audit-firms/{slug}/invitations": ("secretariat", "/audit-firms/{firm}/invitations",
                                        "/audit-firms/{firm}"),
    "/secretariat/audit-firms": ("secretariat", "/secretariat/audit-firms",
                                 "/secretariat/audit-firms"),
    "/complaints/new": ("", "/complaints/new", "/complaints/new"),
    "/complaints/track/{token}/appeal": ("", "/complaints/track/{appeal_token}/appeal",
                                         "/complaints/track/{appeal_token}"),
    "/secretariat/complaints/{reference}/transition": (
        "secretariat", "/secretariat/complaints/{reference}/transition",
        "/secretariat/complaints/{reference}"),
    "/consultations/{revision_id}/comments": ("", "/consultations/{revision_id}/comments",
                                              "/consultations/{revision_id}"),
    "/votes/{vote_id}/ballot": ("voter", "/votes/{vote_id}/ballot", "/votes/{vote_id}"),
    "/secretariat/standards": ("secretariat", "/secretariat/standards",
                               "/secretariat/standards"),
    "/secretariat/standards/body": ("secretariat", "/secretariat/standards/body",
                                    "/secretariat/standards/body"),
    "/secretariat/standards/body/import": ("secretariat", "/secretariat/standards/body/import",
                                           "/secretariat/standards/body"),
    "/secretariat/standards/body/{member_id}/end": (
        "secretariat", "/secretariat/standards/body/{member_id}/end",
        "/secretariat/standards/body"),
    "/secretariat/revisions": ("secretariat", "/secretariat/revisions",
                               "/secretariat/revisions"),
    "/secretariat/revisions/{revision_id}/draft": (
        "secretariat", "/secretariat/revisions/{fresh_revision}/draft",
        "/secretariat/revisions/{fresh_revision}"),
    "/secretariat/revisions/{revision_id}/rounds": (
        "secretariat", "/secretariat/revisions/{fresh_revision}/rounds",
        "/secretariat/revisions/{fresh_revision}"),
    "/secretariat/revisions/{revision_id}/comments/{comment_id}/response": (
        "secretariat", "/secretariat/revisions/{revision_id}/comments/{comment_id}/response",
        "/secretariat/revisions/{revision_id}"),
    "/secretariat/revisions/{revision_id}/votes": (
        "secretariat", "/secretariat/revisions/{consulted_revision}/votes",
        "/secretariat/revisions/{consulted_revision}"),
    "/secretariat/revisions/{revision_id}/publish": (
        "secretariat", "/secretariat/revisions/{approved_revision}/publish",
        "/secretariat/revisions/{approved_revision}"),
    "/secretariat/revisions/{revision_id}/withdraw": (
        "secretariat", "/secretariat/revisions/{revision_id}/withdraw",
        "/secretariat/revisions/{revision_id}"),
    "/assurance/scopes/{scope_id}/audits": ("admin", "/assurance/scopes/{scope_id}/audits",
                                            "/assurance/scopes/{scope_id}"),
    "/assurance/audits/{audit_id}/plan": (
        "planned_admin", "/assurance/audits/{planned_audit}/plan",
        "/assurance/audits/{planned_audit}"),
    "/assurance/audits/{audit_id}/plan-received": (
        "planned_secretariat", "/assurance/audits/{planned_audit}/plan-received",
        "/assurance/audits/{planned_audit}"),
    "/assurance/audits/{audit_id}/reschedule": (
        "planned_secretariat", "/assurance/audits/{planned_audit}/reschedule",
        "/assurance/audits/{planned_audit}"),
    "/assurance/audits/{audit_id}/start": (
        "planned_auditor", "/assurance/audits/{planned_audit}/start",
        "/assurance/audits/{planned_audit}"),
    "/assurance/audits/{audit_id}/findings/{finding_id}/corrective-plan": (
        "admin", "/assurance/audits/{audit_id}/findings/{finding_id}/corrective-plan",
        "/assurance/audits/{audit_id}"),
    "/assurance/audits/{audit_id}/ratings/rest": (
        "running_auditor", "/assurance/audits/{running_audit}/ratings/rest",
        "/assurance/audits/{running_audit}/ratings/rest"),
    "/assurance/scopes/{scope_id}/self-assessment/answers": (
        "admin", "/assurance/scopes/{scope_id}/self-assessment/answers",
        "/assurance/scopes/{scope_id}/self-assessment"),
    "/verify/credential": ("", "/verify/credential", "/verify/credential"),
    "/secretariat/log/witnesses": ("secretariat", "/secretariat/log/witnesses",
                                   "/secretariat/log"),
    "/assurance/audits/{audit_id}/ratings": (
        "running_auditor", "/assurance/audits/{running_audit}/ratings",
        "/assurance/audits/{running_audit}/ratings"),
    "/assurance/audits/{audit_id}/findings/{finding_id}/closure": (
        "auditor", "/assurance/audits/{audit_id}/findings/{finding_id}/closure",
        "/assurance/audits/{audit_id}/ratings"),
    "/assurance/audits/{audit_id}/report": (
        "running_auditor", "/assurance/audits/{running_audit}/report",
        "/assurance/audits/{running_audit}/ratings"),
    "/assurance/audits/{audit_id}/return": (
        "submitted_secretariat", "/assurance/audits/{submitted_audit}/return",
        "/assurance/audits/{submitted_audit}"),
    "/assurance/scopes": ("admin", "/assurance/scopes", "/assurance/scopes"),
    "/assurance/scopes/{scope_id}/self-assessment/evidence": (
        "admin", "/assurance/scopes/{scope_id}/self-assessment/evidence",
        "/assurance/scopes/{scope_id}/self-assessment"),
    "/certificates/{number}/status": ("secretariat", "/certificates/{cert}/status",
                                      "/certificates/{cert}"),
    "/certificates/{number}/claims": ("admin", "/certificates/{cert}/claims",
                                      "/certificates/{cert}"),
    "/secretariat/claims/{claim_id}/decide": (
        "secretariat", "/secretariat/claims/{claim_id}/decide", "/secretariat/claims"),
    "/secretariat/certificates/import": ("secretariat", "/secretariat/certificates/import",
                                         "/secretariat/certificates/import"),
    "/custody/documents": ("smelter", "/custody/documents", "/custody"),
    "/custody/documents/{number}/receive": ("mill", "/custody/documents/{number}/receive",
                                            "/custody/documents/{number}"),
    "/custody/documents/{number}/reject": ("mill", "/custody/documents/{number}/reject",
                                           "/custody/documents/{number}"),
    "/custody/documents/{number}/cancel": ("smelter", "/custody/documents/{number}/cancel",
                                           "/custody/documents/{number}"),
    "/custody/record/{kind}": ("smelter", "/custody/record/{kind}", "/custody/record/{kind}"),
    "/custody/journal/{operation_id}/reverse": (
        "smelter", "/custody/journal/{operation_id}/reverse",
        "/custody/journal/{operation_id}/reverse"),
    "/custody/periods/close": ("smelter_admin", "/custody/periods/close", "/custody/periods"),
    "/custody/settings": ("smelter_admin", "/custody/settings", "/custody/settings"),
    "/members/pact-clients": ("smelter_admin", "/members/pact-clients", "/members/pact-clients"),
    "/carbon/inventories/new": ("smelter", "/carbon/inventories/new",
                                "/carbon/inventories/new"),
    "/carbon/inventories/import": ("smelter", "/carbon/inventories/import",
                                   "/carbon/inventories/import"),
    "/carbon/inventories/{inventory_id}/correct": (
        "smelter", "/carbon/inventories/{inventory_id}/correct",
        "/carbon/inventories/{inventory_id}/correct"),
}
# The empty form that each route is sent, where an empty one would not fail (a
# confirmation box, say): the fields that make the submit wrong in another way.
DATA: dict[str, dict[str, str]] = {
    "/organizations/{slug}/admit": {"joined_on": "31/02/2026"},
    "/custody/documents/{number}/receive": {"received_on": "2026-13-45"},
    "/custody/settings": {"entity_id": "{smelter_entity}", "period_months": "often"},
    "/custody/periods/close": {"entity_id": "{smelter_entity}", "period_start": "{this_year}"},
    "/facilities/{facility_id}/capacities": {"activity": "smelting",
                                             "annual_capacity_kg": "a lot"},
    "/secretariat/claims/{claim_id}/decide": {"decision": "reject"},
}


@pytest.fixture
def walk(db: Session, settings: Settings) -> Walk:
    return build(db, settings)


@pytest.fixture
def browser_for(app: FastAPI, db: Session, settings: Settings) -> Callable[[str], TestClient]:
    def make(who: Actor | None) -> TestClient:
        browser = TestClient(app, raise_server_exceptions=False)
        if who is not None:
            assert who.user_id is not None
            user = registry_repo.user_by_id(db, who.user_id)
            assert user is not None
            browser.cookies.set(SESSION_COOKIE, accounts.start_session(db, user, settings))
            db.flush()
        return browser

    return make  # type: ignore[return-value]


def summary_problems(response: Response, form_page: str) -> list[str]:
    """What is wrong with a failed submit's page, as a list of sentences (none: all right)."""
    page = response.text
    problems = []
    if not 400 <= response.status_code < 500:
        problems.append(f"answers {response.status_code}, not 4xx")
    if "text/html" not in response.headers.get("content-type", ""):
        return [*problems, "does not answer a page"]
    first = MAIN.search(page)
    if not first or 'id="error-summary"' not in first.group(1):
        found = first.group(1) if first else "no <main>"
        return [*problems, f"the first thing in <main> is {found[:80]}, not the summary"]
    summary = LINKS.search(page)
    assert summary
    if f'data-form-page="{html.escape(form_page)}"' not in summary.group(0):
        problems.append(f"the summary does not name the form's page {form_page}")
    for target in HREF.findall(summary.group(0)):
        if f'id="{target}"' not in page:
            problems.append(f"the summary links to #{target}, which the page does not have")
        elif f'id="error-{target.removeprefix("field-")}"' not in page \
                and f'id="{target}" tabindex="-1"' not in page:
            problems.append(f"#{target} has no message of its own beside it")
    return problems


def test_every_page_post_route_is_walked_or_set_aside_with_a_reason(app: FastAPI) -> None:
    routes = set(post_routes(app))
    assert routes == set(FORMS) | set(NOT_FORMS), (
        f"not walked: {sorted(routes - set(FORMS) - set(NOT_FORMS))}; "
        f"gone: {sorted((set(FORMS) | set(NOT_FORMS)) - routes)}")
    assert not set(FORMS) & set(NOT_FORMS)


def test_every_form_fails_with_the_summary_first_linking_to_its_fields(
        walk: Walk, browser_for: Callable[[Actor | None], TestClient]) -> None:
    problems: dict[str, list[str]] = {}
    for declared, (who, url, page) in FORMS.items():
        url, page = url.format(**walk.paths), page.format(**walk.paths)
        browser = browser_for(walk.actors[who] if who else None)
        shown = browser.get(page)
        if shown.status_code != 200:
            problems[declared] = [f"its form page {page} answers {shown.status_code}"]
            continue
        token = csrf_in(shown.text)
        if f'action="{html.escape(url)}"' not in shown.text:
            problems[declared] = [f"its form page {page} shows no form posting to {url}"]
            continue
        data = {k: v.format(**walk.paths) for k, v in DATA.get(declared, {}).items()}
        sent = browser.post(url, data={**data, "csrf_token": token},
                            headers={"referer": f"http://testserver{page}"},
                            follow_redirects=False)
        found = summary_problems(sent, page)
        if found:
            problems[declared] = found
    assert not problems, "\n".join(f"{k}: {'; '.join(v)}" for k, v in problems.items())
