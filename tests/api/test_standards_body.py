"""The standard-setting body over HTTP: votes that close themselves at their closing time,
seating from a CSV file, seats held in one's own right, and seats ended before their
term."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from stewardship.core import clock
from stewardship.core.auth import Actor, Role
from stewardship.core.eventlog import EventLogEntry
from stewardship.standards.demo import shipped_package_text
from stewardship.standards.rules import closing_instant
from stewardship.standards.service import library
from tests import factories
from tests.api.pages import csrf_in
from tests.today import TODAY

API = "/api/v1/standards"
Clients = Callable[[Actor], TestClient]


@pytest.fixture
def staff(db: Session, client_for: Clients) -> TestClient:
    return client_for(factories.user(db, Role.SECRETARIAT))


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    return body


@contextmanager
def at(moment: Any) -> Iterator[None]:
    with clock.use(clock.FixedClock(moment)):
        yield


def member_user(db: Session) -> Actor:
    return factories.user(db, Role.MEMBER_USER, organization=factories.organization(db))


def seat(staff: TestClient, email: str, chamber: str, **extra: str) -> dict[str, Any]:
    response = staff.post(f"{API}/body", json={
        "email": email, "chamber": chamber, "affiliation": "Org",
        "term_starts_on": str(TODAY - timedelta(days=10)),
        "term_ends_on": str(TODAY + timedelta(days=700)), **extra})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def consulted_revision(db: Session, staff: TestClient) -> str:
    library.import_package(db, factories.SYSTEM, shipped_package_text("chain-of-custody-v2.yaml"))
    db.flush()
    data = yaml.safe_load(shipped_package_text("chain-of-custody-v2.yaml"))
    data["version"] = 3
    rid: str = staff.post(f"{API}/revisions", json={
        "standard": "chain-of-custody", "title": "Chain of Custody Standard version 3",
        "draft": yaml.safe_dump(data, sort_keys=False)}).json()["id"]
    assert staff.post(f"{API}/revisions/{rid}/rounds", json={
        "opens_on": str(TODAY - timedelta(days=90)),
        "closes_on": str(TODAY - timedelta(days=30))}).status_code == 201
    assert staff.post(f"{API}/revisions/{rid}/rounds/close").status_code == 200
    return rid


def open_vote(staff: TestClient, rid: str, days: int = 0) -> str:
    opened = staff.post(f"{API}/revisions/{rid}/votes",
                        json={"closes_on": str(TODAY + timedelta(days=days))})
    assert opened.status_code == 201, opened.text
    vote_id: str = opened.json()["votes"][-1]["id"]
    return vote_id


def closings(db: Session, vote_id: str) -> list[EventLogEntry]:
    db.expire_all()
    return list(db.scalars(select(EventLogEntry).where(
        EventLogEntry.kind == "standards.vote.closed",
        EventLogEntry.subject == f"vote:{vote_id}")))


# --- a vote closes itself ---------------------------------------------------------------


def test_a_vote_closes_itself_at_its_closing_time_and_publishes_its_tally(
        db: Session, client: TestClient, staff: TestClient, client_for: Clients) -> None:
    people = [member_user(db) for _ in range(3)]
    for person, chamber in zip(people, ("industry_upstream", "civil_society",
                                        "indigenous_peoples"), strict=True):
        seat(staff, person.email, chamber)
    rid = consulted_revision(db, staff)
    vote_id = open_vote(staff, rid, days=3)
    voters = [client_for(p) for p in people]
    assert voters[0].put(f"{API}/votes/{vote_id}/ballot", json={"choice": "yes"}).status_code == 200
    assert voters[1].put(f"{API}/votes/{vote_id}/ballot", json={"choice": "yes"}).status_code == 200
    closes_at = closing_instant(TODAY + timedelta(days=3))

    with at(closes_at - timedelta(seconds=1)):  # the last second of the closing day
        still = client.get(f"{API}/votes/{vote_id}").json()
        assert (still["closed_at"], still["roll"], still["yes"]) == (None, [], None)
        assert voters[2].put(f"{API}/votes/{vote_id}/ballot",
                             json={"choice": "no"}).status_code == 200
    assert closings(db, vote_id) == []

    with at(closes_at):
        # Nobody closed it: the first reader finds it closed and counted.
        public = client.get(f"{API}/votes/{vote_id}")
        assert public.status_code == 200
        tally = public.json()
        assert tally["closes_at"].startswith(str(TODAY + timedelta(days=4)))
        assert (tally["yes"], tally["no"], tally["abstain"], tally["quorum_met"],
                tally["passed"]) == (2, 1, 0, True, True)
        assert {r["chamber"]: r["choice"] for r in tally["roll"]} == {
            "industry_upstream": "yes", "civil_society": "yes", "indigenous_peoples": "no"}
        assert tally["closed_at"].startswith(str(TODAY + timedelta(days=4)))
        # Read again, by the public page and the revision: counted once, not again.
        assert client.get(f"{API}/votes/{vote_id}").json() == tally
        page = client.get(f"/votes/{vote_id}")
        assert page.status_code == 200 and "PASSED" in page.text
        assert "Met (3 of 3 took part)" in page.text
        assert client.get(f"{API}/revisions/{rid}").json()["status"] == "approved"
        late = error(voters[0].put(f"{API}/votes/{vote_id}/ballot", json={"choice": "no"}),
                     409)
        assert "closed" in late["message"]
        assert error(staff.post(f"{API}/votes/{vote_id}/close"), 409)
    [entry] = closings(db, vote_id)
    assert entry.actor == "system:vote closing time"
    assert entry.payload["at_closing_time"] is True
    assert client.get(f"{API}/votes/{vote_id}").json()["passed"] is True


def test_a_ballot_after_the_closing_time_is_refused_and_the_revision_moves_on(
        db: Session, staff: TestClient, client_for: Clients) -> None:
    person = member_user(db)
    seat(staff, person.email, "civil_society")
    rid = consulted_revision(db, staff)
    vote_id = open_vote(staff, rid)
    with at(closing_instant(TODAY) + timedelta(hours=5)):
        # Nobody voted: the quorum is not met and the revision is back in draft.
        assert error(client_for(person).put(f"{API}/votes/{vote_id}/ballot",
                                            json={"choice": "yes"}), 409)
        revision = staff.get(f"{API}/revisions/{rid}").json()
        assert revision["status"] == "draft"
        [vote] = revision["votes"]
        assert (vote["passed"], vote["quorum_met"], vote["eligible"]) == (False, False, 1)
    assert len(closings(db, vote_id)) == 1


# --- seating from a CSV file ------------------------------------------------------------


def test_seating_from_csv_is_all_or_nothing_with_a_report_naming_row_and_field(
        db: Session, client: TestClient, staff: TestClient, client_for: Clients) -> None:
    first, second = member_user(db), member_user(db)
    start, end = TODAY, TODAY + timedelta(days=730)
    header = "email,name,chamber,affiliation,term_starts_on,term_ends_on\n"
    good = (f"{first.email},,industry_upstream,Upstream Metals,{start},{end}\n"
            f"{second.email},,industry_downstream,Can Makers,{start},{end}\n"
            f"n.tjapaltjarri@ipaf.example,Nora Tjapaltjarri,indigenous_peoples,"
            f"Nominated by IPAF,{start},{end}\n")
    bad = header + good + (
        f"{first.email},,civil_society,Again,{start},{end}\n"          # line 5: overlaps line 2
        f"nobody@nowhere.example,,civil_society,,{start},{end}\n"      # line 6: no such user
        f"x@example.org,X Person,parliament,,{start},{end}\n"          # line 7: no such chamber
        f"y@example.org,Y Person,civil_society,,{start},someday\n")    # line 8: not a date
    refused = staff.post(f"{API}/body/import", content=bad.encode(),
                         headers={"Content-Type": "text/csv"})
    body = refused.json()
    problems = error(refused, 422)["details"]
    assert [(p["field"]) for p in problems] == [
        "row 5: email", "row 6: email", "row 7: chamber", "row 8: term_ends_on"]
    assert "already has a seat" in problems[0]["message"]
    assert "invite them first" in problems[1]["message"]
    assert [r["ok"] for r in body["report"]["rows"]] == [True, True, True] + [False] * 4
    assert client.get(f"{API}/body").json() == []  # nobody seated

    assert error(client_for(first).post(f"{API}/body/import", content=(header + good).encode(),
                                        headers={"Content-Type": "text/csv"}), 403)
    wrong_header = error(staff.post(f"{API}/body/import", content=b"mail,chamber\nx,y\n",
                                    headers={"Content-Type": "text/csv"}), 422)
    assert wrong_header["details"][0]["field"] == "file"
    assert "unknown column(s) mail" in wrong_header["message"]

    seated = staff.post(f"{API}/body/import",
                        files={"file": ("body.csv", (header + good).encode(), "text/csv")})
    assert seated.status_code == 201, seated.text
    assert seated.json()["seated"] == 3
    listed = client.get(f"{API}/body").json()
    assert {(m["name"], m["chamber"], m["has_account"]) for m in listed} == {
        (first.name, "industry_upstream", True), (second.name, "industry_downstream", True),
        ("Nora Tjapaltjarri", "indigenous_peoples", False)}
    assert all("email" not in m for m in listed)  # contacts stay private


def test_seating_from_a_csv_file_through_the_page(
        db: Session, signed_in: Callable[[Actor], TestClient]) -> None:
    staff_actor = factories.user(db, Role.SECRETARIAT)
    browser = signed_in(staff_actor)
    page = browser.get("/secretariat/standards/body")
    token = csrf_in(page.text)
    header = "email,name,chamber,affiliation,term_starts_on,term_ends_on\n"
    rows = (f"a@independent.example,Ada Independent,civil_society,,{TODAY},"
            f"{TODAY + timedelta(days=365)}\n"
            f"b@independent.example,Ben Independent,industry_upstream,,{TODAY},"
            f"{TODAY + timedelta(days=365)}\n")
    refused = browser.post("/secretariat/standards/body/import", data={"csrf_token": token},
                           files={"seats_file": ("b.csv", (header + rows).encode(), "text/csv")})
    assert refused.status_code == 422
    assert "nobody was seated" in refused.text
    assert "Row 3, chamber: a seat in the industry upstream chamber is held through a user" \
        in refused.text
    assert "Ada Independent" not in refused.text.split('id="members-heading"', 1)[1]
    good = header + rows.splitlines()[0] + "\n"
    done = browser.post("/secretariat/standards/body/import", data={"csrf_token": token},
                        files={"seats_file": ("b.csv", good.encode(), "text/csv")})
    assert done.status_code == 200
    assert "1 member(s) are seated from the file" in done.text
    public = browser.get("/standards/body").text
    assert "Ada Independent" in public


# --- a seat in one's own right ----------------------------------------------------------


def test_a_person_without_an_organisation_is_seated_and_their_ballot_counts(
        db: Session, client: TestClient, staff: TestClient, client_for: Clients) -> None:
    independent = seat(staff, "r.ortega@community.example", "indigenous_peoples",
                       name="Rosa Ortega", affiliation="Nominated by IPAF")
    assert (independent["name"], independent["has_account"]) == ("Rosa Ortega", False)
    refused = error(staff.post(f"{API}/body", json={
        "email": "k.lund@expert.example", "name": "Karl Lund", "chamber": "industry_upstream",
        "term_starts_on": str(TODAY), "term_ends_on": str(TODAY + timedelta(days=30))}), 422)
    assert refused["details"][0]["field"] == "chamber"
    unknown = error(staff.post(f"{API}/body", json={
        "email": "k.lund@expert.example", "chamber": "civil_society",
        "term_starts_on": str(TODAY), "term_ends_on": str(TODAY + timedelta(days=30))}), 404)
    assert unknown["details"][0]["field"] == "email"
    again = error(staff.post(f"{API}/body", json={
        "email": "R.Ortega@community.example", "name": "Rosa Ortega",
        "chamber": "civil_society", "term_starts_on": str(TODAY + timedelta(days=5)),
        "term_ends_on": str(TODAY + timedelta(days=30))}), 409)
    assert "already has a seat" in again["message"]

    person = member_user(db)
    seat(staff, person.email, "industry_downstream")
    rid = consulted_revision(db, staff)
    vote_id = open_vote(staff, rid, days=2)
    ballot = f"{API}/votes/{vote_id}/ballots/{independent['id']}"
    assert error(client_for(person).put(ballot, json={"choice": "yes",
                                                      "received_by": "e-mail"}), 403)
    assert error(staff.put(ballot, json={"choice": "yes"}), 422)  # how it came is required
    recorded = staff.put(ballot, json={"choice": "yes", "received_by": "e-mail of today"})
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["ballots"] == 1
    users_seat = next(m for m in client.get(f"{API}/body").json() if m["has_account"])
    assert error(staff.put(f"{API}/votes/{vote_id}/ballots/{users_seat['id']}",
                           json={"choice": "no", "received_by": "phone"}), 409)
    assert client_for(person).put(f"{API}/votes/{vote_id}/ballot",
                                  json={"choice": "no"}).status_code == 200
    closed = staff.post(f"{API}/votes/{vote_id}/close")
    assert closed.status_code == 200 and closed.json()["status"] == "draft"  # 1 of 2 yes
    public = client.get(f"{API}/votes/{vote_id}").json()
    assert {r["name"]: r["choice"] for r in public["roll"]} == {
        "Rosa Ortega": "yes", person.name: "no"}


# --- a seat that ends before its term ---------------------------------------------------


def test_a_seat_ended_before_its_term_no_longer_counts_for_the_quorum(
        db: Session, client: TestClient, staff: TestClient, client_for: Clients) -> None:
    people = [member_user(db) for _ in range(3)]
    seats = [seat(staff, p.email, "civil_society") for p in people]
    rid = consulted_revision(db, staff)
    vote_id = open_vote(staff, rid, days=5)
    voters = [client_for(p) for p in people]
    assert voters[0].put(f"{API}/votes/{vote_id}/ballot", json={"choice": "yes"}).status_code == 200
    end = f"{API}/body/{seats[1]['id']}/end"
    assert error(staff.post(end, json={"ended_on": str(TODAY)}), 422)  # a reason is needed
    too_late = error(staff.post(end, json={"ended_on": str(TODAY + timedelta(days=900)),
                                           "reason": "Resigned"}), 422)
    assert too_late["details"][0]["field"] == "ended_on"
    assert error(voters[0].post(end, json={"ended_on": str(TODAY), "reason": "Resigned"}), 403)
    ended = staff.post(end, json={"ended_on": str(TODAY), "reason": "Resigned from the body"})
    assert ended.status_code == 200, ended.text
    assert (ended.json()["ended_on"], ended.json()["end_reason"]) == (
        str(TODAY), "Resigned from the body")
    assert error(staff.post(end, json={"ended_on": str(TODAY), "reason": "Twice"}), 409)
    # Ended today: the seat may not vote, and the vote's eligible count drops.
    refused = error(voters[1].put(f"{API}/votes/{vote_id}/ballot", json={"choice": "no"}), 403)
    assert "ended" in refused["message"]
    assert client.get(f"{API}/votes/{vote_id}").json()["eligible"] == 2
    # With one seat ended, one ballot of the two left is half the roll: the quorum is met.
    with at(closing_instant(TODAY + timedelta(days=5))):
        tally = client.get(f"{API}/votes/{vote_id}").json()
    assert (tally["eligible"], tally["yes"], tally["quorum_met"], tally["passed"]) == (
        2, 1, True, True)
    ended_entry = next(r for r in tally["roll"] if r["name"] == people[1].name)
    assert (ended_entry["counted"], ended_entry["seat_ended_on"]) == (False, str(TODAY))
    # History is kept: the seat is still listed, ended; it is not serving any more.
    body = {m["id"]: m for m in client.get(f"{API}/body").json()}
    assert body[seats[1]["id"]]["ended_on"] == str(TODAY)
    page = client.get("/standards/body").text
    assert "Resigned from the body" in page
    # The person may be seated again after the end, on a new seat.
    again = seat(staff, people[1].email, "civil_society",
                 term_starts_on=str(TODAY + timedelta(days=1)))
    assert again["id"] != seats[1]["id"]
