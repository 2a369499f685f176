"""Who is acting, and the one permission check every service calls."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from stewardship.core.errors import Forbidden, Unauthenticated
from stewardship.core.labels import ROLES


class Role(StrEnum):
    SECRETARIAT = "secretariat"
    MEMBER_ADMIN = "member_admin"
    MEMBER_USER = "member_user"
    AUDITOR = "auditor"

    @property
    def label(self) -> str:
        return ROLES[self.value]


MEMBER_ROLES = frozenset({Role.MEMBER_ADMIN, Role.MEMBER_USER})


@dataclass(frozen=True)
class Actor:
    """A signed-in user as the services see them."""

    user_id: uuid.UUID | None
    role: Role
    name: str
    email: str
    organization_id: uuid.UUID | None = None
    organization_slug: str | None = None
    audit_firm_id: uuid.UUID | None = None
    audit_firm_slug: str | None = None
    via_token: bool = False

    @property
    def ref(self) -> str:
        """How the event log names this actor."""
        if self.user_id is None:
            return f"system:{self.name}"
        return f"user:{self.user_id}"

    @property
    def role_label(self) -> str:
        return self.role.label

    def is_secretariat(self) -> bool:
        return self.role is Role.SECRETARIAT

    def is_admin_of(self, organization_id: uuid.UUID) -> bool:
        return self.role is Role.MEMBER_ADMIN and self.organization_id == organization_id

    def belongs_to(self, organization_id: uuid.UUID) -> bool:
        return self.role in MEMBER_ROLES and self.organization_id == organization_id


def system_actor(name: str) -> Actor:
    """The actor for work done by the platform itself (CLI, demo loader)."""
    return Actor(user_id=None, role=Role.SECRETARIAT, name=name, email="")


def require(actor: Actor | None, *roles: Role, action: str) -> Actor:
    """Raise 401 for nobody, 403 for the wrong role; return the actor otherwise."""
    if actor is None:
        raise Unauthenticated(f"sign in to {action}")
    if roles and actor.role not in roles:
        raise Forbidden(f"your role ({actor.role.label}) may not {action}")
    return actor
