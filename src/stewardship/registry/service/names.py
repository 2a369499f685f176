"""Names for the references the event log keeps (``user:<id>``, ``facility:<public id>``),
so that a page shows people and organisations by name while the log keeps its codes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.orm import Session

from stewardship.core.auth import Actor, Role, require
from stewardship.registry import repository as repo

NAMED_KINDS = ("organization", "audit_firm", "facility", "entity")
"""Subject kinds whose key the registry can name, besides ``user``."""


def names_of(db: Session, actor: Actor | None, refs: Iterable[str]) -> dict[str, str]:
    """``{ref: name}`` for every reference the registry knows: users as "Name (Organisation)",
    organisations, audit firms, facilities and entities by name. A handful of queries
    whatever the number of references; unknown ones are left out. The secretariat's
    reading (it is what the event log shows)."""
    require(actor, Role.SECRETARIAT, action="read the event log")
    wanted: dict[str, set[str]] = {}
    for ref in set(refs):
        kind, _, key = ref.partition(":")
        if key:
            wanted.setdefault(kind, set()).add(key)
    names: dict[str, str] = {}
    user_ids = []
    for key in wanted.get("user", ()):
        try:
            user_ids.append(uuid.UUID(key))
        except ValueError:
            continue
    for uid, (name, body) in repo.user_names(db, user_ids).items():
        names[f"user:{uid}"] = f"{name} ({body})" if body else name
    for kind in NAMED_KINDS:
        for key, name in repo.names_by_key(db, kind, sorted(wanted.get(kind, ()))).items():
            names[f"{kind}:{key}"] = name
    return names
