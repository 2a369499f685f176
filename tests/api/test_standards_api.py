"""The standards API over HTTP: the library, and standard setting with its permissions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, Role
from stewardship.standards.demo import shipped_package_text
from stewardship.standards.package import MAX_PACKAGE_BYTES
from stewardship.standards.service import library
from tests import factories
from tests.today import TODAY

API = "/api/v1/standards"
YAML = {"Content-Type": "application/yaml"}
Clients = Callable[[Actor], TestClient]


@pytest.fixture
def staff(db: Session, client_for: Clients) -> TestClient:
    return client_for(factories.user(db, Role.SECRETARIAT))


@pytest.fixture
def member(db: Session, client_for: Clients) -> TestClient:
    return client_for(factories.user(db, Role.MEMBER_ADMIN,
                                     organization=factories.organization(db)))


def load(db: Session, *names: str) -> None:
    for name in names:
        library.import_package(db, factories.SYSTEM, shipped_package_text(name))
    db.flush()


def coc_draft(version: int = 3) -> str:
    data = yaml.safe_load(shipped_package_text("chain-of-custody-v2.yaml"))
    data["version"] = version
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    assert set(body) == {"code", "message", "details"}
    return body


# --- the library ------------------------------------------------------------------------


def test_standards_are_public(client: TestClient, db: Session) -> None:
    assert client.get(API).json() == []
    load(db, "performance-v2.yaml", "performance-v3.yaml", "chain-of-custody-v2.yaml")
    response = client.get(API)
    assert response.status_code == 200
    standards = {s["slug"]: s for s in response.json()}
    assert [(v["version"], v["status"]) for v in standards["performance"]["versions"]] == [
        (3, "current"), (2, "retired")]
    assert standards["chain-of-custody"]["kind"] == "chain_of_custody"


def test_the_secretariat_loads_a_package(client: TestClient, staff: TestClient) -> None:
    response = staff.post(f"{API}/packages", content=shipped_package_text(
        "performance-v2.yaml").encode("utf-8"), headers=YAML)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["slug"], body["version"], len(body["principles"])) == ("performance", 2, 11)
    assert [s["slug"] for s in client.get(API).json()] == ["performance"]
    again = error(staff.post(f"{API}/packages", content=shipped_package_text(
        "performance-v2.yaml"), headers=YAML), 409)
    assert "version 2" in again["message"]
    assert again["details"][0]["field"] == "version"


def test_members_and_the_public_may_not_load_packages(client: TestClient,
                                                      member: TestClient) -> None:
    text = shipped_package_text("chain-of-custody-v2.yaml")
    assert error(member.post(f"{API}/packages", content=text, headers=YAML), 403)
    assert error(client.post(f"{API}/packages", content=text, headers=YAML), 401)
    assert client.get(API).json() == []


def test_a_malformed_package_is_a_422_listing_lines(staff: TestClient, client: TestClient) -> None:
    data = yaml.safe_load(shipped_package_text("chain-of-custody-v2.yaml"))
    data["principles"][0]["criteria"][1]["applies_to"]["activities"] = ["pottery"]
    data["effective_on"] = "2001-01-01"
    body = error(staff.post(f"{API}/packages", content=yaml.safe_dump(data, sort_keys=False),
                            headers=YAML), 422)
    assert len(body["details"]) == 2
    for detail in body["details"]:
        assert detail["field"] and isinstance(detail["line"], int) and detail["message"]
    assert {d["field"] for d in body["details"]} == {
        "principles[0].criteria[1].applies_to.activities", "effective_on"}
    broken = error(staff.post(f"{API}/packages", content="urn: [\n", headers=YAML), 422)
    assert broken["details"][0]["line"] is not None
    bad_bytes = error(staff.post(f"{API}/packages", content=b"urn: \xff\xfe\n", headers=YAML),
                      422)
    assert "not valid YAML" in bad_bytes["message"]
    assert client.get(API).json() == []


def test_an_oversize_package_is_a_413(staff: TestClient) -> None:
    error(staff.post(f"{API}/packages", content=b"#" * (MAX_PACKAGE_BYTES + 1), headers=YAML),
          413)


def test_reading_versions_criteria_and_packages(client: TestClient, db: Session) -> None:
    load(db, "performance-v2.yaml", "performance-v3.yaml")
    version = client.get(f"{API}/performance/versions/3")
    assert version.status_code == 200
    assert version.json()["version"] == 3
    total = sum(len(p["criteria"]) for p in version.json()["principles"])
    mining = client.get(f"{API}/performance/versions/3", params={"activity": "bauxite_mining"})
    assert 0 < sum(len(p["criteria"]) for p in mining.json()["principles"]) < total
    assert error(client.get(f"{API}/performance/versions/3", params={"activity": "pottery"}),
                 422)["details"][0]["field"] == "activity"
    criterion = client.get(f"{API}/performance/versions/3/criteria/5.2")
    assert criterion.status_code == 200
    assert {t["value"] for t in criterion.json()["thresholds"]} == {"11.0"}
    assert error(client.get(f"{API}/performance/versions/3/criteria/5.99"), 404)
    assert error(client.get(f"{API}/performance/versions/7"), 404)
    assert error(client.get(f"{API}/nothing/versions/1"), 404)
    exported = client.get(f"{API}/performance/versions/2/package")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/yaml")
    assert "performance-v2.yaml" in exported.headers["content-disposition"]
    from stewardship.standards.package import parse_package

    assert parse_package(exported.text) == parse_package(shipped_package_text(
        "performance-v2.yaml"))


def test_diff_over_http(client: TestClient, db: Session) -> None:
    load(db, "performance-v2.yaml", "performance-v3.yaml")
    response = client.get(f"{API}/performance/diff", params={"from": 2, "to": 3})
    assert response.status_code == 200
    body = response.json()
    assert "5.3" in [c["number"] for c in body["added"]]
    assert ["3.1", "3.2"] in [[r["old_number"], r["new_number"]] for r in body["renumbered"]]
    assert [c["new_number"] for c in body["thresholds_changed"]] == ["5.2"]
    assert error(client.get(f"{API}/performance/diff", params={"from": 2, "to": 2}), 422)
    assert error(client.get(f"{API}/performance/diff", params={"from": 0, "to": 2}), 422)
    assert error(client.get(f"{API}/performance/diff", params={"from": 2}), 422)
    assert error(client.get(f"{API}/performance/diff", params={"from": 2, "to": 9}), 404)


def test_applicability_over_http(client: TestClient, staff: TestClient, member: TestClient,
                                 db: Session) -> None:
    load(db, "performance-v3.yaml")
    entity = factories.entity(db, factories.organization(db))
    db.flush()
    url = f"{API}/performance/versions/3/applicability"
    body = {"activities": ["smelting"], "member_class": "production_transformation",
            "entity_id": str(entity.id)}
    before = client.post(url, json=body)
    assert before.status_code == 200
    exclusion = {"entity_id": str(entity.id), "criterion": "7.2",
                 "reason": "No water abstraction at this site"}
    assert error(member.post(f"{API}/performance/versions/3/exclusions", json=exclusion), 403)
    assert error(client.post(f"{API}/performance/versions/3/exclusions", json=exclusion), 401)
    created = staff.post(f"{API}/performance/versions/3/exclusions", json=exclusion)
    assert created.status_code == 201, created.text
    assert error(staff.post(f"{API}/performance/versions/3/exclusions", json=exclusion), 409)
    assert error(staff.post(f"{API}/performance/versions/3/exclusions",
                            json={**exclusion, "criterion": "7.99"}), 422)
    after = client.post(url, json=body).json()
    row = next(r for r in after["rows"] if r["number"] == "7.2")
    assert (row["applicable"], row["reason"]) == (
        False, "marked not applicable: No water abstraction at this site")
    assert after["applicable_count"] == before.json()["applicable_count"] - 1
    unknown = error(client.post(url, json={**body, "activities": ["pottery"]}), 422)
    assert unknown["details"][0]["field"].startswith("activities")
    extra = error(client.post(url, json={**body, "colour": "blue"}), 422)
    assert extra["details"] == [{"field": "colour", "message": "unknown field"}]
    assert error(client.post(url, json={**body, "activities": []}), 422)


# --- standard setting -------------------------------------------------------------------


def create_revision(client: TestClient) -> str:
    response = client.post(f"{API}/revisions", json={
        "standard": "chain-of-custody", "title": "Chain of Custody version 3",
        "summary": "Caps carry-over.", "draft": coc_draft()})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_revision_steps_are_the_secretariats(client: TestClient, staff: TestClient,
                                             member: TestClient, db: Session) -> None:
    load(db, "chain-of-custody-v2.yaml")
    draft = {"standard": "chain-of-custody", "title": "Mine", "draft": coc_draft()}
    assert error(member.post(f"{API}/revisions", json=draft), 403)
    assert error(client.post(f"{API}/revisions", json=draft), 401)
    rid = create_revision(staff)
    # A draft not yet consulted on is the secretariat's.
    assert error(client.get(f"{API}/revisions/{rid}"), 404)
    assert error(client.get(f"{API}/revisions/{rid}/draft"), 404)
    assert staff.get(f"{API}/revisions/{rid}").json()["status"] == "draft"
    assert client.get(f"{API}/revisions").json() == []
    round_ = {"opens_on": str(TODAY - timedelta(days=5)),
              "closes_on": str(TODAY + timedelta(days=55))}
    for path, body in ((f"/revisions/{rid}/rounds", round_),
                       (f"/revisions/{rid}/rounds/close", None),
                       (f"/revisions/{rid}/withdraw", {"reason": "x"}),
                       (f"/revisions/{rid}/votes", {"closes_on": str(TODAY)}),
                       (f"/revisions/{rid}/publish", {"effective_on": str(TODAY)}),
                       ("/body", {"email": "x@example.org", "chamber": "civil_society",
                                  "term_starts_on": str(TODAY),
                                  "term_ends_on": str(TODAY + timedelta(days=9))})):
        assert error(member.post(f"{API}{path}", json=body), 403)
        assert error(client.post(f"{API}{path}", json=body), 401)
    assert error(member.put(f"{API}/revisions/{rid}/draft", json={"draft": coc_draft(4)}), 403)
    short = error(staff.post(f"{API}/revisions/{rid}/rounds", json={
        **round_, "closes_on": str(TODAY + timedelta(days=54))}), 422)
    assert short["details"][0]["field"] == "closes_on"
    assert staff.post(f"{API}/revisions/{rid}/rounds", json=round_).status_code == 201
    public = client.get(f"{API}/revisions/{rid}")
    assert public.status_code == 200 and public.json()["status"] == "consultation"
    draft_text = client.get(f"{API}/revisions/{rid}/draft")
    assert draft_text.status_code == 200
    assert yaml.safe_load(draft_text.text)["version"] == 3


def test_anyone_comments_while_a_round_is_open(client: TestClient, staff: TestClient,
                                               member: TestClient, db: Session) -> None:
    load(db, "chain-of-custody-v2.yaml")
    rid = create_revision(staff)
    url = f"{API}/revisions/{rid}/comments"
    early = error(client.post(url, json={"body": "Too early", "name": "A",
                                         "contact_email": "a@example.org"}), 409)
    assert early["code"] == "conflict"
    staff.post(f"{API}/revisions/{rid}/rounds", json={
        "opens_on": str(TODAY), "closes_on": str(TODAY + timedelta(days=60))})
    public = client.post(url, json={"body": "Cap the carry-over.", "name": "Lena Fischer",
                                    "contact_email": "lena@forum.example"})
    assert public.status_code == 201, public.text
    assert "lena@forum.example" not in public.text
    assert "contact_email" not in public.json()
    by_member = member.post(url, json={"body": "Clarify clause 1.1.", "criterion": "1.1"})
    assert by_member.status_code == 201
    assert error(client.post(url, json={"body": "No contact given", "name": "Anon"}),
                 422)["details"][0]["field"] == "contact_email"
    assert error(client.post(url, json={"body": "Bad address", "name": "A",
                                        "contact_email": "not-an-address"}), 422)
    assert error(client.post(url, json={"body": "Clause?", "criterion": "9.9", "name": "A",
                                        "contact_email": "a@example.org"}), 422)
    assert error(client.post(url, json={"body": "x" * 10_001, "name": "A",
                                        "contact_email": "a@example.org"}), 422)
    assert error(client.post(url, json={"body": "Hello there", "nickname": "A"}),
                 422)["details"][0]["field"] == "nickname"
    # The synopsis is not public while the round is open; the secretariat sees it.
    assert client.get(url).json() == []
    assert len(staff.get(url).json()) == 2
    comment_id = public.json()["id"]
    answer = {"response": "Agreed; capped at one period."}
    assert error(member.put(f"{API}/comments/{comment_id}/response", json=answer), 403)
    assert error(client.put(f"{API}/comments/{comment_id}/response", json=answer), 401)
    answered = staff.put(f"{API}/comments/{comment_id}/response", json=answer)
    assert answered.status_code == 200
    assert answered.json()["response"] == answer["response"]
    close = error(staff.post(f"{API}/revisions/{rid}/rounds/close"), 409)
    assert "runs until" in close["message"]


def test_comment_flood_over_http_is_a_429(client: TestClient, staff: TestClient,
                                          db: Session, settings: Any) -> None:
    load(db, "chain-of-custody-v2.yaml")
    rid = create_revision(staff)
    staff.post(f"{API}/revisions/{rid}/rounds", json={
        "opens_on": str(TODAY), "closes_on": str(TODAY + timedelta(days=60))})
    url = f"{API}/revisions/{rid}/comments"
    body = {"body": "Another comment", "name": "Flood", "contact_email": "f@example.org"}
    for _ in range(settings.comments_per_hour):
        assert client.post(url, json=body).status_code == 201
    assert error(client.post(url, json=body), 429)["code"] == "too_many_requests"


def seat(db: Session, staff: TestClient, client_for: Clients, chamber: str) -> TestClient:
    person = factories.user(db, Role.MEMBER_USER, organization=factories.organization(db))
    response = staff.post(f"{API}/body", json={
        "email": person.email, "chamber": chamber, "affiliation": "Org",
        "term_starts_on": str(TODAY - timedelta(days=10)),
        "term_ends_on": str(TODAY + timedelta(days=700))})
    assert response.status_code == 201, response.text
    return client_for(person)


def test_a_vote_over_http(client: TestClient, staff: TestClient, member: TestClient,
                          client_for: Clients, db: Session) -> None:
    load(db, "chain-of-custody-v2.yaml")
    voters = [seat(db, staff, client_for, c)
              for c in ("industry_upstream", "civil_society", "indigenous_peoples")]
    assert [m["chamber"] for m in client.get(f"{API}/body").json()] == [
        "civil_society", "indigenous_peoples", "industry_upstream"]
    rid = create_revision(staff)
    assert staff.post(f"{API}/revisions/{rid}/rounds", json={
        "opens_on": str(TODAY - timedelta(days=90)),
        "closes_on": str(TODAY - timedelta(days=30))}).status_code == 201
    assert staff.post(f"{API}/revisions/{rid}/rounds/close").json()["status"] == "draft"
    assert error(staff.post(f"{API}/revisions/{rid}/votes", json={
        "closes_on": str(TODAY), "pass_share": "two thirds"}), 422)
    opened = staff.post(f"{API}/revisions/{rid}/votes",
                        json={"closes_on": str(TODAY + timedelta(days=7))})
    assert opened.status_code == 201, opened.text
    vote_id = opened.json()["votes"][0]["id"]
    ballot = f"{API}/votes/{vote_id}/ballot"
    assert error(member.put(ballot, json={"choice": "yes"}), 403)
    assert error(client.put(ballot, json={"choice": "yes"}), 401)
    assert error(voters[0].put(ballot, json={"choice": "maybe"}), 422)
    assert voters[0].put(ballot, json={"choice": "no"}).status_code == 200
    changed = voters[0].put(ballot, json={"choice": "yes"})
    assert changed.status_code == 200 and changed.json()["ballots"] == 1
    assert voters[1].put(ballot, json={"choice": "yes"}).status_code == 200
    while_open = client.get(f"{API}/votes/{vote_id}").json()
    assert (while_open["roll"], while_open["by_chamber"], while_open["yes"]) == ([], [], None)
    assert error(staff.post(f"{API}/votes/{vote_id}/close"), 409)
    assert voters[2].put(ballot, json={"choice": "abstain"}).status_code == 200
    assert error(voters[2].post(f"{API}/votes/{vote_id}/close"), 403)
    closed = staff.post(f"{API}/votes/{vote_id}/close")
    assert closed.status_code == 200 and closed.json()["status"] == "approved"
    public = client.get(f"{API}/votes/{vote_id}").json()
    assert (public["yes"], public["no"], public["abstain"], public["passed"]) == (2, 0, 1, True)
    assert {r["chamber"]: r["choice"] for r in public["roll"]} == {
        "industry_upstream": "yes", "civil_society": "yes", "indigenous_peoples": "abstain"}
    assert {c["chamber"]: c["yes"] for c in public["by_chamber"]}["civil_society"] == 1
    assert error(voters[0].put(ballot, json={"choice": "no"}), 409)
    assert error(staff.post(f"{API}/revisions/{rid}/publish", json={
        "effective_on": str(TODAY - timedelta(days=1))}), 422)
    published = staff.post(f"{API}/revisions/{rid}/publish", json={
        "effective_on": str(TODAY + timedelta(days=30)),
        "transition_ends_on": str(TODAY + timedelta(days=365))})
    assert published.status_code == 200, published.text
    assert published.json()["published_version"] == 3
    assert client.get(f"{API}/chain-of-custody/versions/3").json()["effective_on"] == str(
        TODAY + timedelta(days=30))
    assert error(client.get(f"{API}/votes/00000000-0000-0000-0000-000000000000"), 404)


def test_withdraw_over_http(staff: TestClient, db: Session) -> None:
    load(db, "chain-of-custody-v2.yaml")
    rid = create_revision(staff)
    assert error(staff.post(f"{API}/revisions/{rid}/withdraw", json={}), 422)
    withdrawn = staff.post(f"{API}/revisions/{rid}/withdraw", json={"reason": "Mandate ended"})
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert error(staff.post(f"{API}/revisions/{rid}/withdraw", json={"reason": "Again"}), 409)
