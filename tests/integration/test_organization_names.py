"""Organisation names are unique without case, accents or punctuation, in the service and
in the database; a certified member's rename waits for the secretariat; certificates keep
the name they were issued to."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stewardship.assurance.service import certificates
from stewardship.core.auth import Role
from stewardship.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from stewardship.registry.models import Organization
from stewardship.registry.schemas import OrganizationCreate, OrganizationUpdate
from stewardship.registry.service import organizations
from tests import assurance_world as aw
from tests import factories
from tests.factories import SYSTEM


def _apply(db: Session, name: str) -> str:
    return organizations.create_organization(db, SYSTEM, OrganizationCreate(
        name=name, membership_class="production_transformation", country="NO")).slug


def _rename(db: Session, actor: object, slug: str, name: str) -> object:
    return organizations.update_organization(db, actor, slug,  # type: ignore[arg-type]
                                             OrganizationUpdate(name=name))


def test_a_name_that_differs_only_in_case_accents_or_punctuation_is_taken(db: Session) -> None:
    first = _apply(db, "Fjord Aluminium A.S.")
    for clash in ("fjord aluminium as", "FJORD  ALUMÍNIUM, AS", "Fjord-Aluminium AS"):
        with pytest.raises(Conflict) as exc:
            _apply(db, clash)
        assert exc.value.details[0]["field"] == "name"
        assert exc.value.details[1] == {"field": "organization", "message": first}
        assert "Fjord Aluminium A.S." in exc.value.message
    # A different legal form is a different company.
    assert _apply(db, "Fjord Aluminium AB")
    with pytest.raises(InvalidInput):
        _apply(db, "--")


def test_a_member_admin_cannot_rename_to_another_members_name(db: Session) -> None:
    mine = factories.organization(db, name="Northern Rolling")
    theirs = factories.organization(db, name="Southern Extrusion")
    hidden = factories.organization(db, name="Quiet Applicant", admitted=False)
    admin = factories.user(db, Role.MEMBER_ADMIN, organization=mine)
    with pytest.raises(Conflict) as exc:
        _rename(db, admin, mine, "southern extrusion")
    assert f"Southern Extrusion ({theirs})" in exc.value.message
    # An applicant is not on the register: its name is refused without naming it.
    with pytest.raises(Conflict) as exc:
        _rename(db, admin, mine, "Quiet Applicant")
    assert "another organisation" in exc.value.message and hidden not in exc.value.message
    # Uncertified members rename at once; the register lists one of each name.
    renamed = _rename(db, admin, mine, "Northern Rolling Mills")
    assert renamed.name == "Northern Rolling Mills"  # type: ignore[attr-defined]
    assert factories.events(db)[-1].kind == "registry.organization.renamed"
    assert factories.events(db)[-1].payload == {"from": "Northern Rolling",
                                                 "to": "Northern Rolling Mills"}
    # Its old name is free again; its own case change is no clash.
    assert _apply(db, "Northern Rolling")
    _rename(db, admin, mine, "NORTHERN ROLLING MILLS")


def test_the_database_refuses_a_second_row_with_the_same_name_key(db: Session) -> None:
    slug = factories.organization(db, name="Race Metals")
    key = organizations.load(db, SYSTEM, slug).name_key
    db.add(Organization(slug="race-metals-2", name="RACE METALS", name_key=key,
                        membership_class="civil_society", country="NO"))
    with pytest.raises(IntegrityError), db.begin_nested():
        db.flush()


def test_a_name_taken_between_the_check_and_the_write_answers_409(db: Session) -> None:
    # Another request's row, not yet visible to this one's check when it ran.
    with db.no_autoflush:
        db.add(Organization(slug="first-in", name="Photo Finish Metals",
                            name_key="photo finish metals", membership_class="civil_society",
                            country="NO"))
        with pytest.raises(Conflict) as exc:
            _apply(db, "Photo-Finish Metals")
    assert exc.value.details[0]["field"] == "name"


def test_a_certified_members_rename_waits_for_the_secretariat(db: Session) -> None:
    w = aw.build(db)
    old_name = organizations.get_organization(db, None, w.org).name
    decision = aw.certify(db, w, aw.scope(db, w))
    number = decision.certificate.number  # type: ignore[union-attr]
    pending = _rename(db, w.admin, w.org, "Fjord Metals Group")
    assert pending.name == old_name  # type: ignore[attr-defined]
    assert pending.pending_name == "Fjord Metals Group"  # type: ignore[attr-defined]
    assert factories.events(db)[-1].kind == "registry.organization.rename_requested"
    # The name is spoken for while it waits.
    with pytest.raises(Conflict, match="asked to be renamed"):
        _apply(db, "Fjord Metals Group")
    with pytest.raises(Forbidden):
        organizations.pending_name_changes(db, w.admin)
    [waiting] = organizations.pending_name_changes(db, w.secretariat)
    assert (waiting.organization, waiting.old_name, waiting.new_name) == (
        w.org, old_name, "Fjord Metals Group")
    with pytest.raises(Forbidden):
        organizations.decide_name_change(db, w.admin, w.org, approve=True)

    approved = organizations.decide_name_change(db, w.secretariat, w.org, approve=True)
    assert approved.status == "approved"
    assert organizations.get_organization(db, None, w.org).name == "Fjord Metals Group"
    assert factories.events(db)[-1].kind == "registry.organization.renamed"
    with pytest.raises(NotFound):
        organizations.decide_name_change(db, w.secretariat, w.org, approve=True)

    cert = certificates.get_certificate(db, number)
    assert (cert.issued_to, cert.organization.name) == (old_name, "Fjord Metals Group")
    document = certificates.certificate_document(db, number)
    assert document.issued_to == old_name
    [header, row] = certificates.export_rows(db)
    assert row[header.index("organization")] == old_name
    assert row[header.index("organization_now")] == "Fjord Metals Group"

    # A refusal says why, and the name stays.
    _rename(db, w.admin, w.org, "Fjord Global")
    with pytest.raises(InvalidInput):
        organizations.decide_name_change(db, w.secretariat, w.org, approve=False)
    refused = organizations.decide_name_change(db, w.secretariat, w.org, approve=False,
                                               reason="not the registered company name")
    assert refused.status == "refused"
    assert organizations.get_organization(db, None, w.org).name == "Fjord Metals Group"
    assert factories.events(db)[-1].kind == "registry.organization.rename_refused"
    # The secretariat itself renames directly.
    _rename(db, w.secretariat, w.org, "Fjord Global AS")
    assert organizations.get_organization(db, None, w.org).name == "Fjord Global AS"


def test_a_rename_to_a_name_taken_meanwhile_answers_409(db: Session) -> None:
    slug = factories.organization(db, name="Slow Rename Metals")
    with db.no_autoflush:
        db.add(Organization(slug="quick", name="Quick Metals", name_key="quick metals",
                            membership_class="civil_society", country="NO"))
        with pytest.raises(Conflict):
            _rename(db, SYSTEM, slug, "Quick Metals")
    db.expire_all()
    assert organizations.load(db, SYSTEM, slug).name == "Slow Rename Metals"
