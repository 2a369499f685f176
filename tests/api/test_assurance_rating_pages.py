"""The rating page and the self-assessment page through HTTP: the requirement and the
member's self-assessment beside each criterion, "mark the rest conformant" with its
confirmation step (no JavaScript needed), and the self-assessment's one submit; who may
open and post each new page."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.assurance.rules import Rating
from stewardship.assurance.schemas import AnswerWrite, ScopeRead
from stewardship.assurance.service import audits, self_assessment
from stewardship.core.auth import Actor
from stewardship.standards.service import library
from tests import assurance_world as aw
from tests.api.pages import post, text


@pytest.fixture
def running(db: Session) -> tuple[aw.World, ScopeRead, uuid.UUID]:
    w = aw.build(db)
    s = aw.scope(db, w)
    audit_id = aw.plan(db, w, s.id)
    aw.start(db, w, audit_id)
    db.flush()
    return w, s, audit_id


def test_the_rating_page_shows_the_requirement_and_the_self_assessment(
        db: Session, signed_in: Callable[[Actor], TestClient],
        running: tuple[aw.World, ScopeRead, uuid.UUID]) -> None:
    w, s, audit_id = running
    first = aw.applicable(s)[0]
    assert s.self_assessment_id is not None
    self_assessment.answer(db, w.admin, s.self_assessment_id, first, AnswerWrite(
        rating=Rating.MINOR, narrative="Our grievance log misses two months"))
    db.flush()
    page = signed_in(w.auditor).get(f"/assurance/audits/{audit_id}/ratings")
    assert page.status_code == 200
    body = text(page)
    requirement = library.get_criterion(db, "performance", 3, first).requirement
    assert " ".join(requirement.split()) in body
    assert "Self-assessment: Minor" in body or 'class="badge badge-minor"' in page.text
    assert "Our grievance log misses two months" in body
    assert "not answered" in body  # the criteria the member left open
    assert f'href="/assurance/audits/{audit_id}/ratings/rest"' in page.text


def test_mark_the_rest_conformant_asks_first_then_rates_every_unrated_pair(
        db: Session, signed_in: Callable[[Actor], TestClient],
        running: tuple[aw.World, ScopeRead, uuid.UUID]) -> None:
    w, s, audit_id = running
    numbers = aw.applicable(s)
    auditor = signed_in(w.auditor)
    assert post(auditor, f"/assurance/audits/{audit_id}/ratings", {
        "facility": w.smelter, f"rating-{numbers[0]}": "major",
        f"reason-{numbers[0]}": "No grievance mechanism at all"}).status_code == 303
    rest = len(numbers) * 2 - 1
    confirm = auditor.get(f"/assurance/audits/{audit_id}/ratings/rest")
    assert confirm.status_code == 200
    assert f"{rest} rating(s) would be given" in text(confirm)
    assert 'type="checkbox" id="field-confirm" name="confirm" value="yes"' in confirm.text
    unconfirmed = post(auditor, f"/assurance/audits/{audit_id}/ratings/rest")
    assert unconfirmed.status_code == 422
    assert "Tick the box to confirm" in text(unconfirmed)
    assert audits.list_ratings(db, w.auditor, audit_id).progress.rated == 1
    done = post(auditor, f"/assurance/audits/{audit_id}/ratings/rest", {"confirm": "yes"})
    assert done.status_code == 303
    assert done.headers["location"] == f"/assurance/audits/{audit_id}/ratings"
    after = audits.list_ratings(db, w.auditor, audit_id)
    assert after.progress.rated == after.progress.required
    worst = {(r.facility, r.criterion): r.rating for r in after.ratings}
    assert worst[(w.smelter, numbers[0])] is Rating.MAJOR
    page = auditor.get(f"/assurance/audits/{audit_id}/ratings")
    assert f"{rest} rating(s) marked conformant" in text(page)
    assert f'href="/assurance/audits/{audit_id}/ratings/rest"' not in page.text
    again = auditor.get(f"/assurance/audits/{audit_id}/ratings/rest")
    assert "Every applicable criterion is rated already" in text(again)


def test_the_self_assessment_page_saves_every_answer_in_one_submit(
        db: Session, signed_in: Callable[[Actor], TestClient],
        running: tuple[aw.World, ScopeRead, uuid.UUID]) -> None:
    w, s, _ = running
    url = f"/assurance/scopes/{s.id}/self-assessment"
    user = signed_in(w.member_user)
    page = user.get(url)
    assert page.text.count(f'action="{url}/answers"') == 1
    assert "Save all answers" in page.text
    a, b, c = aw.applicable(s)[:3]
    refused = post(user, f"{url}/answers", {
        f"rating-{a}": "conformance", f"narrative-{a}": "Signed by the board",
        f"rating-{b}": "not_applicable", f"narrative-{b}": "",
        f"rating-{c}": "", f"narrative-{c}": "typed but not rated"})
    assert refused.status_code == 422
    body = text(refused)
    assert f"Criterion {b}: say in the narrative why it does not apply" in body
    assert f"Criterion {c}: choose a self-rating" in body
    assert f'href="#field-narrative-{b}"' in refused.text
    assert f'href="#field-rating-{c}"' in refused.text
    assert "Signed by the board" in refused.text  # what was typed is kept
    assert s.self_assessment_id is not None
    assert self_assessment.get_self_assessment(
        db, w.admin, s.self_assessment_id).progress.answered == 0
    saved = post(user, f"{url}/answers", {
        f"rating-{a}": "conformance", f"narrative-{a}": "Signed by the board",
        f"rating-{b}": "not_applicable", f"narrative-{b}": "We run no mine",
        f"rating-{c}": "", f"narrative-{c}": ""})
    assert saved.status_code == 303
    read = self_assessment.get_self_assessment(db, w.admin, s.self_assessment_id)
    assert read.progress.answered == 2
    assert "2 answer(s) saved." in text(user.get(url))


# --- who may open and post the new pages ---------------------------------------------------

ROLES = ("anonymous", "secretariat", "member_admin", "other_member_admin", "member_user",
         "auditor", "other_auditor")


@pytest.mark.parametrize("method, path, expected", [
    ("GET", "/assurance/audits/{audit}/ratings/rest", (303, 403, 403, 403, 403, 200, 404)),
    ("POST", "/assurance/audits/{audit}/ratings/rest", (303, 403, 403, 403, 403, 422, 404)),
    ("POST", "/assurance/scopes/{scope}/self-assessment/answers",
     (303, 403, 422, 404, 422, 403, 404)),
])
def test_who_may_use_the_new_pages(
        db: Session, signed_in: Callable[[Actor], TestClient], client: TestClient,
        running: tuple[aw.World, ScopeRead, uuid.UUID], method: str, path: str,
        expected: tuple[int, ...]) -> None:
    w, s, audit_id = running
    actors = {"secretariat": w.secretariat, "member_admin": w.admin,
              "other_member_admin": w.other_admin, "member_user": w.member_user,
              "auditor": w.auditor, "other_auditor": w.other_auditor}
    url = path.format(audit=audit_id, scope=s.id)
    got = []
    for role in ROLES:
        browser = client if role == "anonymous" else signed_in(actors[role])
        if method == "GET":
            got.append(browser.get(url, follow_redirects=False).status_code)
        else:  # an empty form: refused for what it lacks, or for who sends it
            got.append(post(browser, url).status_code)
    assert dict(zip(ROLES, got, strict=True)) == dict(zip(ROLES, expected, strict=True))
