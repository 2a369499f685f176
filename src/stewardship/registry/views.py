"""Pages of the registry (filled in by the registry pages work)."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
