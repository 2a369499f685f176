"""REST API of the chain of custody: /api/v1/custody."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/custody", tags=["custody"])
