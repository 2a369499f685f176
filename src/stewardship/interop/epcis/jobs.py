"""Capture jobs: accepting a document (``POST /epcis/capture``), showing a job, and
processing one job for a worker.

A job is claimed in a short transaction of its own (status ``running``, a worker token,
a lease), then captured in a second transaction that ends by marking the job done, only
if the claim still holds (``repository.finish_job``), so the events and the job's outcome
commit together. A worker that dies leaves the job ``running``; once the lease expires,
another worker claims it again (the dead one's work was never committed). A long
``proceed`` job commits in chunks instead (``process_in_chunks``), so that it never holds
the database for long, and a new claimant resumes after the chunks already committed. After
``epcis_job_max_attempts`` claims a job is given up with an error.
"""

from __future__ import annotations

import base64
import logging
import os
import socket
import uuid
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from stewardship.core import clock
from stewardship.core.auth import Actor, Role
from stewardship.core.config import Settings
from stewardship.core.db import transaction
from stewardship.core.errors import NotFound
from stewardship.interop import repository as repo
from stewardship.interop import rules
from stewardship.interop.epcis.capture import (
    BEHAVIOURS,
    PROCEED,
    CaptureRejected,
    capture_document,
    event_problem,
    loads,
    require_capturer,
)
from stewardship.interop.epcis.problems import MAX_REPORTED, EpcisProblem, problem
from stewardship.interop.epcis.validation import Issue, Validation
from stewardship.interop.models import EpcisCaptureJob

log = logging.getLogger("stewardship.epcis")
CHUNK_EVENTS = 200
"""Events a ``proceed`` job captures per transaction (``process_in_chunks``)."""


def actor_json(actor: Actor) -> dict[str, Any]:
    def text(value: Any) -> str | None:
        return str(value) if value is not None else None

    return {"user_id": text(actor.user_id), "role": actor.role.value, "name": actor.name,
            "email": actor.email, "organization_id": text(actor.organization_id),
            "organization_slug": actor.organization_slug,
            "audit_firm_id": text(actor.audit_firm_id),
            "audit_firm_slug": actor.audit_firm_slug, "via_token": actor.via_token}


def actor_from_json(data: dict[str, Any]) -> Actor:
    def ident(value: Any) -> uuid.UUID | None:
        return uuid.UUID(value) if value else None

    return Actor(user_id=ident(data.get("user_id")), role=Role(data["role"]),
                 name=data.get("name", ""), email=data.get("email", ""),
                 organization_id=ident(data.get("organization_id")),
                 organization_slug=data.get("organization_slug"),
                 audit_firm_id=ident(data.get("audit_firm_id")),
                 audit_firm_slug=data.get("audit_firm_slug"),
                 via_token=bool(data.get("via_token")))


def _stamp(moment: datetime | None) -> str | None:
    return rules.format_time(moment) if moment is not None else None


def job_document(job: EpcisCaptureJob) -> dict[str, Any]:
    """The capture job as the EPCIS REST binding shows it, plus our counts."""
    return {"captureID": str(job.id), "createdAt": _stamp(job.created_at),
            "finishedAt": _stamp(job.finished_at), "running": job.status != "done",
            "success": job.success, "captureErrorBehaviour": job.behaviour,
            "errors": list(job.errors or []), "status": job.status,
            "eventCount": job.event_count, "capturedCount": job.captured_count,
            "ledger": list(job.ledger or [])}


def submit_capture(db: Session, actor: Actor | None, text: str, document: Any, behaviour: str,
                   validation: Validation, settings: Settings) -> EpcisCaptureJob:
    """Check a received document and queue it. Raises ``CaptureRejected`` (400) when the
    document cannot be captured at all; events that fail validation under ``proceed`` are
    reported in the job and skipped."""
    actor = require_capturer(actor)
    if behaviour not in BEHAVIOURS:
        raise EpcisProblem(400, f"GS1-Capture-Error-Behaviour must be one of "
                           f"{', '.join(BEHAVIOURS)}, not {behaviour!r}")
    events = rules.event_list(document) if isinstance(document, dict) else None
    if events is not None and len(events) > settings.epcis_capture_limit:
        raise EpcisProblem(413, f"the document holds {len(events)} events; at most "
                           f"{settings.epcis_capture_limit} may be captured at once",
                           headers=limit_headers(settings))
    issues = validation.document_issues(document)
    document_level = [problem(400, f"{i.pointer or '/'}: {i.message}", instance=f"#{i.pointer}",
                              path=i.pointer) for i in issues if i.index is None]
    if events is None or document_level:
        raise CaptureRejected("the document is not a valid EPCIS 2.0 document; nothing was "
                              "captured", document_level)
    errors = [event_problem(i.index, events[i.index], i.pointer, i.message)
              for i in issues if i.index is not None and i.index < len(events)]
    if errors and behaviour == "rollback":
        raise CaptureRejected(f"{len({e['eventIndex'] for e in errors})} of {len(events)} "
                              "events are not valid; nothing was captured", errors)
    return repo.add_job(db, organization_id=actor.organization_id, actor=actor_json(actor),
                        behaviour=behaviour, status="queued", success=not errors,
                        document=text, validation=[asdict(i) for i in issues],
                        event_count=len(events), errors=errors[:MAX_REPORTED],
                        captured_count=0, attempts=0)


def limit_headers(settings: Settings) -> dict[str, str]:
    return {"GS1-EPCIS-Capture-Limit": str(settings.epcis_capture_limit),
            "GS1-EPCIS-Capture-File-Size-Limit": str(settings.epcis_capture_max_bytes),
            "GS1-Capture-Error-Behaviour": "rollback,proceed"}


def _visible_job(actor: Actor, job: EpcisCaptureJob) -> bool:
    return actor.is_secretariat() or (actor.organization_id is not None
                                      and job.organization_id == actor.organization_id)


def get_job(db: Session, actor: Actor, capture_id: str) -> dict[str, Any]:
    try:
        job_id = uuid.UUID(capture_id)
    except ValueError:
        raise NotFound(f"no capture job {capture_id}") from None
    job = repo.job_by_id(db, job_id)
    if job is None or not _visible_job(actor, job):
        raise NotFound(f"no capture job {capture_id}")
    return job_document(job)


def _job_token(job: EpcisCaptureJob) -> str:
    raw = f"{job.created_at.astimezone(UTC).isoformat()}|{job.id.hex}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after_job(token: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(token[:200] + "=" * (-len(token[:200]) % 4)).decode()
        created, _, job_id = raw.partition("|")
        return datetime.fromisoformat(created), uuid.UUID(hex=job_id)
    except (ValueError, UnicodeDecodeError):
        raise EpcisProblem(400, "the nextPageToken is not one this repository issued for "
                           "/epcis/capture", type_="epcisException:QueryParameterException",
                           title="Invalid query parameter") from None


def list_jobs(db: Session, actor: Actor, per_page: int, token: str | None = None,
              ) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the capture jobs the caller may see, newest first, and the next page's
    ``nextPageToken`` (None on the last page)."""
    before = _after_job(token) if token else None
    jobs = repo.list_jobs(db, organization_id=actor.organization_id,
                          see_all=actor.is_secretariat(), limit=per_page + 1, before=before)
    more = len(jobs) > per_page
    jobs = jobs[:per_page]
    return [job_document(job) for job in jobs], (_job_token(jobs[-1]) if more else None)


# --- processing (the workers) ------------------------------------------------------------


def worker_token() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def process_claimed(db: Session, job_id: uuid.UUID, token: str, validation: Validation) -> bool:
    """Capture a claimed job's document and record the outcome; False if the claim was
    lost (another worker took the job over after the lease ran out)."""
    job = repo.held_job(db, job_id, token)
    if job is None:
        return False
    now = clock.now()
    errors = list(job.errors or [])
    try:
        document = loads(job.document or "null")
        issues = ([Issue(**i) for i in job.validation] if job.validation is not None
                  else None)
        result = capture_document(db, actor_from_json(job.actor), document, job.behaviour,
                                  issues=issues, validation=validation, job_id=job.id)
    except CaptureRejected as exc:
        failures = exc.errors or [exc.body()]
        return repo.finish_job(db, job_id, token, success=False, captured_count=0,
                               errors=failures[:MAX_REPORTED], finished_at=now)
    seen = {(e.get("eventIndex"), e.get("path")) for e in errors}
    errors += [e for e in result.errors if (e.get("eventIndex"), e.get("path")) not in seen]
    errors.sort(key=lambda e: e.get("eventIndex", -1))
    if not repo.finish_job(db, job_id, token, success=not errors,
                           captured_count=result.captured, errors=errors[:MAX_REPORTED],
                           ledger=result.effects, finished_at=now):
        raise LostClaim(job_id)
    return True


class LostClaim(RuntimeError):
    """Another worker took the job over; this worker's capture must roll back."""


def _first_positions(document: Any, events: list[Any]) -> dict[str, int]:
    """eventID (given, or the CBV hash id the capture gives it) -> its first position."""
    prefixes = rules.declared_prefixes(document.get("@context"))
    first: dict[str, int] = {}
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            continue
        try:
            event_id = event.get("eventID") or rules.event_hash_id(event, prefixes)
        except (ValueError, KeyError, TypeError):  # refused by the capture anyway
            continue
        first.setdefault(str(event_id), index)
    return first


def process_in_chunks(factory: sessionmaker[Session], job_id: uuid.UUID, token: str,
                      validation: Validation, settings: Settings) -> bool:
    """Capture a claimed ``proceed`` job ``CHUNK_EVENTS`` events per transaction.

    Under ``proceed`` every event stands or falls on its own, so committing the document
    in chunks keeps its meaning while no transaction holds the database (SQLite's one
    write lock) for more than one chunk: requests queued behind the job get their turn
    between chunks. Each chunk checks that the claim still holds, renews the lease and
    records the progress (``capturedCount`` grows while the job runs). A worker that dies
    mid-way leaves its committed chunks; the next claimant resumes, counting the events
    this job already stored as captured (``captured_before``), not as duplicates.
    ``rollback`` jobs stay one transaction: all or nothing is what they ask for."""
    with transaction(factory, write=False) as db:
        job = repo.held_job(db, job_id, token)
        if job is None:
            return False
        text, behaviour = job.document or "null", job.behaviour
        actor = actor_from_json(job.actor)
        issues = ([Issue(**i) for i in job.validation] if job.validation is not None
                  else None)
        errors = list(job.errors or [])
        done = repo.event_ids_of_job(db, job_id) if job.attempts > 1 else frozenset()
    document = loads(text)
    events = rules.event_list(document) if isinstance(document, dict) else None
    total = len(events) if events is not None else 0
    first_seen = _first_positions(document, events) if done and events else {}
    seen = {(e.get("eventIndex"), e.get("path")) for e in errors}
    captured = 0
    for start in range(0, max(total, 1), CHUNK_EVENTS):
        with transaction(factory) as db:
            job = repo.held_job(db, job_id, token)
            if job is None:
                raise LostClaim(job_id)
            try:
                chunk = range(start, start + CHUNK_EVENTS)
                # Only the events this chunk stored itself before the restart: a later
                # copy of an earlier chunk's event is still a duplicate.
                before = frozenset(i for i in done if first_seen.get(i, -1) in chunk)
                result = capture_document(db, actor, document, behaviour, issues=issues,
                                          validation=validation, job_id=job_id,
                                          indexes=chunk, captured_before=before)
            except CaptureRejected as exc:  # the document as a whole: nothing was stored
                failures = exc.errors or [exc.body()]
                return repo.finish_job(db, job_id, token, success=False, captured_count=0,
                                       errors=failures[:MAX_REPORTED],
                                       finished_at=clock.now())
            captured += result.captured
            job.ledger = [*(job.ledger or []), *result.effects]
            for error in result.errors:
                key = (error.get("eventIndex"), error.get("path"))
                if key not in seen:
                    seen.add(key)
                    errors.append(error)
            errors.sort(key=lambda e: e.get("eventIndex", -1))
            now = clock.now()
            job.captured_count = captured
            job.lease_until = now + timedelta(seconds=settings.epcis_job_lease_seconds)
            db.flush()
            last = start + CHUNK_EVENTS >= total
            if last and not repo.finish_job(db, job_id, token, success=not errors,
                                            captured_count=captured,
                                            errors=errors[:MAX_REPORTED], finished_at=now):
                raise LostClaim(job_id)
    return True


def process_next_job(factory: sessionmaker[Session], settings: Settings,
                     validation: Validation, token: str | None = None) -> bool:
    """Claim and process one job; False when there was none to do."""
    token = token or worker_token()
    with transaction(factory) as db:
        job = repo.claim_job(db, token=token, now=clock.now(),
                             lease_seconds=settings.epcis_job_lease_seconds)
        if job is None:
            return False
        job_id, behaviour, event_count = job.id, job.behaviour, job.event_count
        if job.attempts > settings.epcis_job_max_attempts:
            repo.finish_job(db, job_id, token, success=False, finished_at=clock.now(),
                            errors=[problem(500, f"the capture was given up after "
                                            f"{job.attempts - 1} attempts that did not finish")])
            return True
    try:
        if behaviour == PROCEED and event_count > CHUNK_EVENTS:
            process_in_chunks(factory, job_id, token, validation, settings)
        else:
            with transaction(factory) as db:
                process_claimed(db, job_id, token, validation)
    except LostClaim:
        log.warning("capture job %s was taken over by another worker", job_id)
    except Exception:
        log.exception("capture job %s failed", job_id)
        with transaction(factory) as db:
            repo.finish_job(db, job_id, token, success=False, finished_at=clock.now(),
                            errors=[problem(500, "the capture failed on our side; nothing of "
                                            "the document was stored")])
    return True
