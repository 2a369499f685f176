"""The standards pages over HTTP: the library (versions, criteria, diffs, applicability),
consultations and comments, votes and the body, and the secretariat's pages.

Data is built through the services; what a page should show is computed from the same
services rather than written down, so the pages are checked against the rules."""

from __future__ import annotations

import functools
import html
import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, Role
from stewardship.core.config import Settings
from stewardship.core.labels import label
from stewardship.standards import repository as standards_repo
from stewardship.standards.demo import shipped_package_text
from stewardship.standards.package import PackageInvalid, parse_package
from stewardship.standards.rules import Chamber, Choice, StandardPackage
from stewardship.standards.schemas import (
    ApplicabilityQuery,
    BodyMemberCreate,
    CommentCreate,
    RevisionCreate,
    RoundOpen,
    VoteOpen,
)
from stewardship.standards.service import library, revisions, votes
from tests import factories
from tests.api.pages import csrf
from tests.today import TODAY

CRITERION_LINK = re.compile(r'href="/standards/performance/v3/criteria/(\d+\.\d+)"')


# --- helpers --------------------------------------------------------------------------------


@functools.cache
def shipped_package(name: str) -> StandardPackage:
    """A shipped package, parsed once for the whole run (packages are immutable)."""
    return parse_package(shipped_package_text(name))


def load(db: Session, actor: Actor, *names: str) -> None:
    for name in names:
        library.store_version(db, actor, shipped_package(name))
    db.flush()


def draft_v4() -> str:
    """The shipped version 3 as a draft of version 4."""
    return re.sub(r"^version: 3$", "version: 4", shipped_package_text("performance-v3.yaml"),
                  count=1, flags=re.M)


def text(response: object) -> str:
    return html.unescape(response.text)  # type: ignore[attr-defined]


def section(page: str, anchor: str) -> str:
    """The HTML of one <section>, from the heading with this id to the section's end."""
    start = page.index(f'id="{anchor}"')
    return page[start:page.index("</section>", start)]


@pytest.fixture
def secretariat(db: Session) -> Actor:
    return factories.user(db, Role.SECRETARIAT)


@pytest.fixture
def shipped(db: Session, secretariat: Actor) -> Actor:
    """Performance Standard versions 2 and 3 loaded; the secretariat actor."""
    load(db, secretariat, "performance-v2.yaml", "performance-v3.yaml")
    return secretariat


@pytest.fixture
def consultation(db: Session, shipped: Actor, settings: Settings) -> uuid.UUID:
    """A Performance Standard revision whose first round is open for comments."""
    revision = revisions.create_revision(db, shipped, RevisionCreate(
        standard="performance", title="Performance Standard version 4",
        summary="Updates the GHG pathway.", draft=draft_v4()))
    revisions.open_round(db, shipped, revision.id, RoundOpen(
        opens_on=TODAY - timedelta(days=10), closes_on=TODAY + timedelta(days=50)), settings)
    db.flush()
    return revision.id


def seat(db: Session, secretariat: Actor, chamber: Chamber, affiliation: str) -> Actor:
    member = factories.user(db, Role.MEMBER_USER, organization=factories.organization(db))
    votes.add_body_member(db, secretariat, BodyMemberCreate(
        email=member.email, chamber=chamber, affiliation=affiliation,
        term_starts_on=TODAY - timedelta(days=30), term_ends_on=TODAY + timedelta(days=700)))
    return member


@pytest.fixture
def vote(db: Session, shipped: Actor, settings: Settings) -> tuple[uuid.UUID, list[Actor]]:
    """An open vote on a consulted revision, with three members of the body on its roll."""
    members = [seat(db, shipped, Chamber.INDUSTRY_UPSTREAM, "Upstream Metals"),
               seat(db, shipped, Chamber.CIVIL_SOCIETY, "Watershed Watch"),
               seat(db, shipped, Chamber.INDIGENOUS_PEOPLES, "River Owners Council")]
    revision = revisions.create_revision(db, shipped, RevisionCreate(
        standard="performance", title="Performance Standard version 4", draft=draft_v4()))
    revisions.open_round(db, shipped, revision.id, RoundOpen(
        opens_on=TODAY - timedelta(days=150), closes_on=TODAY - timedelta(days=90)), settings)
    revisions.close_round(db, shipped, revision.id)
    opened = votes.open_vote(db, shipped, revision.id,
                             VoteOpen(closes_on=TODAY + timedelta(days=14)), settings)
    db.flush()
    return opened.votes[-1].id, members


# --- the library ----------------------------------------------------------------------------


def test_standards_page_lists_versions_with_status_counts_and_diff_links(
        client: TestClient, db: Session, shipped: Actor) -> None:
    response = client.get("/standards")
    assert response.status_code == 200
    page = text(response)
    (performance,) = library.list_standards(db)
    for v in performance.versions:
        assert f'href="/standards/performance/v{v.version}"' in page
        assert f'<td data-label="Criteria" class="num">{v.criteria_count}</td>' in page
    assert [v.status for v in performance.versions] == ["current", "retired"]
    assert "badge-current" in page and "badge-retired" in page
    assert "What changed from v2 to v3" in page
    assert 'href="/standards/performance/diff?from=2&to=3"' in page
    assert "Illustrative content" in page


def test_standards_page_without_standards_says_so(client: TestClient) -> None:
    response = client.get("/standards")
    assert response.status_code == 200
    assert "No standard is loaded yet" in response.text


def test_version_page_shows_facts_principles_and_every_criterion(
        client: TestClient, db: Session, shipped: Actor) -> None:
    response = client.get("/standards/performance/v3")
    assert response.status_code == 200
    page = text(response)
    version = library.get_version(db, "performance", 3)
    expected = [c.number for p in version.principles for c in p.criteria]
    assert CRITERION_LINK.findall(page) == expected
    for fact in (version.urn, version.provider, version.copyright, version.digest[:12],
                 "19 May 2022", "01 Jun 2023"):
        assert fact in page
    assert page.index("Governance") < page.index("Environment") < page.index("Social")
    assert 'href="/api/v1/standards/performance/versions/3/package"' in page
    assert "Illustrative content" in page


def test_activity_filter_keeps_only_the_criteria_that_apply(
        client: TestClient, db: Session, shipped: Actor) -> None:
    response = client.get("/standards/performance/v3", params={"activity": "bauxite_mining"})
    assert response.status_code == 200
    shown = CRITERION_LINK.findall(response.text)
    filtered = library.get_version(db, "performance", 3, activity="bauxite_mining")
    everything = library.get_version(db, "performance", 3)
    assert shown == [c.number for p in filtered.principles for c in p.criteria]
    assert 0 < len(shown) < sum(len(p.criteria) for p in everything.principles)
    assert f"{len(shown)} of 64 criteria apply to bauxite mining" in response.text

    refused = client.get("/standards/performance/v3", params={"activity": "baking"})
    assert refused.status_code == 422
    assert "Choose one of the listed activities" in refused.text


def test_criterion_page_shows_parts_applicability_and_thresholds(
        client: TestClient, db: Session, shipped: Actor) -> None:
    response = client.get("/standards/performance/v3/criteria/5.2")
    assert response.status_code == 200
    page = text(response)
    criterion = library.get_criterion(db, "performance", 3, "5.2")
    assert criterion.requirement in page
    assert criterion.thresholds
    for t in criterion.thresholds:
        assert t.key in page and str(t.value) in page and t.unit in page
    assert "Smelting" in page and "Production & Transformation" in page

    parts = text(client.get("/standards/performance/v3/criteria/1.2"))
    for part in library.get_criterion(db, "performance", 3, "1.2").parts:
        assert f"1.2.{part.letter}" in parts and part.requirement in parts
    assert "Every activity" in parts


def test_unknown_standards_versions_and_criteria_are_404(
        client: TestClient, shipped: Actor) -> None:
    for path in ("/standards/performance/v9", "/standards/nothing/v1",
                 "/standards/performance/v3/criteria/99.9", "/standards/nothing/diff",
                 "/standards/performance/v9/applicability"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Page not found" in response.text


def test_diff_page_shows_every_section_the_service_computes(
        client: TestClient, db: Session, shipped: Actor) -> None:
    response = client.get("/standards/performance/diff", params={"from": 2, "to": 3})
    assert response.status_code == 200
    page = text(response)
    diff = library.diff(db, "performance", 2, 3)
    assert "5.3" in [c.number for c in diff.added] and "5.3" in [c.number for c in diff.removed]
    sections = {"added": diff.added, "removed": diff.removed}
    for anchor, items in sections.items():
        part = section(page, anchor)
        for c in items:
            assert f'<span class="cnum">{c.number}</span>' in part and c.title in part
    renumbered = section(page, "renumbered")
    for change in diff.renumbered:
        assert change.old_number in renumbered and f"→ {change.new_number}" in renumbered
    reworded = section(page, "reworded")
    for change in diff.reworded:
        assert f'<span class="cnum">{change.new_number}</span>' in reworded
    assert "<ins>" in reworded and "<del>" in reworded
    applicability = section(page, "applicability")
    assert all(c.title in applicability for c in diff.applicability_changed)
    thresholds = section(page, "thresholds")
    for change in diff.thresholds_changed:
        for t in change.new["thresholds"]:
            assert t["key"] in thresholds and t["value"] in thresholds
    for name, count in [("Added", len(diff.added)), ("Removed", len(diff.removed)),
                        ("Reworded", len(diff.reworded)), ("Unchanged", diff.unchanged)]:
        assert f"{name} <strong>{count}</strong>" in page


def test_diff_page_defaults_to_the_latest_two_versions_and_refuses_a_version_to_itself(
        client: TestClient, shipped: Actor) -> None:
    default = client.get("/standards/performance/diff")
    assert default.status_code == 200
    assert "What changed from v2 to v3" in default.text
    same = client.get("/standards/performance/diff", params={"from": 3, "to": 3})
    assert same.status_code == 422
    assert "Compare two different versions" in same.text
    missing = client.get("/standards/performance/diff", params={"from": 1, "to": 3})
    assert missing.status_code == 422
    assert "Choose one of the listed versions" in missing.text


def test_applicability_page_counts_what_the_service_counts(
        client: TestClient, db: Session, shipped: Actor) -> None:
    form = client.get("/standards/performance/v3/applicability")
    assert form.status_code == 200
    assert 'name="activities"' in form.text and "Result" not in form.text

    params = {"activities": ["smelting", "casthouse"], "member_class": "production_transformation"}
    response = client.get("/standards/performance/v3/applicability", params=params)
    assert response.status_code == 200
    expected = library.applicability(db, "performance", 3, ApplicabilityQuery(
        activities=["smelting", "casthouse"], member_class="production_transformation"))
    assert f"<strong>{expected.applicable_count}</strong> of {len(expected.rows)} criteria " \
           "apply" in response.text
    assert response.text.count('<span class="badge badge-applies">Yes</span>') == \
        expected.applicable_count
    assert 'value="casthouse" checked' in response.text

    supporters = client.get("/standards/performance/v3/applicability", params={
        "activities": "smelting", "member_class": "general_supporters"})
    assert "<strong>0</strong> of" in supporters.text
    assert "does not apply to General Supporters" in supporters.text


def test_applicability_without_an_activity_asks_for_one(
        client: TestClient, shipped: Actor) -> None:
    response = client.get("/standards/performance/v3/applicability",
                          params={"member_class": "production_transformation"})
    assert response.status_code == 422
    assert "Choose at least one of the listed activities" in response.text


# --- consultations --------------------------------------------------------------------------


def test_consultations_page_lists_open_and_past_revisions(
        client: TestClient, db: Session, consultation: uuid.UUID) -> None:
    page = client.get("/consultations")
    assert page.status_code == 200
    open_part = section(page.text, "open-heading")
    assert f'href="/consultations/{consultation}"' in open_part
    assert "Open for comments" in open_part
    assert "No consultation has finished yet" in page.text


def test_no_consultation_is_an_empty_state(client: TestClient, shipped: Actor) -> None:
    page = client.get("/consultations")
    assert "No consultation is open at the moment" in page.text


def test_revision_page_shows_the_draft_and_a_comment_form(
        client: TestClient, signed_in: Callable[[Actor], TestClient], db: Session,
        consultation: uuid.UUID) -> None:
    response = client.get(f"/consultations/{consultation}")
    assert response.status_code == 200
    page = text(response)
    draft = revisions.draft_package(revisions.load(db, consultation))
    for c in draft.criteria():
        assert f'<option value="{c.number}">{c.number} {c.title}</option>' in page
    assert 'name="contact_email"' in page and 'name="name"' in page
    assert "The synopsis is published when a consultation round closes" in page

    member = factories.user(db, Role.MEMBER_USER, organization=factories.organization(db))
    as_member = signed_in(member).get(f"/consultations/{consultation}").text
    assert 'name="contact_email"' not in as_member
    assert f"You comment as <strong>{member.name}</strong>" in as_member


def test_anonymous_comment_is_stored_and_thanked(
        client: TestClient, db: Session, consultation: uuid.UUID, shipped: Actor) -> None:
    before = len(revisions.comments(db, shipped, consultation))
    response = client.post(f"/consultations/{consultation}/comments", data={
        "csrf_token": csrf(client), "criterion": "5.3", "name": "Ada Rivers",
        "contact_email": "ada@rivers.example", "body": "Please state the pathway's base year."},
        follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/consultations/{consultation}"
    stored = revisions.comments(db, shipped, consultation)
    assert len(stored) == before + 1
    assert (stored[-1].author_name, stored[-1].criterion) == ("Ada Rivers", "5.3")
    page = client.get(response.headers["location"]).text
    assert "Thank you, your comment was received" in page


REFUSED_COMMENTS = [
    ({"name": "Ada Rivers", "contact_email": ""}, "contact_email", "give a contact e-mail"),
    ({"name": "Ada Rivers", "contact_email": "not-an-address"}, "contact_email",
     "Enter an e-mail address"),
    ({"name": "", "contact_email": "ada@rivers.example"}, "name", "give your name"),
    ({"name": "Ada Rivers", "contact_email": "ada@rivers.example", "criterion": "99.1"},
     "criterion", "the draft has no clause 99.1"),
    ({"name": "Ada Rivers", "contact_email": "ada@rivers.example", "body": "Hm"}, "body",
     "Use at least 3 characters"),
]


def test_refused_comments_show_why_and_store_nothing(
        client: TestClient, db: Session, consultation: uuid.UUID, shipped: Actor) -> None:
    token = csrf(client)
    for fields, field, message in REFUSED_COMMENTS:
        response = client.post(f"/consultations/{consultation}/comments", data={
            "csrf_token": token, "body": "A comment that is long enough.", **fields})
        assert response.status_code == 422, fields
        page = text(response)
        assert f'<li><a href="#field-{field}">' in page
        assert message.lower() in page.lower()
        assert fields.get("body", "A comment that is long enough.") in page
    assert revisions.comments(db, shipped, consultation) == []


def test_signed_in_comment_needs_no_contact(
        signed_in: Callable[[Actor], TestClient], db: Session, consultation: uuid.UUID,
        shipped: Actor) -> None:
    member = factories.user(db, Role.MEMBER_USER, organization=factories.organization(db))
    browser = signed_in(member)
    response = browser.post(f"/consultations/{consultation}/comments", data={
        "csrf_token": csrf(browser), "body": "Our smelter supports the pathway."})
    assert response.status_code == 200
    assert "Thank you, your comment was received" in response.text
    (comment,) = revisions.comments(db, shipped, consultation)
    assert comment.author_name == member.name and comment.criterion is None


def test_comment_flood_is_slowed_down(client: TestClient, db: Session, settings: Settings,
                                      consultation: uuid.UUID, shipped: Actor) -> None:
    settings.comments_per_hour = 1
    data = {"csrf_token": csrf(client), "name": "Ada Rivers",
            "contact_email": "ada@rivers.example", "body": "First comment."}
    assert client.post(f"/consultations/{consultation}/comments", data=data).status_code == 200
    second = client.post(f"/consultations/{consultation}/comments",
                         data={**data, "body": "Second comment."})
    assert second.status_code == 429
    assert "At most 1 comments an hour" in second.text
    assert len(revisions.comments(db, shipped, consultation)) == 1


def test_comment_on_a_revision_out_of_consultation_is_refused(
        client: TestClient, db: Session, shipped: Actor, settings: Settings) -> None:
    revision = revisions.create_revision(db, shipped, RevisionCreate(
        standard="performance", title="Performance Standard version 4", draft=draft_v4()))
    revisions.open_round(db, shipped, revision.id, RoundOpen(
        opens_on=TODAY - timedelta(days=100), closes_on=TODAY - timedelta(days=40)), settings)
    revisions.close_round(db, shipped, revision.id)
    db.flush()
    page = client.get(f"/consultations/{revision.id}").text
    assert "not open for comments now" in page and 'name="body"' not in page
    response = client.post(f"/consultations/{revision.id}/comments", data={
        "csrf_token": csrf(client), "name": "Ada Rivers",
        "contact_email": "ada@rivers.example", "body": "Too late, perhaps?"})
    assert response.status_code == 409
    assert "This revision is not open for comments" in response.text
    assert revisions.comments(db, shipped, revision.id) == []


def test_synopsis_shows_comments_and_responses_once_the_round_closes(
        client: TestClient, db: Session, shipped: Actor, settings: Settings) -> None:
    revision = revisions.create_revision(db, shipped, RevisionCreate(
        standard="performance", title="Performance Standard version 4", draft=draft_v4()))
    revisions.open_round(db, shipped, revision.id, RoundOpen(
        opens_on=TODAY - timedelta(days=60), closes_on=TODAY), settings)
    comment = revisions.add_comment(db, None, revision.id, CommentCreate(
        body="Make the carry-over cap explicit.", name="Lena Fischer",
        contact_email="lena@forum.example"), settings, "192.0.2.1")
    db.flush()
    assert "Make the carry-over cap explicit." not in client.get(
        f"/consultations/{revision.id}").text
    revisions.respond(db, shipped, comment.id, "Agreed; draft 2 caps it at one period.")
    revisions.close_round(db, shipped, revision.id)
    db.flush()
    page = text(client.get(f"/consultations/{revision.id}"))
    synopsis = section(page, "synopsis-heading")
    assert "Make the carry-over cap explicit." in synopsis
    assert "Agreed; draft 2 caps it at one period." in synopsis
    assert "lena@forum.example" not in page


def test_a_post_without_the_csrf_token_is_refused(
        client: TestClient, db: Session, consultation: uuid.UUID, shipped: Actor) -> None:
    client.get("/standards")
    response = client.post(f"/consultations/{consultation}/comments", data={
        "name": "Ada Rivers", "contact_email": "ada@rivers.example", "body": "No token here."})
    assert response.status_code == 403
    assert "security token" in response.text
    assert revisions.comments(db, shipped, consultation) == []


# --- votes and the body -----------------------------------------------------------------------


def test_only_members_on_the_roll_see_the_ballot_form(
        client: TestClient, signed_in: Callable[[Actor], TestClient], db: Session,
        vote: tuple[uuid.UUID, list[Actor]]) -> None:
    vote_id, members = vote
    as_member = signed_in(members[0]).get(f"/votes/{vote_id}")
    assert as_member.status_code == 200
    assert f'action="/votes/{vote_id}/ballot"' in as_member.text
    assert "You have not voted yet" in as_member.text

    outsider = factories.user(db, Role.MEMBER_USER, organization=factories.organization(db))
    for page in (client.get(f"/votes/{vote_id}"), signed_in(outsider).get(f"/votes/{vote_id}")):
        assert page.status_code == 200
        assert "/ballot" not in page.text
        assert "Open until" in page.text and "2/3 (66.7 %)" in page.text


def test_a_member_casts_and_changes_a_ballot_through_the_form(
        signed_in: Callable[[Actor], TestClient], db: Session,
        vote: tuple[uuid.UUID, list[Actor]]) -> None:
    vote_id, members = vote
    browser = signed_in(members[1])
    token = csrf(browser, f"/votes/{vote_id}")
    response = browser.post(f"/votes/{vote_id}/ballot",
                            data={"csrf_token": token, "choice": "yes"}, follow_redirects=False)
    assert response.status_code == 303
    page = browser.get(response.headers["location"]).text
    assert "Your vote is recorded; you may change it until the vote closes" in page
    assert votes.get_vote(db, vote_id).ballots == 1
    assert votes.own_ballot(db, members[1], vote_id).choice == "yes"  # type: ignore[union-attr]

    browser.post(f"/votes/{vote_id}/ballot", data={"csrf_token": token, "choice": "no"})
    assert votes.get_vote(db, vote_id).ballots == 1
    assert 'value="no" required checked' in browser.get(f"/votes/{vote_id}").text

    refused = browser.post(f"/votes/{vote_id}/ballot", data={"csrf_token": token,
                                                             "choice": "maybe"})
    assert refused.status_code == 422
    assert "Choose one of the listed options" in refused.text


def test_a_ballot_from_outside_the_roll_is_refused(
        client: TestClient, signed_in: Callable[[Actor], TestClient], db: Session,
        vote: tuple[uuid.UUID, list[Actor]]) -> None:
    vote_id, _ = vote
    outsider = factories.user(db, Role.MEMBER_USER, organization=factories.organization(db))
    browser = signed_in(outsider)
    refused = browser.post(f"/votes/{vote_id}/ballot",
                           data={"csrf_token": csrf(browser), "choice": "yes"})
    assert refused.status_code == 403
    anonymous = client.post(f"/votes/{vote_id}/ballot",
                            data={"csrf_token": csrf(client), "choice": "yes"},
                            follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login")
    assert votes.get_vote(db, vote_id).ballots == 0


def test_closed_vote_shows_result_chambers_and_roll(
        client: TestClient, db: Session, shipped: Actor,
        vote: tuple[uuid.UUID, list[Actor]]) -> None:
    vote_id, members = vote
    votes.cast(db, members[0], vote_id, Choice.YES)
    votes.cast(db, members[1], vote_id, Choice.YES)
    db.flush()
    revision_id = votes.get_vote(db, vote_id).revision_id
    assert "did not vote" not in client.get(f"/votes/{vote_id}").text
    row = standards_repo.vote_by_id(db, vote_id)
    assert row is not None
    row.closes_on = TODAY - timedelta(days=1)  # the closing day has passed: one did not vote
    votes.close_vote(db, shipped, vote_id)
    db.flush()
    result = votes.get_vote(db, vote_id)
    page = text(client.get(f"/votes/{vote_id}"))
    assert result.passed and "PASSED" in page and "NOT PASSED" not in page
    chambers = section(page, "chambers-heading")
    for row in result.by_chamber:
        assert label(row.chamber) in chambers
    roll = section(page, "roll-heading")
    for entry in result.roll:
        assert entry.name in roll and entry.affiliation in roll
    assert roll.count("did not vote") == 1
    assert "Met (2 of 3 took part)" in page
    assert f'href="/votes/{vote_id}"' in client.get(f"/consultations/{revision_id}").text


def test_body_page_lists_members_by_chamber(client: TestClient, db: Session,
                                           shipped: Actor) -> None:
    assert "No member is seated" in client.get("/standards/body").text
    member = seat(db, shipped, Chamber.CIVIL_SOCIETY, "Watershed Watch")
    db.flush()
    page = client.get("/standards/body")
    assert page.status_code == 200
    civil = section(page.text, "chamber-civil_society")
    assert member.name in civil and "Watershed Watch" in civil and "Serving" in civil


# --- the secretariat --------------------------------------------------------------------------


def test_secretariat_pages_are_for_the_secretariat(
        client: TestClient, signed_in: Callable[[Actor], TestClient], db: Session,
        secretariat: Actor) -> None:
    member = factories.user(db, Role.MEMBER_ADMIN, organization=factories.organization(db))
    as_member, as_secretariat = signed_in(member), signed_in(secretariat)
    for path in ("/secretariat/standards", "/secretariat/revisions",
                 "/secretariat/standards/body"):
        anonymous = client.get(path, follow_redirects=False)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"] == "/login?" + urlencode({"next": path})
        assert as_member.get(path).status_code == 403
        assert as_secretariat.get(path).status_code == 200
    refused = as_member.post("/secretariat/standards", data={
        "csrf_token": csrf(as_member), "package_text": "urn: x"})
    assert refused.status_code == 403
    assert "may not load standards" in refused.text


def test_import_of_a_malformed_package_lists_every_problem_with_lines_and_stores_nothing(
        signed_in: Callable[[Actor], TestClient], db: Session, secretariat: Actor) -> None:
    broken = shipped_package_text("performance-v2.yaml").replace(
        "urn: urn:stewardship:standard:performance", "urn: not a urn", 1).replace(
        'number: "1.2"', 'number: "7.2"', 1).replace("effective_on: 2017-12-01",
                                                 "effective_on: someday", 1)
    with pytest.raises(PackageInvalid) as rejected:
        parse_package(broken)
    assert len(rejected.value.problems) >= 3
    browser = signed_in(secretariat)
    response = browser.post("/secretariat/standards", data={
        "csrf_token": csrf(browser, "/secretariat/standards"), "package_text": broken})
    assert response.status_code == 422
    page = text(response)
    assert f"rejected whole: {len(rejected.value.problems)} problem(s)" in page
    for problem in rejected.value.problems:
        assert problem.line is not None
        assert f"<li>{problem}</li>" in page
    assert library.list_standards(db) == []


def test_import_of_a_package_file_loads_it_and_shows_the_version(
        signed_in: Callable[[Actor], TestClient], db: Session, secretariat: Actor) -> None:
    browser = signed_in(secretariat)
    token = csrf(browser, "/secretariat/standards")
    yaml_file = shipped_package_text("performance-v2.yaml").encode()
    response = browser.post("/secretariat/standards", data={"csrf_token": token},
                            files={"package_file": ("performance-v2.yaml", yaml_file,
                                                    "application/yaml")},
                            follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/standards/performance/v2"
    assert "with 61 criteria" in browser.get(response.headers["location"]).text
    assert [v.version for v in library.list_standards(db)[0].versions] == [2]

    again = browser.post("/secretariat/standards", data={"csrf_token": token},
                         files={"package_file": ("again.yaml", yaml_file, "application/yaml")})
    assert again.status_code == 409
    assert "versions only go up" in again.text
    empty = browser.post("/secretariat/standards", data={"csrf_token": token})
    assert empty.status_code == 422
    assert "Choose a YAML file or paste the package" in empty.text


def test_secretariat_runs_a_revision_from_draft_to_publication(
        signed_in: Callable[[Actor], TestClient], db: Session, shipped: Actor,
        settings: Settings) -> None:
    voter = seat(db, shipped, Chamber.INDUSTRY_DOWNSTREAM, "Can Makers")
    browser = signed_in(shipped)
    token = csrf(browser, "/secretariat/revisions")
    started = browser.post("/secretariat/revisions", data={
        "csrf_token": token, "standard": "performance", "title": "Performance Standard v4",
        "summary": "Pathway update.", "draft": draft_v4()}, follow_redirects=False)
    assert started.status_code == 303
    manage = started.headers["location"]
    revision_id = uuid.UUID(manage.rsplit("/", 1)[1])
    assert "Open consultation round 1" in browser.get(manage).text

    def post(action: str, **data: str) -> object:
        return browser.post(f"{manage}/{action}", data={"csrf_token": token, **data})

    short = post("rounds", opens_on=str(TODAY), closes_on=str(TODAY + timedelta(days=10)))
    assert short.status_code == 422
    assert "must last at least 60 days" in short.text
    opened = post("rounds", opens_on=str(TODAY - timedelta(days=60)), closes_on=str(TODAY))
    assert "Consultation round 1 is open" in opened.text  # type: ignore[attr-defined]
    comment = revisions.add_comment(db, None, revision_id, CommentCreate(
        body="Say which method.", name="Tomás Ibarra", contact_email="t@scrap.example"),
        settings, "198.51.100.7")
    db.flush()

    refused = post("rounds/close")
    assert refused.status_code == 409  # type: ignore[attr-defined]
    assert "1 comment(s) still need a response before the round closes" in \
        refused.text  # type: ignore[attr-defined]
    assert revisions.get_revision(db, shipped, revision_id).status == "consultation"

    answered = post(f"comments/{comment.id}/response", response="The method will be stated.")
    assert "The response is saved" in answered.text  # type: ignore[attr-defined]
    assert "Round 1 is closed" in post("rounds/close").text  # type: ignore[attr-defined]
    assert "1 member(s) are on the roll" in post(  # type: ignore[attr-defined]
        "votes", vote_closes_on=str(TODAY + timedelta(days=7))).text
    vote_id = revisions.get_revision(db, shipped, revision_id).votes[-1].id
    votes.cast(db, voter, vote_id, Choice.YES)
    db.flush()
    closed = post(f"votes/{vote_id}/close")
    assert "The vote is closed: PASSED" in closed.text  # type: ignore[attr-defined]
    published = post("publish", effective_on=str(TODAY + timedelta(days=30)),
                     transition_ends_on=str(TODAY + timedelta(days=400)))
    assert "Published as version 4" in published.text  # type: ignore[attr-defined]
    assert revisions.get_revision(db, shipped, revision_id).status == "published"
    assert [v.version for v in library.list_standards(db)[0].versions] == [4, 3, 2]


def test_start_revision_with_a_broken_draft_lists_its_problems(
        signed_in: Callable[[Actor], TestClient], db: Session, shipped: Actor) -> None:
    browser = signed_in(shipped)
    response = browser.post("/secretariat/revisions", data={
        "csrf_token": csrf(browser, "/secretariat/revisions"), "standard": "performance",
        "title": "Performance Standard v4", "draft": draft_v4().replace("kind: performance",
                                                                        "kind: poetry", 1)})
    assert response.status_code == 422
    assert "line 50: kind: must be performance or chain_of_custody" in response.text
    assert revisions.list_revisions(db, shipped) == []


def test_seating_a_body_member_through_the_form(
        signed_in: Callable[[Actor], TestClient], db: Session, secretariat: Actor) -> None:
    person = factories.user(db, Role.MEMBER_USER, organization=factories.organization(db))
    browser = signed_in(secretariat)
    token = csrf(browser, "/secretariat/standards/body")
    data = {"csrf_token": token, "email": person.email, "chamber": "civil_society",
            "affiliation": "Watershed Watch", "term_starts_on": str(TODAY),
            "term_ends_on": str(TODAY + timedelta(days=730))}
    unknown = browser.post("/secretariat/standards/body",
                           data={**data, "email": "nobody@nowhere.example"})
    assert unknown.status_code == 404
    assert "invite them first" in unknown.text and 'class="form-errors"' in unknown.text
    backwards = browser.post("/secretariat/standards/body",
                             data={**data, "term_ends_on": str(TODAY - timedelta(days=1))})
    assert backwards.status_code == 422
    assert "The term must end after it starts" in backwards.text
    seated = browser.post("/secretariat/standards/body", data=data)
    assert seated.status_code == 200
    assert f"{person.name} is seated in the Civil Society chamber" in seated.text
    assert [m.name for m in votes.list_body(db)] == [person.name]


def test_withdrawing_during_a_vote_ends_it_uncounted(
        signed_in: Callable[[Actor], TestClient], db: Session, shipped: Actor,
        vote: tuple[uuid.UUID, list[Actor]]) -> None:
    vote_id, members = vote
    revision_id = votes.get_vote(db, vote_id).revision_id
    browser = signed_in(shipped)
    manage = f"/secretariat/revisions/{revision_id}"
    token = csrf(browser, manage)
    no_reason = browser.post(f"{manage}/withdraw", data={"csrf_token": token, "reason": " "})
    assert no_reason.status_code == 422
    assert "Say why the revision is withdrawn" in no_reason.text
    withdrawn = browser.post(f"{manage}/withdraw", data={
        "csrf_token": token, "reason": "Superseded by a joint revision."})
    assert "The revision is withdrawn" in withdrawn.text
    page = signed_in(members[0]).get(f"/votes/{vote_id}").text
    assert "ended without being counted" in page
    assert "/ballot" not in page and "PASSED" not in page


def test_a_draft_never_consulted_on_stays_private_even_when_withdrawn(
        client: TestClient, signed_in: Callable[[Actor], TestClient], db: Session,
        shipped: Actor) -> None:
    revision = revisions.create_revision(db, shipped, RevisionCreate(
        standard="performance", title="An idea", draft=draft_v4()))
    db.flush()
    assert client.get(f"/consultations/{revision.id}").status_code == 404
    revisions.withdraw(db, shipped, revision.id, "Not pursued.")
    db.flush()
    assert client.get(f"/consultations/{revision.id}").status_code == 404
    assert "An idea" not in client.get("/consultations").text
    assert "An idea" in signed_in(shipped).get("/secretariat/revisions").text
