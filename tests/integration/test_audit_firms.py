"""Audit firms: accreditation, named auditors, who sees what, and coverage."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session

from stewardship.core.auth import Role
from stewardship.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from stewardship.core.pagination import PageParams
from stewardship.registry.rules import add_years
from stewardship.registry.schemas import (
    Accreditation,
    AuditFirmCreate,
    AuditorCreate,
)
from stewardship.registry.service import audit_firms
from tests import factories
from tests.factories import SYSTEM
from tests.today import TODAY

ALL = PageParams(page=1, per_page=50)
NEXT_YEAR = TODAY + timedelta(days=365)


def _scope(expires_on: date, **extra: object) -> Accreditation:
    data: dict[str, object] = {"standards": ["performance"], "countries": ["no", "DE", "NO"],
                               "activities": ["smelting"], "expires_on": expires_on, **extra}
    return Accreditation(**data)  # type: ignore[arg-type]


def test_accredit_records_the_scope_and_logs(db: Session) -> None:
    expires = TODAY + timedelta(days=365)
    firm = audit_firms.accredit(db, SYSTEM, AuditFirmCreate(
        name="Nordic Assurance AS", country="no", accreditation=_scope(expires)))
    assert firm.slug == "nordic-assurance-as"
    assert (firm.status, firm.country) == ("accredited", "NO")
    assert firm.countries == ["DE", "NO"]
    assert firm.accreditation_expires_on == expires
    event = factories.events(db)[-1]
    assert (event.kind, event.subject) == ("registry.audit_firm.accredited",
                                            "audit_firm:nordic-assurance-as")
    assert event.payload["countries"] == ["DE", "NO"]
    assert event.payload["expires_on"] == expires.isoformat()
    with pytest.raises(Conflict):
        audit_firms.accredit(db, SYSTEM, AuditFirmCreate(
            name="Nordic Assurance", slug="nordic-assurance-as", country="NO",
            accreditation=_scope(expires)))


@pytest.mark.parametrize("days", [0, -1, -400])
def test_accreditation_must_expire_in_the_future(db: Session, days: int) -> None:
    with pytest.raises(InvalidInput) as exc:
        audit_firms.accredit(db, SYSTEM, AuditFirmCreate(
            name="Lapsed Audits", country="GB",
            accreditation=_scope(TODAY + timedelta(days=days))))
    assert exc.value.details[0]["field"] == "accreditation.expires_on"
    assert factories.events(db) == []


def test_only_the_secretariat_accredits_and_names_auditors(db: Session) -> None:
    slug = factories.audit_firm(db)
    auditor = factories.user(db, Role.AUDITOR, audit_firm=slug)
    with pytest.raises(Forbidden):
        audit_firms.accredit(db, auditor, AuditFirmCreate(
            name="Self Made", country="GB", accreditation=_scope(NEXT_YEAR)))
    with pytest.raises(Forbidden):
        audit_firms.add_auditor(db, auditor, slug, AuditorCreate(name="Friend", email="f@x.io"))
    with pytest.raises(Forbidden):
        audit_firms.update_accreditation(db, auditor, slug, _scope(add_years(TODAY, 10)))


def test_auditors_are_named_once_per_firm(db: Session) -> None:
    slug = factories.audit_firm(db)
    lead = audit_firms.add_auditor(db, SYSTEM, slug, AuditorCreate(
        name="Ingrid Lead", email="Ingrid@Audit.example", lead=True))
    assert lead.lead and lead.active
    event = factories.events(db)[-1]
    assert (event.kind, event.payload["auditor"]) == ("registry.auditor.named", str(lead.id))
    with pytest.raises(Conflict) as exc:
        audit_firms.add_auditor(db, SYSTEM, slug, AuditorCreate(
            name="Ingrid Again", email="ingrid@audit.example"))
    assert exc.value.details[0]["field"] == "email"
    other = factories.audit_firm(db)
    audit_firms.add_auditor(db, SYSTEM, other, AuditorCreate(
        name="Ingrid Elsewhere", email="ingrid@audit.example"))
    assert [a.name for a in audit_firms.get_audit_firm(db, None, slug).auditors] == [
        "Ingrid Lead"]


def test_scope_change_and_status_visibility(db: Session) -> None:
    slug = factories.audit_firm(db)
    changed = audit_firms.update_accreditation(db, SYSTEM, slug, _scope(
        add_years(TODAY, 3), standards=["chain_of_custody"], activities=["casthouse",
                                                                       "remelting_refining"]))
    assert changed.standards == ["chain_of_custody"]
    assert changed.activities == ["casthouse", "remelting_refining"]
    assert factories.events(db)[-1].kind == "registry.audit_firm.scope_changed"
    own = factories.user(db, Role.AUDITOR, audit_firm=slug)
    audit_firms.set_status(db, SYSTEM, slug, "suspended", "late reports")
    assert factories.events(db)[-1].kind == "registry.audit_firm.suspended"
    with pytest.raises(NotFound):
        audit_firms.get_audit_firm(db, None, slug)
    assert audit_firms.get_audit_firm(db, own, slug).status == "suspended"
    assert audit_firms.get_audit_firm(db, SYSTEM, slug).status == "suspended"
    assert slug not in [f.slug for f in audit_firms.list_audit_firms(db, None, ALL).items]
    assert slug in [f.slug for f in audit_firms.list_audit_firms(db, SYSTEM, ALL).items]
    audit_firms.set_status(db, SYSTEM, slug, "withdrawn", "fraud")
    with pytest.raises(Conflict):
        audit_firms.set_status(db, SYSTEM, slug, "accredited", "sorry")
    with pytest.raises(InvalidInput):
        audit_firms.set_status(db, SYSTEM, factories.audit_firm(db), "paused", "x")


def test_list_by_country(db: Session) -> None:
    gb = factories.audit_firm(db, name="Albion Audits")
    assert [f.slug for f in audit_firms.list_audit_firms(db, None, ALL, country="gb").items] == [
        gb]
    assert audit_firms.list_audit_firms(db, None, ALL, country="FR").total == 0
    with pytest.raises(InvalidInput):
        audit_firms.list_audit_firms(db, None, ALL, country="QQ")


def test_covers(db: Session) -> None:
    slug = factories.audit_firm(db, countries=["NO", "DE"], activities=["smelting", "casthouse"])
    firm = audit_firms.load(db, SYSTEM, slug)
    day = factories.ACCREDITED_UNTIL - timedelta(days=1)
    assert audit_firms.covers(firm, standard="performance", country="NO",
                              activities=["smelting", "casthouse"], on=day)
    assert not audit_firms.covers(firm, standard="performance", country="SE",
                                  activities=["smelting"], on=day)
    assert not audit_firms.covers(firm, standard="performance", country="NO",
                                  activities=["smelting", "bauxite_mining"], on=day)
    assert not audit_firms.covers(firm, standard="performance", country="NO",
                                  activities=["smelting"], on=day + timedelta(days=2))
    audit_firms.set_status(db, SYSTEM, slug, "suspended", "late reports")
    assert not audit_firms.covers(audit_firms.load(db, SYSTEM, slug), standard="performance",
                                  country="NO", activities=["smelting"], on=day)


def test_names_without_latin_letters_get_distinct_usable_slugs(db: Session) -> None:
    from stewardship.registry.rules import SLUG_PATTERN

    slugs = [audit_firms.accredit(db, SYSTEM, AuditFirmCreate(
        name=name, country="GB", accreditation=_scope(NEXT_YEAR))).slug
        for name in ("Аудит Групп", "审计集团")]
    assert all(SLUG_PATTERN.match(s) for s in slugs), slugs
    assert slugs[0] != slugs[1]
    assert audit_firms.get_audit_firm(db, None, slugs[1]).name == "审计集团"


def test_a_taken_slug_derived_from_the_name_gets_a_suffix(db: Session) -> None:
    first = audit_firms.accredit(db, SYSTEM, AuditFirmCreate(
        name="Twin Audits", country="GB", accreditation=_scope(NEXT_YEAR)))
    second = audit_firms.accredit(db, SYSTEM, AuditFirmCreate(
        name="Twin Audits", country="DE", accreditation=_scope(NEXT_YEAR)))
    assert (first.slug, second.slug) == ("twin-audits", "twin-audits-2")
    with pytest.raises(Conflict):
        audit_firms.accredit(db, SYSTEM, AuditFirmCreate(
            name="Other", slug="twin-audits", country="GB",
            accreditation=_scope(NEXT_YEAR)))
