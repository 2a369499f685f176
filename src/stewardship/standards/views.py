"""Pages of the standards context."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
