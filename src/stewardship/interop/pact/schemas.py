"""Input and output models of the PACT client credentials (the platform's own API)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from stewardship.core.schemas import InputModel, OutputModel

EventsUrl = Annotated[str, Field(
    default="", max_length=300, pattern=r"^(https?://[^\s/?#]+(/[^\s?#]*)?)?$",
    description="The buyer's PACT base URL (https://pact.buyer.example/pact): answers to "
    "its requests are sent to {url}/3/events (or /2/events); empty sends none")]


class PactClientCreate(InputModel):
    name: Annotated[str, Field(min_length=1, max_length=100,
                               description="What the credentials are for, e.g. the "
                               "buyer's PACT connector")]
    buyer: Annotated[str, Field(min_length=2, max_length=80,
                                description="The buyer organisation's slug: it sees the "
                                "footprints of your documents addressed to it")]
    events_base_url: EventsUrl = ""
    events_client_id: Annotated[str, Field(
        default="", max_length=200, description="The client id the platform signs in "
        "with at {events_base_url}/auth/token before sending an event (optional)")] = ""
    events_client_secret: Annotated[str, Field(default="", max_length=500)] = ""


class PactClientRead(OutputModel):
    id: uuid.UUID
    name: str
    client_id: str
    buyer: str
    buyer_name: str
    events_base_url: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class PactClientCreated(PactClientRead):
    client_secret: str = Field(description="Shown once: only its digest is kept")
