"""Invitations are per inviting body: an organisation, an audit firm or the secretariat."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, Role
from stewardship.core.config import Settings
from stewardship.core.errors import NotFound
from stewardship.registry.models import Invitation, User
from stewardship.registry.schemas import InvitationCreate
from stewardship.registry.service import accounts
from tests import factories
from tests.factories import SYSTEM

EMAIL = "sought.after@example.org"


def _invite(db: Session, actor: Actor, settings: Settings, **data: str) -> tuple[Invitation,
                                                                                  str]:
    body = {"email": EMAIL, "name": "Sought After", "role": "member_user", **data}
    return accounts.invite(db, actor, InvitationCreate(**body), settings)  # type: ignore[arg-type]


def _live(db: Session) -> set[str]:
    db.flush()
    rows = db.scalars(select(Invitation).where(Invitation.email == EMAIL,
                                               Invitation.revoked_at.is_(None)))
    return {str(r.id) for r in rows}


def test_another_organisations_invitation_is_left_alone(db: Session,
                                                        settings: Settings) -> None:
    first, second = factories.organization(db), factories.organization(db)
    admin_1 = factories.user(db, Role.MEMBER_ADMIN, organization=first)
    admin_2 = factories.user(db, Role.MEMBER_ADMIN, organization=second)
    theirs, their_token = _invite(db, admin_1, settings)
    mine, _ = _invite(db, admin_2, settings)
    firm, _ = _invite(db, SYSTEM, settings, role="auditor", audit_firm=factories.audit_firm(db))
    staff, _ = _invite(db, SYSTEM, settings, role="secretariat")
    assert _live(db) == {str(theirs.id), str(mine.id), str(firm.id), str(staff.id)}
    # Each organisation sees its own only.
    assert [i.id for i in accounts.pending_invitations(db, admin_1)] == [theirs.id]
    # The first organisation's link still works after the second one invited the person.
    assert accounts.open_invitation(db, their_token).id == theirs.id


def test_inviting_again_from_the_same_body_replaces_its_own(db: Session,
                                                            settings: Settings) -> None:
    org, other = factories.organization(db), factories.organization(db)
    admin = factories.user(db, Role.MEMBER_ADMIN, organization=org)
    _, kept_token = _invite(db, SYSTEM, settings, organization=other)
    old, old_token = _invite(db, admin, settings)
    new, _ = _invite(db, admin, settings, role="member_admin")
    assert str(old.id) not in _live(db) and str(new.id) in _live(db)
    with pytest.raises(NotFound):
        accounts.open_invitation(db, old_token)
    accounts.open_invitation(db, kept_token)
    # The secretariat inviting to the same organisation replaces that organisation's one.
    again, _ = _invite(db, SYSTEM, settings, organization=org)
    assert str(new.id) not in _live(db) and str(again.id) in _live(db)
    staff_1, _ = _invite(db, SYSTEM, settings, role="secretariat")
    staff_2, _ = _invite(db, SYSTEM, settings, role="secretariat")
    assert str(staff_1.id) not in _live(db) and str(staff_2.id) in _live(db)


def test_accepting_one_revokes_the_others_and_says_so(db: Session,
                                                      settings: Settings) -> None:
    first, second = factories.organization(db), factories.organization(db)
    one, _ = _invite(db, SYSTEM, settings, organization=first)
    two, two_token = _invite(db, SYSTEM, settings, organization=second)
    auditor, auditor_token = _invite(db, SYSTEM, settings, role="auditor",
                                     audit_firm=factories.audit_firm(db))
    user = accounts.accept_invitation(db, two_token, "a-long-password")
    assert user.organization == second
    assert _live(db) == {str(two.id)}
    for row in (one, auditor):
        db.refresh(row)
        assert row.revoked_at is not None and row.accepted_at is None
    with pytest.raises(NotFound):
        accounts.accept_invitation(db, auditor_token, "a-long-password")
    joined = factories.events(db)[-1]
    assert joined.kind == "registry.user.joined"
    assert joined.payload["revoked_invitations"] == sorted([str(one.id), str(auditor.id)])
    assert db.scalar(select(User).where(User.email == EMAIL)) is not None
