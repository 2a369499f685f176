"""What the complaints mechanism asks the secretariat to act on, for its dashboard: the
open cases (every one not closed), the soonest due first, and how many are overdue; with
the case list filtered to exactly those cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from stewardship.complaints.schemas import ComplaintListItem
from stewardship.complaints.service import cases
from stewardship.core.auth import Actor, Role, require
from stewardship.core.pagination import PageParams

SHOWN = 5
OPEN_URL = "/secretariat/complaints?open=yes"
OVERDUE_URL = "/secretariat/complaints?open=yes&overdue=yes"


@dataclass(frozen=True)
class OpenComplaints:
    total: int
    overdue: int
    soonest: list[ComplaintListItem]
    """The open cases due soonest (the overdue ones first)."""
    url: str = OPEN_URL
    overdue_url: str = OVERDUE_URL


def open_complaints(db: Session, actor: Actor | None, *, shown: int = SHOWN,
                    now: datetime | None = None) -> OpenComplaints:
    """How many cases are open and overdue, and the ones due soonest (secretariat)."""
    require(actor, Role.SECRETARIAT, action="handle complaints")
    page = cases.list_complaints(db, actor, PageParams(1, shown), open_only=True, now=now)
    late = cases.list_complaints(db, actor, PageParams(1, 1), open_only=True, overdue=True,
                                 now=now)
    return OpenComplaints(total=page.total, overdue=late.total, soonest=list(page.items))
