"""The demo world's PACT client credentials, made through the PACT service by the
supplier's own admin: the car maker's connector pulls the footprints of the body sheet
its rolling mill ships it.

The client ids and secrets are the demo's, written in ``data/demo_world.yaml`` and printed
with the demo's logins: fictional, for a local demo only, like its passwords."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from stewardship.core import timeline
from stewardship.interop.pact import repository as repo
from stewardship.interop.pact.schemas import PactClientCreate
from stewardship.interop.pact.service import clients
from stewardship.registry import repository as registry_repo
from stewardship.registry.service import accounts


def demo_pact_clients(db: Session, specs: Sequence[dict[str, Any]], secret_key: str,
                      today: date) -> timeline.Thread:
    """Each client of the world's ``pact_clients`` list, made on its day (at most today)
    unless its client id exists; True when any was made."""
    made = 0
    for spec in sorted(specs, key=lambda s: s["since"]):
        yield timeline.at(min(spec["since"], today), 9, 15)
        if repo.client_by_client_id(db, spec["client_id"]) is not None:
            continue
        admin = registry_repo.user_by_email(db, spec["made_by"])
        buyer = repo.organization_by_slug(db, spec["buyer"])
        if admin is None or buyer is None:  # a trimmed world
            continue
        clients.create_client(db, accounts.actor_for(admin), PactClientCreate(
            name=spec["name"], buyer=spec["buyer"]), secret_key,
            credentials=(spec["client_id"], spec["client_secret"]))
        made += 1
    return made > 0


def demo_pact_logins(db: Session, specs: Sequence[dict[str, Any]]
                     ) -> list[tuple[str, str, str]]:
    """(what for, client id, secret) of the world's clients that exist and stand."""
    found = []
    for spec in specs:
        client = repo.client_by_client_id(db, spec["client_id"])
        if client is not None and client.revoked_at is None:
            found.append((spec["name"], spec["client_id"], spec["client_secret"]))
    return found
