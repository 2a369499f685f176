"""Users, invitations, sign-in with throttling, browser sessions and API tokens."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from sqlalchemy.orm import Session

from stewardship.core import eventlog
from stewardship.core.auth import MEMBER_ROLES, Actor, Role, require, system_actor
from stewardship.core.config import Settings
from stewardship.core.db import after_commit, utcnow
from stewardship.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyRequests,
    Unauthenticated,
)
from stewardship.core.mail import Mailer
from stewardship.core.pagination import Page, PageParams
from stewardship.core.security import (
    API_TOKEN_PREFIX,
    MIN_PASSWORD_LENGTH,
    burn_password_check,
    hash_password,
    new_token,
    token_digest,
    verify_password,
)
from stewardship.registry import repository as repo
from stewardship.registry.models import (
    ApiToken,
    Invitation,
    LoginAttempt,
    LoginLink,
    User,
    UserSession,
)
from stewardship.registry.rules import login_locked_until
from stewardship.registry.schemas import (
    InvitationCreate,
    TokenCreated,
    TokenRead,
    UserRead,
    UserUpdate,
)
from stewardship.registry.service import audit_firms, organizations

# A used token's last-use time is refreshed at most this often, in a short transaction
# of its own after the request's (``resolve_actor``), so that reads stay reads.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def to_read(user: User) -> UserRead:
    return UserRead(
        id=user.id, email=user.email, name=user.name, role=user.role,
        organization=user.organization.slug if user.organization else None,
        audit_firm=user.audit_firm.slug if user.audit_firm else None,
        active=user.active, last_login_at=user.last_login_at,
    )


def actor_for(user: User, *, via_token: bool = False) -> Actor:
    return Actor(
        user_id=user.id, role=Role(user.role), name=user.name, email=user.email,
        organization_id=user.organization_id,
        organization_slug=user.organization.slug if user.organization else None,
        audit_firm_id=user.audit_firm_id,
        audit_firm_slug=user.audit_firm.slug if user.audit_firm else None,
        via_token=via_token,
    )


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD_LENGTH} characters",
                           field="password")


# --- creating users ---------------------------------------------------------------------


def create_user(db: Session, actor: Actor, *, email: str, name: str, password: str,
                role: Role, organization: str | None = None,
                audit_firm: str | None = None) -> UserRead:
    """Create a user directly (secretariat, CLI and demo loader)."""
    require(actor, Role.SECRETARIAT, action="create users directly")
    _check_password(password)
    email = email.strip().lower()
    if repo.user_by_email(db, email) is not None:
        raise Conflict(f"a user with e-mail {email} exists already", field="email")
    org_id = firm_id = None
    if role in MEMBER_ROLES:
        if not organization:
            raise InvalidInput("member users belong to an organisation", field="organization")
        org_id = organizations.load(db, actor, organization).id
    elif role is Role.AUDITOR:
        if not audit_firm:
            raise InvalidInput("auditors belong to an audit firm", field="audit_firm")
        firm_id = audit_firms.load(db, actor, audit_firm).id
    user = User(email=email, name=name.strip(), password_hash=hash_password(password),
                role=role.value, organization_id=org_id, audit_firm_id=firm_id, active=True)
    db.add(user)
    db.flush()
    eventlog.append(db, actor, "registry.user.created", f"user:{user.id}",
                    {"email": email, "role": role.value, "organization": organization,
                     "audit_firm": audit_firm})
    loaded = repo.user_by_id(db, user.id)
    assert loaded is not None
    return to_read(loaded)


def invite(db: Session, actor: Actor | None, data: InvitationCreate,
           settings: Settings) -> tuple[Invitation, str]:
    """Invite someone; returns the invitation and its token (shown once, stored hashed).

    A member admin invites member admins and users of its own organisation; the
    secretariat invites anyone to any organisation, audit firm or the secretariat.
    """
    actor = require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN, action="invite users")
    role = Role(data.role)
    org_id = firm_id = None
    if actor.role is Role.MEMBER_ADMIN:
        if role not in MEMBER_ROLES:
            raise Forbidden("member admins may invite member admins and member users only")
        if data.organization not in (None, actor.organization_slug) or data.audit_firm:
            raise Forbidden("member admins may invite users to their own organisation only")
        org_id = actor.organization_id
    elif role in MEMBER_ROLES:
        if not data.organization:
            raise InvalidInput("name the organisation the user joins", field="organization")
        org_id = organizations.load(db, actor, data.organization).id
    elif role is Role.AUDITOR:
        if not data.audit_firm:
            raise InvalidInput("name the audit firm the auditor joins", field="audit_firm")
        firm_id = audit_firms.load(db, actor, data.audit_firm).id
    email = str(data.email).lower()
    if repo.user_by_email(db, email) is not None:
        raise Conflict(f"{email} already has an account", field="email")
    now = utcnow()
    # Inviting again from the same body replaces its own invitation; another
    # organisation's (or firm's) invitation to the same address is none of its business.
    previous = repo.pending_invitation(db, email, now, organization_id=org_id,
                                       audit_firm_id=firm_id)
    if previous is not None:
        previous.revoked_at = now
    token = new_token()
    invitation = Invitation(
        email=email, name=data.name, role=role.value, organization_id=org_id,
        audit_firm_id=firm_id, token_digest=token_digest(token), invited_by=actor.ref,
        created_at=now, expires_at=now + timedelta(days=settings.invitation_days),
    )
    db.add(invitation)
    db.flush()
    eventlog.append(db, actor, "registry.user.invited", f"invitation:{invitation.id}",
                    {"email": email, "role": role.value,
                     "organization": str(org_id) if org_id else None,
                     "audit_firm": str(firm_id) if firm_id else None})
    return invitation, token


def pending_invitations(db: Session, actor: Actor | None) -> list[Invitation]:
    actor = require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN, action="see invitations")
    org_id = None if actor.is_secretariat() else actor.organization_id
    return repo.list_invitations(db, organization_id=org_id, now=utcnow())


class _OneTime(Protocol):
    expires_at: datetime


_T = TypeVar("_T", bound=_OneTime)


def _usable(found: _T | None, kind: str, subject: str, used_at: datetime | None,
            used_hint: str) -> _T:
    """A one-time token's record, if it can still be used: it exists, has not been used
    and has not expired. Every refusal names the token field."""
    if found is None:
        raise NotFound(f"this {kind} is not valid", field="token")
    if used_at is not None:
        raise Conflict(f"{subject} {used_hint}", field="token")
    if found.expires_at <= utcnow():
        raise Conflict(f"{subject} has expired; ask for a new one", field="token")
    return found


def open_invitation(db: Session, token: str) -> Invitation:
    """The invitation behind a link, if it can still be accepted."""
    invitation = repo.invitation_by_digest(db, token_digest(token))
    if invitation is not None and invitation.revoked_at is not None:
        invitation = None
    return _usable(invitation, "invitation link", "this invitation",
                   None if invitation is None else invitation.accepted_at,
                   "has been accepted already; sign in instead")


def accept_invitation(db: Session, token: str, password: str) -> UserRead:
    invitation = open_invitation(db, token)
    _check_password(password)
    if repo.user_by_email(db, invitation.email) is not None:
        raise Conflict(f"{invitation.email} already has an account", field="email")
    user = User(email=invitation.email, name=invitation.name,
                password_hash=hash_password(password), role=invitation.role,
                organization_id=invitation.organization_id,
                audit_firm_id=invitation.audit_firm_id, active=True)
    db.add(user)
    now = utcnow()
    invitation.accepted_at = now
    # One account per e-mail: the person's other invitations can no longer be accepted,
    # so they are revoked rather than left to fail when the link is opened.
    moot = [other for other in repo.open_invitations_of(db, invitation.email)
            if other.id != invitation.id]
    for other in moot:
        other.revoked_at = now
    db.flush()
    loaded = repo.user_by_id(db, user.id)
    assert loaded is not None
    eventlog.append(db, actor_for(loaded), "registry.user.joined", f"user:{user.id}",
                    {"email": user.email, "role": user.role, "invitation": invitation.id,
                     "revoked_invitations": sorted(str(o.id) for o in moot)})
    return to_read(loaded)


def list_users(db: Session, actor: Actor | None, params: PageParams, *,
               organization: str | None = None) -> Page[UserRead]:
    """Secretariat: everyone (or one organisation); members: their own organisation."""
    actor = require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN, Role.MEMBER_USER,
                    action="list users")
    org_id = firm_id = None
    if actor.is_secretariat():
        if organization:
            org_id = organizations.load(db, actor, organization).id
    else:
        if organization not in (None, actor.organization_slug):
            raise Forbidden("members see the users of their own organisation only")
        org_id = actor.organization_id
    page = repo.list_users(db, params, organization_id=org_id, audit_firm_id=firm_id)
    return Page([to_read(u) for u in page.items], page.total, page.page, page.per_page)


def update_user(db: Session, actor: Actor | None, user_id: uuid.UUID,
                data: UserUpdate) -> UserRead:
    """Change a member user's role or deactivate them; an organisation keeps an admin."""
    actor = require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN, action="manage users")
    user = repo.user_by_id(db, user_id)
    if user is None or not (actor.is_secretariat()
                            or (user.organization_id is not None
                                and actor.is_admin_of(user.organization_id))):
        raise NotFound("no such user in your organisation", field="user_id")
    if data.role is not None and user.role not in {r.value for r in MEMBER_ROLES}:
        raise Conflict("only member users change role here", field="role")
    was_admin = user.role == Role.MEMBER_ADMIN.value and user.active
    if data.role is not None:
        user.role = data.role
    if data.active is not None:
        user.active = data.active
    still_admin = user.role == Role.MEMBER_ADMIN.value and user.active
    db.flush()
    # Counted after the change: the admins the organisation would be left with.
    if (was_admin and not still_admin and user.organization_id is not None
            and repo.count_admins(db, user.organization_id) < 1):
        raise Conflict("an organisation must keep at least one active member admin",
                       field="role")
    eventlog.append(db, actor, "registry.user.updated", f"user:{user.id}",
                    data.model_dump(exclude_unset=True))
    return to_read(user)


# --- sign-in ----------------------------------------------------------------------------


LOGIN_FAILED = Unauthenticated("the e-mail or password is not right", field="password")
THROTTLE = system_actor("sign-in throttle")


def authenticate(db: Session, email: str, password: str, settings: Settings,
                 ip: str = "") -> User | None:
    """Check a password, throttling repeated failures for the same e-mail and address.

    Failures count per e-mail *and* client address: five wrong passwords from one place
    lock that account from that place only, so whoever guesses from elsewhere can never
    lock the owner out. A locked-out owner (or one behind the same address) signs in
    with an e-mailed one-time link instead (``request_login_link``).

    A wrong password returns None after recording the failure; the caller answers 401
    without raising, so that the record is committed and counts towards the lock.
    """
    email = (email or "").strip().lower()
    ip = ip[:64]
    now = utcnow()
    window = timedelta(minutes=settings.login_window_minutes)
    lockout = timedelta(minutes=settings.login_lockout_minutes)
    failures = repo.recent_failures(db, email, ip, now - window - lockout)
    locked = login_locked_until(failures, now, max_failures=settings.login_max_failures,
                                window=window, lockout=lockout)
    if locked is not None:
        raise TooManyRequests(
            f"too many failed sign-ins for this e-mail from your address; try again in "
            f"{_minutes_until(locked, now)} minutes, or have a sign-in link e-mailed to you",
            field="email")
    user = repo.user_by_email(db, email) if email else None
    if user is None:
        burn_password_check(password)
    if user is None or not user.active or not verify_password(user.password_hash, password):
        db.add(LoginAttempt(email=email, ip=ip, at=now))
        db.flush()
        now_locked = login_locked_until([*failures, now], now,
                                        max_failures=settings.login_max_failures,
                                        window=window, lockout=lockout)
        if now_locked is not None and user is not None:
            # Once per lock (the next attempts are refused before they count).
            eventlog.append(db, THROTTLE, "registry.login.locked", f"user:{user.id}",
                            {"email": email, "until": now_locked,
                             "failures": settings.login_max_failures})
        return None
    repo.clear_failures(db, email, ip)
    user.last_login_at = now
    db.flush()
    return user


def _minutes_until(moment: datetime, now: datetime) -> int:
    return max(1, int((moment - now).total_seconds() // 60) + 1)


# --- one-time sign-in links -------------------------------------------------------------

LINK_SENT = ("if an account with this e-mail exists, a sign-in link is on its way; it works "
             "once, for {minutes} minutes")


def request_login_link(db: Session, email: str, settings: Settings, mailer: Mailer,
                       base_url: str, ip: str = "") -> str:
    """E-mail a one-time sign-in link to the account's address; returns what to tell the
    person asking, which is the same whether or not the account exists. The link starts
    with ``base_url``, the platform's public address.

    The link lets the owner in past a lock that failed passwords put on their address. It
    goes only to the account's own mailbox, so asking for one gives nobody else anything;
    at most ``login_links_per_hour`` are sent per account, so it cannot flood a mailbox.
    """
    email = (email or "").strip().lower()
    if not email or "@" not in email:
        raise InvalidInput("give the e-mail address of your account", field="email")
    answer = LINK_SENT.format(minutes=settings.login_link_minutes)
    user = repo.user_by_email(db, email)
    if user is None or not user.active:
        return answer
    now = utcnow()
    if repo.count_login_links(db, user.id, now - timedelta(hours=1)) \
            >= settings.login_links_per_hour:
        return answer
    token = new_token()
    link = LoginLink(user_id=user.id, token_digest=token_digest(token), created_at=now,
                     expires_at=now + timedelta(minutes=settings.login_link_minutes),
                     requested_from=ip[:64])
    db.add(link)
    db.flush()
    mailer.send(user.email, "Your sign-in link for Stewardship", LINK_MAIL.format(
        name=user.name, url=f"{base_url.rstrip('/')}/login/link/{token}",
        minutes=settings.login_link_minutes))
    eventlog.append(db, THROTTLE, "registry.login.link_sent", f"user:{user.id}",
                    {"link": link.id, "expires_at": link.expires_at})
    return answer


LINK_MAIL = """\
Hello {name},

Someone (we hope you) asked for a link to sign in to Stewardship without a password.
Open it within {minutes} minutes; it works once:

{url}

If you did not ask for it, ignore this message: nobody can use the link without
access to your mailbox. Repeated failed sign-ins may mean someone is guessing your
password; consider choosing a new one.
"""


def open_login_link(db: Session, token: str) -> LoginLink:
    """The sign-in link behind a token, if it still works."""
    link = repo.login_link_by_digest(db, token_digest(token))
    return _usable(link, "sign-in link", "this sign-in link",
                   None if link is None else link.used_at,
                   "has been used already; ask for a new one")


def sign_in_with_link(db: Session, token: str, ip: str = "") -> User:
    """Use a one-time link: it stops working, and the failures from this address are
    forgotten (its owner is the one signing in)."""
    link = open_login_link(db, token)
    user = repo.user_by_id(db, link.user_id)
    if user is None or not user.active:
        raise Conflict("this account is not active", field="token")
    now = utcnow()
    link.used_at = now
    repo.clear_failures(db, user.email, ip[:64])
    user.last_login_at = now
    db.flush()
    eventlog.append(db, actor_for(user), "registry.user.signed_in_by_link",
                    f"user:{user.id}", {"link": link.id})
    return user


def start_session(db: Session, user: User, settings: Settings) -> str:
    token = new_token()
    db.add(UserSession(user_id=user.id, token_digest=token_digest(token),
                       expires_at=utcnow() + timedelta(days=settings.session_days)))
    db.flush()
    return token


def end_session(db: Session, token: str) -> None:
    repo.delete_session(db, token_digest(token))


def _record_use_later(db: Session, token_id: uuid.UUID, now: datetime) -> None:
    """Note the token's use once the request's unit of work has ended: never inside it, so
    that a GET stays a read (on SQLite it does not take the write lock) and no request
    holds the token's row while it works (every request of one client shares that row)."""

    def record(session: Session) -> None:
        repo.record_token_use(session, token_id, now, now - _LAST_USED_RESOLUTION)

    after_commit(db, record)


def resolve_actor(db: Session, kind: str, token: str) -> Actor | None:
    """The actor behind a bearer token or a session cookie, if it is live. Reads only: a
    token's last use is written afterwards, at most once a minute (``_record_use_later``).
    """
    digest = token_digest(token)
    now = utcnow()
    if kind == "bearer":
        api_token = repo.token_by_digest(db, digest)
        if (api_token is None or api_token.revoked_at is not None
                or (api_token.expires_at is not None and api_token.expires_at <= now)):
            return None
        user_id = api_token.user_id
        if api_token.last_used_at is None or now - api_token.last_used_at > _LAST_USED_RESOLUTION:
            _record_use_later(db, api_token.id, now)
    else:
        session_row = repo.session_by_digest(db, digest)
        if session_row is None or session_row.expires_at <= now:
            return None
        user_id = session_row.user_id
    user = repo.user_by_id(db, user_id)
    if user is None or not user.active:
        return None
    return actor_for(user, via_token=kind == "bearer")


# --- API tokens -------------------------------------------------------------------------


def _token_read(token: ApiToken) -> TokenRead:
    return TokenRead.model_validate(token)


def create_token(db: Session, actor: Actor, name: str,
                 expires_in_days: int | None = None) -> TokenCreated:
    """Create a personal API token; the secret is in the answer once and never again."""
    require(actor, action="create API tokens")
    if actor.user_id is None:
        raise Forbidden("tokens belong to users")
    raw = new_token(API_TOKEN_PREFIX)
    now = utcnow()
    token = ApiToken(
        user_id=actor.user_id, name=name.strip(), prefix=raw[:10],
        token_digest=token_digest(raw), created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    db.add(token)
    db.flush()
    eventlog.append(db, actor, "registry.token.created", f"user:{actor.user_id}",
                    {"token": token.id, "name": token.name, "prefix": token.prefix})
    return TokenCreated(**_token_read(token).model_dump(), token=raw)


def list_tokens(db: Session, actor: Actor | None) -> list[TokenRead]:
    actor = require(actor, action="list API tokens")
    if actor.user_id is None:
        return []
    return [_token_read(t) for t in repo.tokens_of(db, actor.user_id)]


def revoke_token(db: Session, actor: Actor | None, token_id: uuid.UUID) -> TokenRead:
    actor = require(actor, action="revoke API tokens")
    token = db.get(ApiToken, token_id)
    if token is None or token.user_id != actor.user_id:
        raise NotFound("no such token of yours", field="token_id")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.flush()
        eventlog.append(db, actor, "registry.token.revoked", f"user:{actor.user_id}",
                        {"token": token.id})
    return _token_read(token)


def find_user(db: Session, email: str) -> User | None:
    """A user by e-mail, for other contexts that link people (e.g. the standards body)."""
    return repo.user_by_email(db, email)


def user_actor(db: Session, user_id: uuid.UUID) -> Actor:
    """The actor for a stored user (demo loader and tests act as them)."""
    user = repo.user_by_id(db, user_id)
    if user is None:
        raise NotFound("no such user", field="user_id")
    return actor_for(user)


def me(db: Session, actor: Actor | None) -> UserRead:
    actor = require(actor, action="see your account")
    if actor.user_id is None:
        raise NotFound("the system actor has no account")
    user = repo.user_by_id(db, actor.user_id)
    assert user is not None
    return to_read(user)
