"""Two fictional complaints for the demo world, made through the services.

1. A named complaint from an invented community committee about the (fictional) bauxite
   miner Kebbe Bauxite Company: water and land concerns; accepted, in mediation, and both
   parties agreed to publish the case log, so it shows on the public page.
2. An anonymous complaint about the conduct of the (fictional) audit firm Thistlebrook
   Assurance; received three weeks ago and not yet decided, so it is overdue.

Each step is written at the moment it represents: a thread of the demo's timeline.
Everything here is invented. Idempotent: nothing is done when any complaint exists.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from stewardship.complaints import repository as repo
from stewardship.complaints.rules import AttachmentUpload, ComplaintStatus, SubjectKind
from stewardship.complaints.schemas import ComplaintCreate, TransitionRequest
from stewardship.complaints.service import filing, handling
from stewardship.core import timeline
from stewardship.core.auth import system_actor
from stewardship.core.config import Settings, get_settings
from stewardship.core.db import utcnow
from stewardship.registry import repository as registry_repo

DEMO_ACTOR = system_actor("demo-loader")
SOURCE = "demo-loader"

WATER_NOTES = """\
Kolaboui residents' committee -- well and stream observations (fictional demo data)

Well at the school, Sinthiourou quarter: water turned red-brown after rain on 4 dates
in the wet season; three families stopped drinking from it.
Stream crossing the haul road at km 38: fine red sediment on the stream bed for about
2 km downstream; women who wash clothes there report itching.
Rice plots east of the haul road: two plots covered by run-off sediment in August.
"""


def _community_complaint(db: Session, settings: Settings, now: datetime) -> timeline.Thread:
    day = timedelta(days=1)
    yield now - 60 * day
    case, _token = filing.file_complaint(db, None, ComplaintCreate(
        subject_kind=SubjectKind.MEMBER, subject="kebbe-bauxite",
        summary="Red run-off from the haul road reaches wells, a stream and rice plots",
        description=(
            "We write for the residents' committee of three villages beside the Kebbe haul "
            "road. Since the road was widened, every heavy rain carries red sediment into "
            "the school well, the stream at km 38 and rice plots east of the road. Families "
            "have stopped drinking from the well, and two plots lost their harvest. We also "
            "ask that the company explains how land along the widened road was taken, as "
            "two households say they were never consulted nor compensated. We ask for "
            "drainage and settling ponds along the road, safe water until the well is "
            "clean, and a fair process for the land."),
        anonymous=False, complainant_name="Mamadou Bangoura",
        complainant_email="m.bangoura@riverains-kolaboui.example",
        complainant_affiliation="Comité des riverains de Kolaboui (fictional)",
        consent_public=True,
    ), [AttachmentUpload("water-sampling-notes.txt", WATER_NOTES.encode())],
        settings=settings, source=SOURCE, now=now - 60 * day)
    ref = case.reference
    owner = registry_repo.user_by_email(db, "kwame.asante@stewardship.example")
    if owner is not None and owner.role == "secretariat":
        yield now - 59 * day
        handling.assign(db, DEMO_ACTOR, ref, owner.id, settings=settings, now=now - 59 * day)
    yield now - 52 * day
    handling.transition(db, DEMO_ACTOR, ref, TransitionRequest(
        to=ComplaintStatus.ACCEPTED, public_note=True,
        note="Accepted: the concerns fall under the Performance Standard's principles on "
             "water, land and human rights. The secretariat asked Kebbe Bauxite Company "
             "for its response."), settings=settings, now=now - 52 * day)
    yield now - 50 * day
    handling.set_respondent_consent(db, DEMO_ACTOR, ref, True, settings=settings,
                                    now=now - 50 * day)
    yield now - 45 * day
    handling.transition(db, DEMO_ACTOR, ref, TransitionRequest(
        to=ComplaintStatus.MEDIATION, public_note=True,
        note="Both parties agreed to mediation by an independent mediator based in Boké. "
             "First meeting held in the village; a joint site walk of the haul road is "
             "planned."), settings=settings, now=now - 45 * day)


def _audit_conduct_complaint(db: Session, settings: Settings, now: datetime
                             ) -> timeline.Thread:
    yield now - timedelta(days=20)
    filing.file_complaint(db, None, ComplaintCreate(
        subject_kind=SubjectKind.AUDIT_FIRM, subject="thistlebrook-assurance",
        summary="Workers interviewed in front of their supervisors during an audit",
        description=(
            "During a recent surveillance audit at the rolling mill where I work, the "
            "auditor held the worker interviews in the shift manager's office with two "
            "supervisors present, and left after half a day of an audit planned for two "
            "days. Nobody could speak freely about overtime or the near-misses on the "
            "cold line. I file anonymously because I fear for my job."),
        anonymous=True, consent_public=False,
    ), [], settings=settings, source=SOURCE, now=now - timedelta(days=20))


def load_demo_complaints(db: Session, settings: Settings | None = None,
                         now: datetime | None = None) -> int:
    """Add the demo's two complaints into the caller's transaction; returns how many were
    added (0 when complaints exist already or the demo's subjects are missing)."""
    added: int = timeline.run_one(demo_complaints(db, settings, now))
    return added


def demo_complaints(db: Session, settings: Settings | None = None,
                    now: datetime | None = None) -> timeline.Thread:
    """``load_demo_complaints`` as a thread of the demo's timeline (``core.timeline``)."""
    now = now or utcnow()
    yield now - timedelta(days=61)
    if repo.count_rows(db)["complaints"]:
        return 0
    settings = settings or get_settings()
    added = 0
    if registry_repo.organization_by_slug(db, "kebbe-bauxite") is not None:
        yield from _community_complaint(db, settings, now)
        added += 1
    if registry_repo.audit_firm_by_slug(db, "thistlebrook-assurance") is not None:
        yield from _audit_conduct_complaint(db, settings, now)
        added += 1
    return added
