"""Public API over the event log: its head and a full verification."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from stewardship.core import eventlog
from stewardship.core.web import DbSession

router = APIRouter(prefix="/api/v1/log", tags=["event log"])


class ChainStatus(BaseModel):
    entries: int
    head_hash: str
    ok: bool
    first_bad_sequence: int | None
    reason: str | None


@router.get("/verify", response_model=ChainStatus)
def verify(db: DbSession) -> ChainStatus:
    """Re-walk the hash chain of the event log and report the first entry that does not
    match, if any. Public: anyone may check that history was not rewritten."""
    report = eventlog.verify_chain(db)
    return ChainStatus(entries=report.entries, head_hash=report.head_hash, ok=report.ok,
                       first_bad_sequence=report.first_bad_sequence, reason=report.reason)
