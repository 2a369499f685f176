"""Facilities through the services: ids, duplicates, merges and aliases."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from stewardship.core.auth import Role
from stewardship.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from stewardship.core.pagination import PageParams
from stewardship.registry.models import Facility, FacilityAlias
from stewardship.registry.rules import OrganizationStatus, parse_facility_id
from stewardship.registry.schemas import DuplicateCheck, FacilityCreate
from stewardship.registry.service import facilities, organizations
from tests import factories
from tests.factories import SYSTEM
from tests.today import TODAY

ALL = PageParams(page=1, per_page=50)


def test_create_gives_a_valid_public_id_and_logs(db: Session) -> None:
    org = factories.organization(db)
    created = factories.facility(db, org, name="Fjordal Smelter",
                                 activities=["smelting", "casthouse", "smelting"],
                                 latitude="61.4519", longitude="5.857")
    fac = created.facility
    assert parse_facility_id(fac.id) == fac.id
    assert fac.id.startswith(f"NO{TODAY.year}")
    assert fac.activities == ["casthouse", "smelting"]
    assert str(fac.latitude) == "61.451900"
    assert created.possible_duplicates == []
    event = factories.events(db)[-1]
    assert (event.kind, event.subject) == ("registry.facility.registered", f"facility:{fac.id}")
    assert event.payload["activities"] == ["casthouse", "smelting"]
    row = db.scalar(select(Facility).where(Facility.public_id == fac.id))
    assert row is not None
    assert (row.name, row.name_clean) == ("Fjordal Smelter", "fjordal smelter")
    assert row.address_clean == "industrivegen 1 6800 forde"


def test_near_duplicate_is_reported_with_scores(db: Session) -> None:
    org = factories.organization(db)
    first = factories.facility(db, org, name="Fjordal Smelter AS",
                               address="Industrivegen 15, 6800 Førde").facility
    factories.facility(db, org, name="Fjordal Smelter", address="Industrivegen 15, 6800 Førde",
                       country="SE")
    second = factories.facility(db, org, name="Fjordal Smelter",
                                address="Industrivegen 15, 6800 Forde")
    [dup] = second.possible_duplicates
    assert dup.facility.id == first.id
    assert (dup.score, dup.exact) == (100, True)
    third = factories.facility(db, org, name="Fjordal Smelting Plant",
                               address="Industrivegen 15 Førde")
    ids = [d.facility.id for d in third.possible_duplicates]
    assert set(ids) == {first.id, second.facility.id}
    assert all(75 <= d.score < 100 and not d.exact for d in third.possible_duplicates)
    assert third.facility.id not in ids


def test_duplicate_check_before_registering(db: Session) -> None:
    org = factories.organization(db)
    existing = factories.facility(db, org, name="Rhein Walzwerk", country="DE",
                                  address="Hauptstraße 5, Köln").facility
    found = facilities.check_duplicates(db, SYSTEM, DuplicateCheck(
        name="Rhein Walzwerk GmbH", address="Hauptstr. 5, Köln", country="DE"))
    assert [(d.facility.id, d.score) for d in found] == [(existing.id, 100)]
    user = factories.user(db, Role.MEMBER_USER, organization=org)
    with pytest.raises(Forbidden):
        facilities.check_duplicates(db, user, DuplicateCheck(name="X Y", country="DE"))


def test_duplicates_never_reveal_facilities_the_actor_may_not_see(db: Session) -> None:
    member = factories.organization(db)
    hidden = factories.organization(db, name="Quiet Applicant", admitted=False)
    factories.facility(db, hidden, name="Secret Smelter", address="Hemmeligveien 1")
    admin = factories.user(db, Role.MEMBER_ADMIN, organization=member)
    check = DuplicateCheck(name="Secret Smelter", address="Hemmeligveien 1", country="NO")
    assert facilities.check_duplicates(db, admin, check) == []
    assert len(facilities.check_duplicates(db, SYSTEM, check)) == 1
    created = facilities.create_facility(db, admin, FacilityCreate(
        name="Secret Smelter", address="Hemmeligveien 1", country="NO",
        activities=["smelting"]))
    assert created.possible_duplicates == []


def test_member_admin_registers_for_own_organisation_only(db: Session) -> None:
    own = factories.organization(db)
    other = factories.organization(db)
    admin = factories.user(db, Role.MEMBER_ADMIN, organization=own)
    created = facilities.create_facility(db, admin, FacilityCreate(
        name="Own Casthouse", country="NO", activities=["casthouse"]))
    assert created.facility.organization.slug == own
    with pytest.raises(Forbidden):
        facilities.create_facility(db, admin, FacilityCreate(
            organization=other, name="Their Casthouse", country="NO", activities=["casthouse"]))
    user = factories.user(db, Role.MEMBER_USER, organization=own)
    with pytest.raises(Forbidden):
        facilities.create_facility(db, user, FacilityCreate(
            name="Users Cannot", country="NO", activities=["casthouse"]))


def test_create_checks_entity_and_organisation(db: Session) -> None:
    own = factories.organization(db)
    other = factories.organization(db)
    foreign_entity = factories.entity(db, other, "Other Metals AS")
    with pytest.raises(InvalidInput) as exc:
        factories.facility(db, own, entity_id=foreign_entity.id)
    assert exc.value.details[0]["field"] == "entity_id"
    own_entity = factories.entity(db, own, "Own Metals AS")
    fac = factories.facility(db, own, entity_id=own_entity.id).facility
    assert fac.entity is not None and fac.entity.name == "Own Metals AS"
    with pytest.raises(InvalidInput) as exc:
        facilities.create_facility(db, SYSTEM, FacilityCreate(
            name="Orphan", country="NO", activities=["smelting"]))
    assert exc.value.details[0]["field"] == "organization"
    organizations.change_status(db, SYSTEM, own, OrganizationStatus.TERMINATED, "left")
    with pytest.raises(Conflict):
        factories.facility(db, own, name="Too Late")


def test_get_by_id_normalises_and_checks(db: Session) -> None:
    org = factories.organization(db)
    fac = factories.facility(db, org).facility
    written = f"{fac.id[:6].lower()}-{fac.id[6:].lower()}"
    got = facilities.get_facility(db, None, written)
    assert (got.id, got.requested_id) == (fac.id, None)
    with pytest.raises(InvalidInput) as exc:
        facilities.get_facility(db, None, fac.id[:-1] + ("0" if fac.id[-1] != "0" else "1"))
    assert exc.value.details[0]["field"] == "facility_id"
    with pytest.raises(NotFound):
        facilities.get_facility(db, None, "SE2024AB12CD" + _check("SE2024AB12CD"))


def _check(body: str) -> str:
    from stewardship.registry.rules import mod37_2_check

    return mod37_2_check(body)


def test_facilities_of_hidden_organisations_are_hidden(db: Session) -> None:
    applicant = factories.organization(db, admitted=False)
    fac = factories.facility(db, applicant).facility
    own_user = factories.user(db, Role.MEMBER_USER, organization=applicant)
    with pytest.raises(NotFound):
        facilities.get_facility(db, None, fac.id)
    assert facilities.get_facility(db, own_user, fac.id).id == fac.id
    assert facilities.list_facilities(db, None, ALL).total == 0
    assert facilities.list_facilities(db, SYSTEM, ALL).total == 1


def test_list_filters(db: Session) -> None:
    a = factories.organization(db, name="Alpha")
    b = factories.organization(db, name="Beta")
    s = factories.facility(db, a, name="Alpha Smelter", activities=["smelting"]).facility
    c = factories.facility(db, b, name="Beta Casthouse", activities=["casthouse"],
                           country="DE", address="Werkstraße 1, Neuss").facility

    def ids(**filters: str) -> list[str]:
        return [f.id for f in facilities.list_facilities(db, None, ALL, **filters).items]

    assert ids() == [s.id, c.id]
    assert ids(country="de") == [c.id]
    assert ids(activity="smelting") == [s.id]
    assert ids(organization=b) == [c.id]
    assert ids(q="neuss") == [c.id]
    assert ids(q="%") == []
    with pytest.raises(InvalidInput):
        ids(country="ZZ")


def test_merge_makes_the_old_id_resolve_to_the_survivor(db: Session) -> None:
    org = factories.organization(db)
    a = factories.facility(db, org, name="Dup A").facility
    b = factories.facility(db, org, name="Dup B").facility
    survivor = facilities.merge(db, SYSTEM, a.id.lower(), b.id)
    assert survivor.id == b.id
    got = facilities.get_facility(db, None, a.id)
    assert (got.id, got.requested_id) == (b.id, a.id)
    event = factories.events(db)[-1]
    assert (event.kind, event.subject, event.payload) == (
        "registry.facility.merged", f"facility:{a.id}", {"into": b.id})
    listed = [f.id for f in facilities.list_facilities(db, None, ALL).items]
    assert listed == [b.id]


def test_chained_merges_resolve_to_the_last_survivor(db: Session) -> None:
    org = factories.organization(db)
    a, b, c = (factories.facility(db, org, name=f"Chain {n}").facility for n in "ABC")
    facilities.merge(db, SYSTEM, a.id, b.id)
    facilities.merge(db, SYSTEM, b.id, c.id)
    for old in (a.id, b.id):
        got = facilities.get_facility(db, None, old)
        assert (got.id, got.requested_id) == (c.id, old)
    targets = dict(db.execute(select(FacilityAlias.alias, FacilityAlias.facility_id)).all())
    c_row = db.scalar(select(Facility).where(Facility.public_id == c.id))
    assert c_row is not None
    assert targets == {a.id: c_row.id, b.id: c_row.id}


def test_merge_refusals(db: Session) -> None:
    org = factories.organization(db)
    a = factories.facility(db, org, name="Refuse A").facility
    b = factories.facility(db, org, name="Refuse B").facility
    abroad = factories.facility(db, org, name="Refuse C", country="SE").facility
    with pytest.raises(Conflict, match="itself") as exc:
        facilities.merge(db, SYSTEM, a.id, a.id)
    assert exc.value.details[0]["field"] == "into"
    with pytest.raises(Conflict, match="same country"):
        facilities.merge(db, SYSTEM, a.id, abroad.id)
    facilities.merge(db, SYSTEM, a.id, b.id)
    with pytest.raises(Conflict, match="already merged"):
        facilities.merge(db, SYSTEM, a.id, abroad.id)
    with pytest.raises(Conflict, match="itself"):
        facilities.merge(db, SYSTEM, b.id, a.id)  # a is b now
    with pytest.raises(InvalidInput) as exc:
        facilities.merge(db, SYSTEM, b.id, "NOT-AN-ID")
    assert exc.value.details[0]["field"] == "into"
    admin = factories.user(db, Role.MEMBER_ADMIN, organization=org)
    with pytest.raises(Forbidden):
        facilities.merge(db, admin, b.id, abroad.id)
