"""Organisations and entities through the services, on a real database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session

from stewardship.core.auth import Role
from stewardship.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from stewardship.core.pagination import PageParams
from stewardship.registry.rules import OrganizationStatus
from stewardship.registry.schemas import EntityCreate, OrganizationCreate, OrganizationUpdate
from stewardship.registry.service import organizations
from tests import factories
from tests.factories import SYSTEM
from tests.today import TODAY

ALL = PageParams(page=1, per_page=50)


def _apply(db: Session, name: str = "Hopeful Metals", **extra: str) -> str:
    data = {"name": name, "membership_class": "production_transformation", "country": "NO",
            **extra}
    return organizations.create_organization(db, SYSTEM, OrganizationCreate(**data)).slug


def test_create_records_an_applicant_and_logs_it(db: Session) -> None:
    created = organizations.create_organization(db, SYSTEM, OrganizationCreate(
        name="Hopeful Metals", membership_class="industrial_users", country="de"))
    assert created.slug == "hopeful-metals"
    assert created.status == "applicant"
    assert created.joined_on is None
    assert created.certification_deadline is None
    assert created.country == "DE"
    assert created.standing == "not_applicable"
    [event] = factories.events(db)
    assert (event.kind, event.subject) == ("registry.organization.applied",
                                            "organization:hopeful-metals")
    assert event.payload == {"name": "Hopeful Metals", "membership_class": "industrial_users",
                             "country": "DE"}
    assert event.actor == "system:tests"


def test_slugs_are_unique(db: Session) -> None:
    # Two names that differ only in letters outside the Latin alphabet share a slug's base.
    assert _apply(db, "Same Name") == "same-name"
    assert _apply(db, "Same Name Русал") == "same-name-2"
    with pytest.raises(Conflict) as exc:
        _apply(db, "Other", slug="same-name")
    assert exc.value.details[0]["field"] == "slug"


def test_only_the_secretariat_registers_organisations(db: Session) -> None:
    member = factories.organization(db)
    admin = factories.user(db, Role.MEMBER_ADMIN, organization=member)
    data = OrganizationCreate(name="Sneaky", membership_class="civil_society", country="NO")
    with pytest.raises(Forbidden):
        organizations.create_organization(db, admin, data)
    with pytest.raises(Unauthenticated):
        organizations.create_organization(db, None, data)


def test_admit_sets_joined_on_deadline_and_logs(db: Session) -> None:
    slug = _apply(db)
    admitted = organizations.admit(db, SYSTEM, slug, date(2024, 2, 29))
    assert admitted.status == "member"
    assert admitted.joined_on == date(2024, 2, 29)
    assert admitted.certification_deadline == date(2026, 2, 28)
    db.expire_all()
    again = organizations.get_organization(db, None, slug)
    assert again.joined_on == date(2024, 2, 29)
    event = factories.events(db)[-1]
    assert event.kind == "registry.organization.member"
    assert event.payload == {"from": "applicant", "joined_on": "2024-02-29"}


def test_admit_defaults_to_today_and_refuses_the_future(db: Session) -> None:
    slug = _apply(db)
    with pytest.raises(InvalidInput) as exc:
        organizations.admit(db, SYSTEM, slug, TODAY + timedelta(days=1))
    assert exc.value.details[0]["field"] == "joined_on"
    assert organizations.admit(db, SYSTEM, slug).joined_on == TODAY


def test_invalid_transitions_are_conflicts(db: Session) -> None:
    slug = factories.organization(db)
    with pytest.raises(Conflict):
        organizations.admit(db, SYSTEM, slug)  # member already
    applicant = _apply(db, "Applicant")
    with pytest.raises(Conflict):
        organizations.change_status(db, SYSTEM, applicant, OrganizationStatus.SUSPENDED, "why")
    with pytest.raises(Conflict, match="admit"):
        organizations.change_status(db, SYSTEM, applicant, OrganizationStatus.MEMBER, "why")
    organizations.change_status(db, SYSTEM, slug, OrganizationStatus.TERMINATED, "fees")
    for target in OrganizationStatus:
        with pytest.raises(Conflict):
            organizations.change_status(db, SYSTEM, slug, target, "again")
    with pytest.raises(Conflict):
        organizations.admit(db, SYSTEM, slug)


def test_admit_is_for_applicants_not_a_way_to_reinstate(db: Session) -> None:
    slug = factories.organization(db, joined_on=date(2020, 5, 1))
    organizations.change_status(db, SYSTEM, slug, OrganizationStatus.SUSPENDED, "fees unpaid")
    with pytest.raises(Conflict, match="reinstate"):
        organizations.admit(db, SYSTEM, slug, date(2024, 1, 1))
    reinstated = organizations.change_status(db, SYSTEM, slug, OrganizationStatus.MEMBER,
                                             "fees paid")
    assert reinstated.status == "member"
    assert reinstated.joined_on == date(2020, 5, 1)


def test_suspend_reinstate_terminate_each_log_the_reason(db: Session) -> None:
    slug = factories.organization(db)
    organizations.change_status(db, SYSTEM, slug, OrganizationStatus.SUSPENDED, "fees unpaid")
    organizations.change_status(db, SYSTEM, slug, OrganizationStatus.MEMBER, "fees paid")
    done = organizations.change_status(db, SYSTEM, slug, OrganizationStatus.TERMINATED, "left")
    assert done.status == "terminated"
    tail = factories.events(db)[-3:]
    assert [(e.kind, e.payload) for e in tail] == [
        ("registry.organization.suspended", {"from": "member", "reason": "fees unpaid"}),
        ("registry.organization.member", {"from": "suspended", "reason": "fees paid"}),
        ("registry.organization.terminated", {"from": "member", "reason": "left"}),
    ]


def test_terminating_an_application(db: Session) -> None:
    slug = _apply(db)
    refused = organizations.change_status(db, SYSTEM, slug, OrganizationStatus.TERMINATED,
                                          "not eligible")
    assert refused.status == "terminated"
    assert refused.joined_on is None


def test_hidden_organisations_are_404_to_the_public_and_other_members(db: Session) -> None:
    slug = _apply(db, "Quiet Applicant")
    other = factories.organization(db)
    own_user = factories.user(db, Role.MEMBER_USER, organization=slug)
    outsider = factories.user(db, Role.MEMBER_ADMIN, organization=other)
    for actor in (None, outsider):
        with pytest.raises(NotFound):
            organizations.get_organization(db, actor, slug)
    assert organizations.get_organization(db, SYSTEM, slug).name == "Quiet Applicant"
    assert organizations.get_organization(db, own_user, slug).name == "Quiet Applicant"
    # Not found and hidden look the same from outside.
    with pytest.raises(NotFound) as hidden:
        organizations.get_organization(db, None, slug)
    with pytest.raises(NotFound) as missing:
        organizations.get_organization(db, None, "no-such-org")
    assert hidden.value.message.replace(slug, "X") == missing.value.message.replace(
        "no-such-org", "X")


def test_suspended_members_leave_the_public_register(db: Session) -> None:
    slug = factories.organization(db, name="Paused Metals")
    organizations.change_status(db, SYSTEM, slug, OrganizationStatus.SUSPENDED, "fees")
    public = organizations.list_organizations(db, None, ALL)
    assert slug not in [o.slug for o in public.items]
    everyone = organizations.list_organizations(db, SYSTEM, ALL)
    assert slug in [o.slug for o in everyone.items]
    only = organizations.list_organizations(db, SYSTEM, ALL, status="suspended")
    assert [o.slug for o in only.items] == [slug]
    with pytest.raises(InvalidInput):
        organizations.list_organizations(db, None, ALL, status="suspended")


def test_register_filters(db: Session) -> None:
    smelter = factories.organization(db, name="Nordic Smelting", country="NO")
    roller = factories.organization(db, name="Rhein Rolling", country="DE")
    ngo = factories.organization(db, name="Clean Rivers", membership_class="civil_society",
                                 country="DE")
    factories.organization(db, name="Rhein Applicant", country="DE", admitted=False)
    factories.facility(db, smelter, activities=["smelting", "casthouse"])
    factories.facility(db, roller, name="Rhein Mill", country="DE",
                       activities=["semi_fabrication"])

    def slugs(**filters: str) -> list[str]:
        return [o.slug for o in organizations.list_organizations(db, None, ALL, **filters).items]

    assert slugs() == [ngo, smelter, roller]  # by name
    assert slugs(membership_class="civil_society") == [ngo]
    assert slugs(country="de") == [ngo, roller]
    assert slugs(activity="casthouse") == [smelter]
    assert slugs(activity="semi_fabrication", country="DE") == [roller]
    assert slugs(q="RHEIN") == [roller]
    assert slugs(q="%") == []  # wildcards are literal
    assert slugs(q="_") == []
    with pytest.raises(InvalidInput) as exc:
        slugs(country="XX")
    assert exc.value.details[0]["field"] == "country"
    [read] = organizations.list_organizations(db, None, ALL, q="nordic").items
    assert read.activities == ["casthouse", "smelting"]
    assert read.facility_count == 1


def test_pagination_totals(db: Session) -> None:
    for n in range(5):
        factories.organization(db, name=f"Paged Metals {n}")
    first = organizations.list_organizations(db, None, PageParams(page=1, per_page=2))
    last = organizations.list_organizations(db, None, PageParams(page=3, per_page=2))
    beyond = organizations.list_organizations(db, None, PageParams(page=4, per_page=2))
    assert (first.total, first.pages, len(first.items)) == (5, 3, 2)
    assert (last.total, len(last.items)) == (5, 1)
    assert (beyond.total, beyond.items) == (5, [])
    seen = [o.name for p in (1, 2, 3)
            for o in organizations.list_organizations(db, None, PageParams(p, 2)).items]
    assert seen == [f"Paged Metals {n}" for n in range(5)]


def test_update_by_own_admin_or_secretariat_only(db: Session) -> None:
    slug = factories.organization(db)
    other = factories.organization(db)
    admin = factories.user(db, Role.MEMBER_ADMIN, organization=slug)
    outsider = factories.user(db, Role.MEMBER_ADMIN, organization=other)
    user = factories.user(db, Role.MEMBER_USER, organization=slug)
    changed = organizations.update_organization(
        db, admin, slug, OrganizationUpdate(website="https://example.org", description="Hi"))
    assert (changed.website, changed.description) == ("https://example.org", "Hi")
    assert factories.events(db)[-1].kind == "registry.organization.updated"
    with pytest.raises(Forbidden):
        organizations.update_organization(db, outsider, slug, OrganizationUpdate(name="Mine"))
    with pytest.raises(Forbidden):
        organizations.update_organization(db, user, slug, OrganizationUpdate(name="Mine"))


def test_entities(db: Session) -> None:
    slug = factories.organization(db)
    entity = organizations.add_entity(db, SYSTEM, slug, EntityCreate(name="Test Metals AS"))
    assert organizations.get_organization(db, None, slug).entities[0].id == entity.id
    event = factories.events(db)[-1]
    assert (event.kind, event.subject) == ("registry.entity.created", f"entity:{entity.id}")
    with pytest.raises(Conflict):
        organizations.add_entity(db, SYSTEM, slug, EntityCreate(name="test metals as"))
    other = factories.organization(db)
    outsider = factories.user(db, Role.MEMBER_ADMIN, organization=other)
    with pytest.raises(Forbidden):
        organizations.add_entity(db, outsider, slug, EntityCreate(name="Takeover AS"))


def test_long_names_still_get_unique_slugs_that_fit(db: Session) -> None:
    name = "Very Long Aluminium Company Name " * 5
    first = _apply(db, name + "North")
    second = _apply(db, name + "South")
    assert first != second
    assert len(first) <= 80 and len(second) <= 80
    assert second.endswith("-2")
    db.flush()
    assert organizations.get_organization(db, SYSTEM, second).slug == second


def test_names_without_latin_letters_get_a_slug(db: Session) -> None:
    first = _apply(db, "Русал")
    second = _apply(db, "中国铝业")
    assert first and second and first != second
    assert organizations.get_organization(db, SYSTEM, second).name == "中国铝业"
