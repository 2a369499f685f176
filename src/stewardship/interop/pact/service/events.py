"""CloudEvents a buyer sends to ``/pact/{2,3}/events``: a request for footprints is
answered later (RequestFulfilled or RequestRejected, queued in the outbox for the sender
to POST to the buyer's events endpoint); a Published notice is acknowledged."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from stewardship.core.db import utcnow
from stewardship.interop.pact import rules
from stewardship.interop.pact.models import PactClient, PactOutboundEvent
from stewardship.interop.pact.service.footprints import matching_footprints


def receive_event(db: Session, client: PactClient, body: Any, *, version: int,
                  source: str, schema_url: str, https_only: bool = False) -> str:
    """Take one event; what was done with it, in a word (``queued``, ``acknowledged``)."""
    event = rules.read_event(body, version)
    if event.kind == "published":
        # The platform holds no one else's footprints: the notice needs no action.
        return "acknowledged"
    if event.kind != "created":
        raise rules.PactError(400, "NotImplemented", "the platform asks no one for "
                              "footprints, so it takes no answers to requests")
    # The address registered with the credentials; failing that, the request's source.
    base = client.events_base_url or rules.answer_address(event.source,
                                                          https_only=https_only)
    filters = rules.request_filters(event, version)
    footprints = matching_footprints(db, client, filters, version=version,
                                     schema_url=schema_url)
    now = utcnow()
    answer = rules.answer_event(event, version, source, now, footprints=footprints)
    db.add(PactOutboundEvent(client_pk=client.id,
                             target_url=f"{base}/{version}/events",
                             body=answer, status="pending", attempts=0, next_attempt_at=now,
                             last_error="", created_at=now))
    db.flush()
    return "queued"
