"""Users, invitations, sign-in throttling, sessions and API tokens on a real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from stewardship.core.auth import Role
from stewardship.core.config import Settings
from stewardship.core.db import utcnow
from stewardship.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyRequests,
    Unauthenticated,
)
from stewardship.core.pagination import PageParams
from stewardship.core.security import token_digest
from stewardship.registry.models import ApiToken, Invitation, LoginAttempt, User, UserSession
from stewardship.registry.schemas import InvitationCreate, UserUpdate
from stewardship.registry.service import accounts
from tests import factories
from tests.factories import PASSWORD, SYSTEM

ALL = PageParams(page=1, per_page=50)


def _invite(db: Session, actor: object, settings: Settings, **data: str) -> tuple[Invitation,
                                                                                  str]:
    body = {"email": "new.person@example.org", "name": "New Person", "role": "member_user",
            **data}
    return accounts.invite(db, actor, InvitationCreate(**body), settings)  # type: ignore[arg-type]


# --- creating users ---------------------------------------------------------------------


def test_create_user_checks_home_and_duplicates(db: Session) -> None:
    org = factories.organization(db)
    created = accounts.create_user(db, SYSTEM, email=" Ada@Example.ORG ", name="Ada",
                                   password=PASSWORD, role=Role.MEMBER_ADMIN, organization=org)
    assert (created.email, created.organization, created.role) == ("ada@example.org", org,
                                                                    "member_admin")
    assert factories.events(db)[-1].kind == "registry.user.created"
    with pytest.raises(Conflict):
        accounts.create_user(db, SYSTEM, email="ada@example.org", name="Ada 2",
                             password=PASSWORD, role=Role.SECRETARIAT)
    with pytest.raises(InvalidInput) as exc:
        accounts.create_user(db, SYSTEM, email="b@example.org", name="B", password=PASSWORD,
                             role=Role.MEMBER_USER)
    assert exc.value.details[0]["field"] == "organization"
    with pytest.raises(InvalidInput) as exc:
        accounts.create_user(db, SYSTEM, email="c@example.org", name="C", password="short",
                             role=Role.SECRETARIAT)
    assert exc.value.details[0]["field"] == "password"
    row = db.scalar(select(User).where(User.email == "ada@example.org"))
    assert row is not None and PASSWORD not in row.password_hash


# --- invitations ------------------------------------------------------------------------


def test_member_admin_invites_to_own_organisation_and_member_roles_only(
        db: Session, settings: Settings) -> None:
    own = factories.organization(db)
    other = factories.organization(db)
    admin = factories.user(db, Role.MEMBER_ADMIN, organization=own)
    invitation, token = _invite(db, admin, settings)
    assert invitation.organization_id is not None and invitation.audit_firm_id is None
    assert invitation.role == "member_user"
    assert invitation.token_digest == token_digest(token) and token not in str(
        invitation.token_digest)
    event = factories.events(db)[-1]
    assert (event.kind, event.subject) == ("registry.user.invited",
                                            f"invitation:{invitation.id}")
    with pytest.raises(Forbidden):
        _invite(db, admin, settings, email="x@example.org", organization=other)
    with pytest.raises(Forbidden):
        _invite(db, admin, settings, email="y@example.org", role="auditor",
                audit_firm=factories.audit_firm(db))
    with pytest.raises(Forbidden):
        _invite(db, admin, settings, email="z@example.org", role="secretariat")
    user = factories.user(db, Role.MEMBER_USER, organization=own)
    with pytest.raises(Forbidden):
        _invite(db, user, settings, email="w@example.org")
    with pytest.raises(Unauthenticated):
        _invite(db, None, settings, email="v@example.org")


def test_secretariat_invites_an_auditor_to_a_firm(db: Session, settings: Settings) -> None:
    firm = factories.audit_firm(db)
    invitation, token = _invite(db, SYSTEM, settings, role="auditor", audit_firm=firm)
    assert invitation.audit_firm_id is not None and invitation.organization_id is None
    with pytest.raises(InvalidInput) as exc:
        _invite(db, SYSTEM, settings, email="other@example.org", role="auditor")
    assert exc.value.details[0]["field"] == "audit_firm"
    with pytest.raises(InvalidInput):
        _invite(db, SYSTEM, settings, email="other@example.org", role="member_admin")
    user = accounts.accept_invitation(db, token, "a-long-password")
    assert (user.role, user.audit_firm, user.organization) == ("auditor", firm, None)


def test_accepting_creates_the_user_and_uses_up_the_token(db: Session,
                                                          settings: Settings) -> None:
    org = factories.organization(db)
    invitation, token = _invite(db, SYSTEM, settings, role="member_admin", organization=org)
    user = accounts.accept_invitation(db, token, "a-long-password")
    assert (user.email, user.role, user.organization) == ("new.person@example.org",
                                                          "member_admin", org)
    db.refresh(invitation)
    assert invitation.accepted_at is not None
    event = factories.events(db)[-1]
    assert (event.kind, event.actor) == ("registry.user.joined", f"user:{user.id}")
    assert accounts.authenticate(db, user.email, "a-long-password", settings) is not None
    with pytest.raises(Conflict, match="accepted already"):
        accounts.accept_invitation(db, token, "a-long-password")
    with pytest.raises(Conflict):
        _invite(db, SYSTEM, settings, email=user.email, organization=org)


def test_expired_unknown_and_superseded_tokens(db: Session, settings: Settings) -> None:
    org = factories.organization(db)
    invitation, token = _invite(db, SYSTEM, settings, organization=org)
    db.execute(update(Invitation).where(Invitation.id == invitation.id)
               .values(expires_at=utcnow() - timedelta(seconds=1)))
    with pytest.raises(Conflict, match="expired"):
        accounts.accept_invitation(db, token, "a-long-password")
    with pytest.raises(NotFound):
        accounts.accept_invitation(db, "not-a-token", "a-long-password")
    _, first = _invite(db, SYSTEM, settings, email="twice@example.org", organization=org)
    _, second = _invite(db, SYSTEM, settings, email="twice@example.org", organization=org)
    with pytest.raises(NotFound):
        accounts.accept_invitation(db, first, "a-long-password")
    with pytest.raises(InvalidInput):
        accounts.accept_invitation(db, second, "short")
    assert accounts.accept_invitation(db, second, "a-long-password").email == "twice@example.org"
    assert db.scalar(select(User).where(User.email == "new.person@example.org")) is None


def test_pending_invitations_are_scoped(db: Session, settings: Settings) -> None:
    own = factories.organization(db)
    other = factories.organization(db)
    admin = factories.user(db, Role.MEMBER_ADMIN, organization=own)
    _invite(db, SYSTEM, settings, email="mine@example.org", organization=own)
    _invite(db, SYSTEM, settings, email="theirs@example.org", organization=other)
    assert [i.email for i in accounts.pending_invitations(db, admin)] == ["mine@example.org"]
    assert {i.email for i in accounts.pending_invitations(db, SYSTEM)} == {
        "mine@example.org", "theirs@example.org"}


# --- listing and managing users ---------------------------------------------------------


def test_list_users_is_scoped_to_the_organisation(db: Session) -> None:
    own = factories.organization(db)
    other = factories.organization(db)
    admin = factories.user(db, Role.MEMBER_ADMIN, organization=own)
    theirs = factories.user(db, Role.MEMBER_USER, organization=other)
    auditor = factories.user(db, Role.AUDITOR, audit_firm=factories.audit_firm(db))
    assert [u.id for u in accounts.list_users(db, admin, ALL).items] == [admin.user_id]
    with pytest.raises(Forbidden):
        accounts.list_users(db, admin, ALL, organization=other)
    assert [u.id for u in accounts.list_users(db, SYSTEM, ALL, organization=other).items] == [
        theirs.user_id]
    assert accounts.list_users(db, SYSTEM, ALL).total == 3
    with pytest.raises(Forbidden):
        accounts.list_users(db, auditor, ALL)


def test_an_organisation_keeps_at_least_one_active_admin(db: Session) -> None:
    org = factories.organization(db)
    first = factories.user(db, Role.MEMBER_ADMIN, organization=org)
    second = factories.user(db, Role.MEMBER_ADMIN, organization=org)
    assert first.user_id and second.user_id
    demoted = accounts.update_user(db, first, second.user_id, UserUpdate(role="member_user"))
    assert demoted.role == "member_user"
    assert factories.events(db)[-1].kind == "registry.user.updated"
    # A refused change is rolled back by its caller, as a request does.
    with pytest.raises(Conflict, match="at least one active member admin"), db.begin_nested():
        accounts.update_user(db, first, first.user_id, UserUpdate(role="member_user"))
    with pytest.raises(Conflict), db.begin_nested():
        accounts.update_user(db, SYSTEM, first.user_id, UserUpdate(active=False))
    db.expire_all()
    assert accounts.me(db, first).role == "member_admin"
    restored = accounts.update_user(db, SYSTEM, second.user_id, UserUpdate(role="member_admin"))
    assert restored.role == "member_admin"
    assert accounts.update_user(db, second, first.user_id,
                                UserUpdate(active=False)).active is False


def test_update_user_refuses_other_organisations_and_non_member_roles(db: Session) -> None:
    org = factories.organization(db)
    other = factories.organization(db)
    admin = factories.user(db, Role.MEMBER_ADMIN, organization=org)
    theirs = factories.user(db, Role.MEMBER_USER, organization=other)
    staff = factories.user(db, Role.SECRETARIAT)
    assert theirs.user_id and staff.user_id
    with pytest.raises(NotFound):
        accounts.update_user(db, admin, theirs.user_id, UserUpdate(active=False))
    with pytest.raises(Conflict):
        accounts.update_user(db, SYSTEM, staff.user_id, UserUpdate(role="member_admin"))


# --- sign-in and throttling -------------------------------------------------------------


def test_authenticate_and_throttle(db: Session, settings: Settings) -> None:
    actor = factories.user(db, Role.SECRETARIAT, email="staff@example.org")
    assert accounts.authenticate(db, "STAFF@example.org ", PASSWORD, settings) is not None
    for _ in range(settings.login_max_failures):
        assert accounts.authenticate(db, "staff@example.org", "wrong-password", settings) is None
    assert db.scalar(select(LoginAttempt.email).limit(1)) == "staff@example.org"
    with pytest.raises(TooManyRequests) as exc:
        accounts.authenticate(db, "staff@example.org", PASSWORD, settings)
    assert exc.value.status_code == 429
    # Other addresses are not locked by someone else's failures.
    factories.user(db, Role.SECRETARIAT, email="colleague@example.org")
    assert accounts.authenticate(db, "colleague@example.org", PASSWORD, settings) is not None
    # Once the failures are old enough the lock is gone, and success clears them.
    db.execute(update(LoginAttempt).values(at=utcnow() - timedelta(hours=2)))
    user = accounts.authenticate(db, "staff@example.org", PASSWORD, settings)
    assert user is not None and user.id == actor.user_id and user.last_login_at is not None
    assert db.scalar(select(LoginAttempt).where(LoginAttempt.email == "staff@example.org")) is None


def test_failures_below_the_threshold_do_not_lock(db: Session, settings: Settings) -> None:
    factories.user(db, Role.SECRETARIAT, email="careful@example.org")
    for _ in range(settings.login_max_failures - 1):
        assert accounts.authenticate(db, "careful@example.org", "nope-nope-nope", settings) is None
    assert accounts.authenticate(db, "careful@example.org", PASSWORD, settings) is not None


def test_unknown_and_inactive_users_cannot_sign_in(db: Session, settings: Settings) -> None:
    org = factories.organization(db)
    factories.user(db, Role.MEMBER_ADMIN, organization=org)
    user = factories.user(db, Role.MEMBER_USER, organization=org, email="gone@example.org")
    assert accounts.authenticate(db, "nobody@example.org", PASSWORD, settings) is None
    db.execute(update(User).where(User.id == user.user_id).values(active=False))
    assert accounts.authenticate(db, "gone@example.org", PASSWORD, settings) is None


# --- sessions and tokens ----------------------------------------------------------------


def test_create_token_shows_the_secret_once_and_stores_only_its_digest(db: Session) -> None:
    actor = factories.user(db, Role.SECRETARIAT)
    created = accounts.create_token(db, actor, "ci script", expires_in_days=30)
    assert created.token.startswith("stw_") and len(created.token) > 40
    assert created.prefix == created.token[:10]
    db.flush()
    rows = db.execute(text("SELECT * FROM api_tokens")).all()
    assert len(rows) == 1
    stored = " ".join(str(v) for v in rows[0])
    assert created.token not in stored
    assert token_digest(created.token) in stored
    log_text = " ".join(str(e.payload) for e in factories.events(db))
    assert created.token not in log_text
    assert factories.events(db)[-1].kind == "registry.token.created"
    listed = accounts.list_tokens(db, actor)
    assert [t.id for t in listed] == [created.id]
    assert not hasattr(listed[0], "token")


def test_resolve_actor_for_bearer_tokens(db: Session) -> None:
    org = factories.organization(db)
    actor = factories.user(db, Role.MEMBER_ADMIN, organization=org)
    created = accounts.create_token(db, actor, "t")
    resolved = accounts.resolve_actor(db, "bearer", created.token)
    assert resolved is not None
    assert (resolved.user_id, resolved.role, resolved.organization_slug, resolved.via_token) == (
        actor.user_id, Role.MEMBER_ADMIN, org, True)
    assert accounts.resolve_actor(db, "bearer", created.token + "x") is None
    assert accounts.resolve_actor(db, "session", created.token) is None
    accounts.revoke_token(db, actor, created.id)
    assert factories.events(db)[-1].kind == "registry.token.revoked"
    assert accounts.resolve_actor(db, "bearer", created.token) is None
    other = factories.user(db, Role.MEMBER_USER, organization=org)
    with pytest.raises(NotFound):
        accounts.revoke_token(db, other, created.id)


def test_expired_tokens_and_inactive_users_resolve_to_nobody(db: Session) -> None:
    org = factories.organization(db)
    factories.user(db, Role.MEMBER_ADMIN, organization=org)
    actor = factories.user(db, Role.MEMBER_USER, organization=org)
    expiring = accounts.create_token(db, actor, "short", expires_in_days=1)
    assert accounts.resolve_actor(db, "bearer", expiring.token) is not None
    db.execute(update(ApiToken).where(ApiToken.id == expiring.id)
               .values(expires_at=utcnow() - timedelta(seconds=1)))
    assert accounts.resolve_actor(db, "bearer", expiring.token) is None
    live = accounts.create_token(db, actor, "live")
    db.execute(update(User).where(User.id == actor.user_id).values(active=False))
    assert accounts.resolve_actor(db, "bearer", live.token) is None


def test_sessions(db: Session, settings: Settings) -> None:
    factories.user(db, Role.SECRETARIAT, email="sess@example.org")
    user = accounts.authenticate(db, "sess@example.org", PASSWORD, settings)
    assert user is not None
    token = accounts.start_session(db, user, settings)
    stored = db.scalar(select(UserSession.token_digest))
    assert stored == token_digest(token) != token
    resolved = accounts.resolve_actor(db, "session", token)
    assert resolved is not None and resolved.email == "sess@example.org"
    assert not resolved.via_token
    assert accounts.resolve_actor(db, "bearer", token) is None
    db.execute(update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert accounts.resolve_actor(db, "session", token) is None
    fresh = accounts.start_session(db, user, settings)
    accounts.end_session(db, fresh)
    assert accounts.resolve_actor(db, "session", fresh) is None


def test_me_and_system_actor(db: Session) -> None:
    actor = factories.user(db, Role.SECRETARIAT, email="me@example.org")
    assert accounts.me(db, actor).email == "me@example.org"
    with pytest.raises(NotFound):
        accounts.me(db, SYSTEM)
    with pytest.raises(Forbidden):
        accounts.create_token(db, SYSTEM, "nope")
