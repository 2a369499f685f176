"""Pages of the registry for people: accepting an invitation, and the member admin's (or
the secretariat's) users page, where people are invited, given roles and deactivated."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, Role, require
from stewardship.core.errors import DomainError, InvalidInput
from stewardship.core.pagination import PageParams
from stewardship.core.web import (
    CsrfChecked,
    DbSession,
    OptionalActor,
    Pagination,
    redirect,
    settings_of,
)
from stewardship.registry.schemas import InvitationCreate, UserUpdate
from stewardship.registry.service import accounts
from stewardship.registry.views import (
    MEMBER_ROLE_CHOICES,
    Short,
    _errors,
    _first_page,
    _render,
    _reraise_access,
    _validate,
    invited_shown,
    reveal_invitation,
)

router = APIRouter(include_in_schema=False)

Token = Annotated[str, Path(max_length=200)]


@router.get("/invitations/{token}")
def invitation_page(request: Request, db: DbSession, actor: OptionalActor,
                    token: Token) -> Response:
    invitation = accounts.open_invitation(db, token)
    return _render(request, "registry/invitation.html",
                   {"invitation": invitation, "errors": {}, "token": token})


@router.post("/invitations/{token}", dependencies=[CsrfChecked])
def accept_invitation(request: Request, db: DbSession, actor: OptionalActor, token: Token,
                      password: Annotated[str, Form(max_length=200)] = "",
                      password_again: Annotated[str, Form(max_length=200)] = "") -> Response:
    invitation = accounts.open_invitation(db, token)
    try:
        if password != password_again:
            raise InvalidInput("the two passwords are not the same; type them again",
                               field="password_again")
        user = accounts.accept_invitation(db, token, password)
    except DomainError as exc:
        _reraise_access(exc)
        db.rollback()
        return _render(request, "registry/invitation.html",
                       {"invitation": invitation, "token": token,
                        "errors": _errors(exc, fallback="password")}, exc.status_code)
    return redirect(request, "/login",
                    f"Your account is ready, {user.name}; sign in with {user.email} "
                    "and the password you chose.")



# --- member admins: users -----------------------------------------------------------------


def _users_page(request: Request, db: Session, actor: Actor, paging: PageParams, *,
                values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                invited: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    roles = list(MEMBER_ROLE_CHOICES)
    if actor.is_secretariat():
        roles.append(("secretariat", "Secretariat"))
    return _render(request, "registry/users.html", {
        "users": accounts.list_users(db, actor, paging),
        "invitations": accounts.pending_invitations(db, actor),
        "values": values or {"role": "member_user"}, "errors": errors or {},
        "invited": invited, "roles": roles, "member_roles": MEMBER_ROLE_CHOICES,
    }, status_code)


@router.get("/members/users")
def users_page(request: Request, db: DbSession, actor: OptionalActor,
               paging: Pagination) -> Response:
    actor = require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN, action="manage users")
    return _users_page(request, db, actor, paging, invited=invited_shown(request))


@router.post("/members/users/invite", dependencies=[CsrfChecked])
def invite_user(request: Request, db: DbSession, actor: OptionalActor, name: Short = "",
                email: Annotated[str, Form(max_length=254)] = "",
                role: Annotated[str, Form(max_length=20)] = "",
                organization: Annotated[str, Form(max_length=80)] = "") -> Response:
    actor = require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN, action="invite users")
    values = {"name": name, "email": email, "role": role, "organization": organization}
    settings = settings_of(request)
    fields = {"name": name, "email": email, "role": role,
              "organization": organization.strip() if actor.is_secretariat() else ""}
    try:
        data = _validate(InvitationCreate, fields)
        invitation, token = accounts.invite(db, actor, data, settings)
    except DomainError as exc:
        _reraise_access(exc)
        db.rollback()
        return _users_page(request, db, actor, _first_page(request), values=values,
                           errors=_errors(exc, fallback="email"), status_code=exc.status_code)
    return redirect(request, "/members/users", f"{invitation.name} is invited.",
                    reveal=reveal_invitation(request, invitation, token))


@router.post("/members/users/{user_id}", dependencies=[CsrfChecked])
def update_user(request: Request, db: DbSession, actor: OptionalActor, user_id: uuid.UUID,
                role: Annotated[str, Form(max_length=20)] = "",
                active: Annotated[str, Form(max_length=5)] = "") -> Response:
    actor = require(actor, Role.SECRETARIAT, Role.MEMBER_ADMIN, action="manage users")
    changes: dict[str, Any] = {}
    if role:
        changes["role"] = role
    if active in ("true", "false"):
        changes["active"] = active == "true"
    try:
        if not changes:
            raise InvalidInput("choose a role or an action", field="role")
        user = accounts.update_user(db, actor, user_id, _validate(UserUpdate, changes))
    except DomainError as exc:
        _reraise_access(exc)
        db.rollback()
        message = next(iter(_errors(exc).values()))
        return _users_page(request, db, actor, _first_page(request),
                           errors={f"role-{user_id}": message}, status_code=exc.status_code)
    if "active" in changes:
        done = "can sign in again" if user.active else "is deactivated and can no longer sign in"
    else:
        done = f"is now a {user.role.replace('_', ' ')}"
    return redirect(request, "/members/users", f"{user.name} {done}.")
