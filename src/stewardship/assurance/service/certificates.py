"""Certificates: issuing after a decision, the public register and the JSON form, and the
secretariat's suspend / reinstate / withdraw. Expiry happens by date and is computed."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session

from stewardship.assurance import repository as repo
from stewardship.assurance.models import (
    Audit,
    Certificate,
    CertificateActivity,
    CertificateCountry,
    CertificateEvent,
    CertificationScope,
)
from stewardship.assurance.repository import CertificateFilter
from stewardship.assurance.rules import (
    CertificateStatus,
    Decision,
    Maturity,
    certificate_may_move,
    certificate_prefix,
    certificate_type,
    effective_status,
    next_certificate_number,
)
from stewardship.assurance.schemas import (
    CertificateDocument,
    CertificateEventRead,
    CertificatePage,
    CertificateQuery,
    CertificateRead,
    CertificateSummary,
    StatusChange,
)
from stewardship.assurance.service.common import Labels, today_or
from stewardship.core import eventlog, issuance, labels
from stewardship.core.auth import Actor, Role, require
from stewardship.core.db import utcnow
from stewardship.core.errors import Conflict, InvalidInput, NotFound
from stewardship.core.pagination import PageParams
from stewardship.registry import repository as registry_repo
from stewardship.registry.rules import Activity, normalize_country
from stewardship.standards.rules import StandardKind
from stewardship.standards.service import library

DOCUMENT_FORMAT = "stewardship-certificate/1"
EXPORT_LIMIT = 50_000


def verify_path(number: str) -> str:
    return f"/certificates/{number}"


def _labels(db: Session, certificates: list[Certificate]) -> Labels:
    return Labels(db, organizations=[c.organization_id for c in certificates],
                  entities=[c.entity_id for c in certificates],
                  versions=[c.version_id for c in certificates])


def _summary(c: Certificate, labels: Labels, today: date) -> CertificateSummary:
    return CertificateSummary(
        number=c.number,
        status=effective_status(CertificateStatus(c.status), c.valid_until, today).value,
        certificate_type=c.certificate_type, organization=labels.organization(c.organization_id),
        entity=labels.entity(c.entity_id), issued_to=c.holder_name,
        issued_to_entity=c.entity_name, standard=labels.standard(c.version_id),
        maturity=Maturity(c.maturity), valid_from=c.valid_from, valid_until=c.valid_until,
        surveillance_due_on=c.surveillance_due_on, activities=c.activities,
        countries=c.countries, verify_path=verify_path(c.number),
        imported=c.imported_at is not None, audit_reference=c.audit_reference)


def summaries(db: Session, certificates: list[Certificate],
              today: date | None = None) -> list[CertificateSummary]:
    labels = _labels(db, certificates)
    day = today_or(today)
    return [_summary(c, labels, day) for c in certificates]


def _history(db: Session, c: Certificate, today: date) -> list[CertificateEventRead]:
    out = [CertificateEventRead(from_status=e.from_status, to_status=e.to_status,
                                reason=e.reason, at=e.at,
                                by="platform" if e.actor.startswith("system:") else "secretariat")
           for e in repo.certificate_events(db, c.id)]
    if effective_status(CertificateStatus(c.status), c.valid_until, today) is \
            CertificateStatus.EXPIRED and c.status != CertificateStatus.EXPIRED:
        out.append(CertificateEventRead(
            from_status=c.status, to_status=CertificateStatus.EXPIRED.value,
            reason=f"validity ended on {c.valid_until}",
            at=datetime.combine(c.valid_until + timedelta(days=1), time(), tzinfo=UTC),
            by="platform"))
    return out


def load(db: Session, number: str) -> Certificate:
    certificate = repo.certificate_by_number(db, number.strip().upper())
    if certificate is None:
        raise NotFound(f"no certificate '{number}'", field="number")
    return certificate


def to_read(db: Session, c: Certificate, today: date | None = None) -> CertificateRead:
    day = today_or(today)
    summary = summaries(db, [c], day)[0]
    scope = repo.scope_by_id(db, c.scope_id) if c.scope_id is not None else None
    ids = [f.facility_id for f in scope.facilities] if scope is not None else []
    facilities = Labels(db, facilities=ids)
    return CertificateRead(**summary.model_dump(), audit_id=c.audit_id, scope_id=c.scope_id,
                           facilities=[facilities.facility(f) for f in ids],
                           history=_history(db, c, day))


def get_certificate(db: Session, number: str, *, today: date | None = None) -> CertificateRead:
    """A certificate with its scope's facilities and its whole status history. Public."""
    return to_read(db, load(db, number), today)


def certificate_document(db: Session, number: str, *,
                         today: date | None = None) -> CertificateDocument:
    """The certificate as one self-contained JSON document with a digest. Public."""
    read = get_certificate(db, number, today=today)
    body = {
        "format": DOCUMENT_FORMAT, "number": read.number, "status": read.status,
        "status_as_of": today_or(today), "certificate_type": read.certificate_type,
        "holder": read.organization.model_dump(), "entity": read.entity.model_dump(),
        "issued_to": read.issued_to, "issued_to_entity": read.issued_to_entity,
        "standard": read.standard.model_dump(), "maturity": read.maturity.value,
        "valid_from": read.valid_from, "valid_until": read.valid_until,
        "activities": read.activities, "countries": read.countries,
        "facilities": [f.model_dump() for f in read.facilities],
        "verify_path": read.verify_path,
    }
    return CertificateDocument.model_validate({**body,
                                               "digest": eventlog.digest_payload(body)})


def build_filter(db: Session, query: CertificateQuery) -> CertificateFilter:
    """The register's filters, checked, with names turned into ids."""
    kind, standard, version = query.kind, query.standard, query.version
    activity, country, status = query.activity, query.country, query.status
    organization, q = query.organization, query.q
    if kind is not None and kind not in {k.value for k in StandardKind}:
        raise InvalidInput("kind must be performance or chain_of_custody", field="kind")
    if activity is not None and activity not in {a.value for a in Activity}:
        raise InvalidInput(f"'{activity}' is not an activity", field="activity")
    if status is not None and status not in {s.value for s in CertificateStatus}:
        raise InvalidInput("status must be active, suspended, withdrawn, expired or "
                           "superseded", field="status")
    if country:
        try:
            country = normalize_country(country)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="country") from exc
    version_id = standard_id = None
    if version is not None and not standard:
        raise InvalidInput("name the standard whose version to filter by", field="standard")
    if standard:
        try:
            if version is not None:
                version_id = library.load_version(db, standard, version).id
            else:
                standard_id = library.load_standard(db, standard).id
        except NotFound as exc:
            raise InvalidInput(exc.message, field="version" if version else "standard") \
                from exc
    org_id = None
    if organization:
        org = registry_repo.organization_by_slug(db, organization)
        if org is None:
            raise InvalidInput(f"no organisation '{organization}'", field="organization")
        org_id = org.id
    return CertificateFilter(kind=kind, version_id=version_id, standard_id=standard_id,
                             activity=activity, country=country, status=status,
                             organization_id=org_id, q=(q or "").strip()[:100] or None)


def list_certificates(db: Session, params: PageParams,
                      query: CertificateQuery | None = None, *,
                      today: date | None = None) -> CertificatePage:
    """The public register of every certificate ever issued, newest first. Public."""
    day = today_or(today)
    page = repo.list_certificates(db, params, build_filter(db, query or CertificateQuery()),
                                  day)
    return CertificatePage(items=summaries(db, page.items, day), total=page.total,
                           page=page.page, per_page=page.per_page, pages=page.pages)


# organization and entity are the names the certificate was issued to; organization_now
# is the member's name today where it was renamed since.
EXPORT_HEADER = ["number", "status", "type", "organization", "entity", "standard", "version",
                 "maturity", "valid_from", "valid_until", "surveillance_due_on", "activities",
                 "countries", "organization_now", "imported", "audit_reference"]


def export_rows(db: Session, query: CertificateQuery | None = None, *,
                today: date | None = None) -> list[list[str]]:
    """The filtered register as table rows, header first. Public."""
    day = today_or(today)
    f = build_filter(db, query or CertificateQuery())
    rows = [list(EXPORT_HEADER)]
    for s in summaries(db, repo.all_certificates(db, f, day, EXPORT_LIMIT), day):
        rows.append([s.number, s.status, s.certificate_type, s.issued_to,
                     s.issued_to_entity, s.standard.slug, str(s.standard.version),
                     s.maturity.value, s.valid_from.isoformat(), s.valid_until.isoformat(),
                     s.surveillance_due_on.isoformat() if s.surveillance_due_on else "",
                     " ".join(s.activities), " ".join(s.countries),
                     s.organization.name if s.organization.name != s.issued_to else "",
                     "yes" if s.imported else "", s.audit_reference or ""])
    return rows


# --- issuing and status changes ---------------------------------------------------------


def record_change(db: Session, actor: Actor, c: Certificate, before: str | None, after: str,
                  reason: str, *, kind: str | None = None) -> None:
    """A status change in the certificate's public history and in the event log. The
    entry names the history row and its time; the one that issues (or imports) the
    certificate holds everything the certificate says (``record_of``), so that
    ``stewardship verify`` can hold both tables against the log."""
    event = CertificateEvent(certificate_id=c.id, from_status=before, to_status=after,
                             reason=reason, actor=actor.ref, at=utcnow())
    db.add(event)
    db.flush()
    if kind is None:
        kind = "issued" if before is None else {
            "suspended": "suspended", "withdrawn": "withdrawn", "active": "reinstated",
            "expired": "expired", "superseded": "superseded"}[after]
    payload: dict[str, object] = {"from": before, "to": after, "reason": reason,
                                  "event": str(event.id), "at": event.at}
    if before is None:
        payload["certificate"] = record_of(c)
    eventlog.append(db, actor, f"assurance.certificate.{kind}", f"certificate:{c.number}",
                    payload)
    _credential_follows(db, actor, c, before, after)


def record_of(c: Certificate) -> dict[str, object]:
    """What the certificate says, as the event log records it at issue (plain JSON)."""
    return {
        "number": c.number, "organization": str(c.organization_id),
        "entity": str(c.entity_id), "holder_name": c.holder_name,
        "entity_name": c.entity_name,
        "scope": str(c.scope_id) if c.scope_id is not None else None,
        "audit": str(c.audit_id) if c.audit_id is not None else None,
        "audit_reference": c.audit_reference, "imported": c.imported_at is not None,
        "version": str(c.version_id), "standard_kind": c.standard_kind,
        "certificate_type": c.certificate_type, "maturity": c.maturity,
        "valid_from": c.valid_from.isoformat(), "valid_until": c.valid_until.isoformat(),
        "surveillance_due_on": c.surveillance_due_on.isoformat()
        if c.surveillance_due_on is not None else None,
        "activities": sorted(r.activity for r in c.activity_rows),
        "countries": sorted(r.country for r in c.country_rows),
    }


DCC_CONTEXT = "https://test.uncefact.org/vocabulary/untp/dcc/0.5.0/"


def conformity_attestation(c: Certificate, base_url: str) -> dict[str, object]:
    """The certificate as the subject of a UNTP Digital Conformity Credential."""
    page = f"{base_url.rstrip('/')}/certificates/{c.number}"
    standard = labels.label(c.standard_kind)
    return {
        "type": ["ConformityAttestation"],
        "id": f"urn:stewardship:certificate:{c.number}",
        "name": f"{standard} certificate {c.number}",
        "assessorLevel": "3rdParty",
        "assessmentLevel": "Accredited",
        "attestationType": "Certification",
        "description": f"{labels.label(c.certificate_type)} certificate to the {standard} "
                       f"standard, maturity {labels.lower(c.maturity)}",
        "issuedToParty": {"id": f"urn:stewardship:org:{c.organization_id}",
                          "name": c.holder_name,
                          "registeredId": f"urn:stewardship:entity:{c.entity_id}",
                          "registeredName": c.entity_name},
        "scope": {"standard": c.standard_kind, "standardVersion": str(c.version_id),
                  "activities": sorted(r.activity for r in c.activity_rows),
                  "countries": sorted(r.country for r in c.country_rows)},
        "validFrom": c.valid_from.isoformat(), "validUntil": c.valid_until.isoformat(),
        "conformityCertificate": {"linkURL": page, "linkName": c.number},
    }


def _credential_follows(db: Session, actor: Actor, c: Certificate, before: str | None,
                        after: str) -> None:
    """The certificate's credential follows it: issued with it (signed, in the log, with
    its places in the status lists), suspended, reinstated and revoked with it, in the
    same transaction."""
    ref = f"certificate:{c.number}"
    if before is None:
        issuer = issuance.current_issuer()
        issuance.issue(
            db, actor, issuer, kind="certificate", subject_ref=ref,
            types=["DigitalConformityCredential"], contexts=[DCC_CONTEXT],
            subject=conformity_attestation(c, issuer.base_url),
            valid_from=datetime.combine(c.valid_from, time.min, tzinfo=UTC),
            valid_until=datetime.combine(c.valid_until, time.max, tzinfo=UTC),
            organization_id=str(c.organization_id))
        if after == CertificateStatus.SUSPENDED.value:
            issuance.set_status(db, actor, ref, suspended=True)
    elif after == CertificateStatus.SUSPENDED.value:
        issuance.set_status(db, actor, ref, suspended=True)
    elif after == CertificateStatus.ACTIVE.value:
        issuance.set_status(db, actor, ref, suspended=False)
    elif after in (CertificateStatus.WITHDRAWN.value, CertificateStatus.SUPERSEDED.value):
        issuance.set_status(db, actor, ref, revoked=True)


def attach_coverage(c: Certificate, activities: list[str], countries: list[str]) -> None:
    """The activities and countries the register filters the certificate by."""
    c.activity_rows = [CertificateActivity(activity=a) for a in sorted(set(activities))]
    c.country_rows = [CertificateCountry(country=k) for k in sorted(set(countries))]


def issue(db: Session, actor: Actor, audit: Audit, scope: CertificationScope,
          decision: Decision, *, supersedes: list[str] | None = None) -> Certificate:
    """Issue the certificate a positive decision earned (the caller checked the rules and
    supersedes the certificates named in ``supersedes``)."""
    assert decision.valid_from is not None and decision.valid_until is not None
    facilities = registry_repo.facilities_by_ids(db, [f.facility_id for f in scope.facilities])
    names = Labels(db, organizations=[scope.organization_id], entities=[scope.entity_id])
    year = decision.valid_from.year
    number = next_certificate_number(
        scope.standard_kind, year,
        repo.certificate_numbers(db, certificate_prefix(scope.standard_kind, year)))
    certificate = Certificate(
        number=number, organization_id=scope.organization_id, entity_id=scope.entity_id,
        holder_name=names.organization(scope.organization_id).name,
        entity_name=names.entity(scope.entity_id).name, scope_id=scope.id, audit_id=audit.id,
        version_id=scope.version_id,
        standard_kind=scope.standard_kind, certificate_type=certificate_type(decision.outcome),
        maturity=decision.maturity.value, valid_from=decision.valid_from,
        valid_until=decision.valid_until, surveillance_due_on=decision.surveillance_due,
        status=CertificateStatus.ACTIVE.value)
    attach_coverage(certificate, list(scope.activities),
                    [f.country for f in facilities.values()])
    db.add(certificate)
    db.flush()
    replaces = f"; supersedes {', '.join(supersedes)}" if supersedes else ""
    record_change(db, actor, certificate, None, CertificateStatus.ACTIVE.value,
            f"{decision.outcome.value} after audit {audit.id} ({audit.audit_type})"
            f"{replaces}")
    return certificate


def change_status(db: Session, actor: Actor, c: Certificate, target: CertificateStatus,
                  reason: str, *, today: date) -> None:
    current = effective_status(CertificateStatus(c.status), c.valid_until, today)
    if current is CertificateStatus.EXPIRED and c.status != CertificateStatus.EXPIRED:
        raise Conflict(f"certificate {c.number} expired on {c.valid_until}", field="status")
    if not certificate_may_move(current, target):
        raise Conflict(f"a {labels.lower(current)} certificate cannot become "
                       f"{labels.lower(target)}", field="status")
    before = c.status
    c.status = target.value
    db.flush()
    record_change(db, actor, c, before, target.value, reason)


def _secretariat_change(db: Session, actor: Actor | None, number: str, data: StatusChange,
                        target: CertificateStatus, action: str,
                        today: date | None) -> CertificateRead:
    actor = require(actor, Role.SECRETARIAT, action=action)
    c = load(db, number)
    reason = data.reason + (f" (complaint {data.complaint})" if data.complaint else "")
    change_status(db, actor, c, target, reason, today=today_or(today))
    return to_read(db, c, today)


def suspend(db: Session, actor: Actor | None, number: str, data: StatusChange, *,
            today: date | None = None) -> CertificateRead:
    """Suspend an active certificate, with the reason (e.g. a complaint's finding)."""
    return _secretariat_change(db, actor, number, data, CertificateStatus.SUSPENDED,
                               "suspend certificates", today)


def reinstate(db: Session, actor: Actor | None, number: str, data: StatusChange, *,
              today: date | None = None) -> CertificateRead:
    """Lift a suspension."""
    return _secretariat_change(db, actor, number, data, CertificateStatus.ACTIVE,
                               "reinstate certificates", today)


def withdraw(db: Session, actor: Actor | None, number: str, data: StatusChange, *,
             today: date | None = None) -> CertificateRead:
    """Withdraw a certificate for good."""
    return _secretariat_change(db, actor, number, data, CertificateStatus.WITHDRAWN,
                               "withdraw certificates", today)


def suspend_for_sanction(db: Session, actor: Actor, organization_id: uuid.UUID, reason: str,
                         *, number: str | None = None,
                         today: date | None = None) -> list[str]:
    """Suspend a complaint's sanctioned certificate: the one named by ``number`` (it must
    be the organisation's and active today), or every current certificate of the
    organisation when none is named; returns the numbers suspended. Each suspension is in
    the certificate's public history and the event log with ``reason``. The complaints
    service calls this; only the secretariat may."""
    require(actor, Role.SECRETARIAT, action="suspend certificates")
    day = today_or(today)
    if number is None:
        targets = repo.current_certificates(db, on=day, organization_id=organization_id)
    else:
        found = repo.certificate_by_number(db, number.strip().upper())
        if found is None or found.organization_id != organization_id:
            raise InvalidInput(f"'{number}' is not a certificate of the organisation "
                               "complained about", field="certificate")
        status = effective_status(CertificateStatus(found.status), found.valid_until, day)
        if status is not CertificateStatus.ACTIVE:
            raise InvalidInput(f"certificate {found.number} is {status.value}; only an active "
                               "certificate can be suspended", field="certificate")
        targets = [found]
    suspended = []
    for c in targets:
        change_status(db, actor, c, CertificateStatus.SUSPENDED, reason, today=day)
        suspended.append(c.number)
    return suspended


def current_of(db: Session, organization_id: uuid.UUID, *,
               today: date | None = None) -> list[CertificateSummary]:
    """The organisation's certificates that are active and in date today, newest first:
    what a sanction can suspend."""
    day = today_or(today)
    return summaries(db, repo.current_certificates(db, on=day, organization_id=organization_id),
                     day)


# --- what the chain of custody asks ----------------------------------------------------


def holdings_on(db: Session, entity_id: uuid.UUID, on: date) -> dict[str, str | None]:
    """The number of the entity's current Performance and Chain of Custody certificate
    on the day (None where it holds none): what passing CoC material on requires."""
    return holdings_of(db, [entity_id], on)[entity_id]


def holdings_of(db: Session, entity_ids: list[uuid.UUID],
                on: date) -> dict[uuid.UUID, dict[str, str | None]]:
    """``holdings_on`` for several entities in one query."""
    numbers = repo.current_numbers(db, entity_ids, on)
    return {e: {kind.value: numbers.get((e, kind.value))
                for kind in (StandardKind.PERFORMANCE, StandardKind.CHAIN_OF_CUSTODY)}
            for e in entity_ids}


KIND_LABELS = dict(labels.STANDARD_KINDS)


def lapse_on(db: Session, entity_id: uuid.UUID, kind: str, on: date) -> str | None:
    """Why the entity's certificate of the kind whose validity covers the day does not
    count, in words and with its dates ("its Chain of Custody certificate X was valid on
    D but has been suspended since E"); None when no certificate covers the day (or one
    counts). What a refusal to pass CoC material on says instead of "held none"."""
    label = KIND_LABELS.get(kind, kind)
    covering = repo.certificates_covering(db, entity_id, kind, on)
    if not covering:
        later = repo.next_certificate_from(db, entity_id, kind, on)
        if later is None:
            return None
        return (f"it held no valid {label} certificate on {on}: its certificate "
                f"{later.number} is valid only from {later.valid_from}")
    c = covering[0]
    status = CertificateStatus(c.status)
    if status is CertificateStatus.ACTIVE:
        return None
    since = next((e.at.date() for e in reversed(repo.certificate_events(db, c.id))
                  if e.to_status == status.value), None)
    what = f"its {label} certificate {c.number}"
    if since is None:
        return f"{what} is {labels.lower(status)}"
    verb = {CertificateStatus.SUSPENDED: f"has been suspended since {since}",
            CertificateStatus.WITHDRAWN: f"was withdrawn on {since}",
            CertificateStatus.SUPERSEDED: f"was superseded on {since}",
            CertificateStatus.EXPIRED: f"was marked expired on {since}"}[status]
    if since > on:
        return f"{what} was valid on {on} but {verb}"
    return f"{what} {verb}"


def validity_on(db: Session, numbers: list[str], on: date,
                today: date | None = None) -> list[tuple[str, str, str, bool, date, date]]:
    """(number, kind, status today, valid on the day, valid from, valid until) for each
    certificate number: valid on the day when the day lies in its validity and no
    suspension or withdrawal had taken effect by then."""
    return validity_of(db, [(numbers, on)], today)[0]


def validity_of(db: Session, asked: list[tuple[list[str], date]], today: date | None = None
                ) -> list[list[tuple[str, str, str, bool, date, date]]]:
    """``validity_on`` for several (numbers, day) pairs, every certificate read in one
    query with its status history (``repository.certificate_histories``)."""
    day = today_or(today)
    found = repo.certificate_histories(db, [n for numbers, _ in asked for n in numbers])
    out = []
    for numbers, on in asked:
        rows = []
        for number in numbers:
            c = found.get(number)
            if c is None:
                continue
            status_then = CertificateStatus.ACTIVE.value
            for at, from_status, to_status in c.events:
                if at.date() <= on and from_status:
                    status_then = to_status
            valid = c.valid_from <= on <= c.valid_until and \
                status_then == CertificateStatus.ACTIVE.value
            status = effective_status(CertificateStatus(c.status), c.valid_until, day).value
            rows.append((c.number, c.standard_kind, status, valid, c.valid_from,
                         c.valid_until))
        out.append(rows)
    return out


def status_since(db: Session, numbers: list[str], today: date | None = None) -> dict[str, date]:
    """The day each certificate took the status it has today (an expiry by date: the day
    after its validity ended); a certificate never changed since issue is left out."""
    day = today_or(today)
    out: dict[str, date] = {}
    for number in numbers:
        c = repo.certificate_by_number(db, number)
        if c is None:
            continue
        status = effective_status(CertificateStatus(c.status), c.valid_until, day)
        if status is CertificateStatus.EXPIRED and c.status != CertificateStatus.EXPIRED.value:
            out[c.number] = c.valid_until + timedelta(days=1)
            continue
        since = next((e.at.date() for e in reversed(repo.certificate_events(db, c.id))
                      if e.to_status == status.value and e.from_status), None)
        if since is not None:
            out[c.number] = since
    return out
