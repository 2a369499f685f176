"""The assurance context's part of ``stewardship verify``: certificates (what each says,
its coverage, its status), their status history and the audits' reports and decisions,
each held against the event-log entries that recorded them.

The entry that issues or imports a certificate holds what the certificate says
(``certificates.record_of``); each status change names its history row and its time; a
decision holds its outcome, maturity and note. Older entries that hold less are checked
for what they hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from stewardship.assurance import repository as repo
from stewardship.core.integrity import Report, differences

# What each audit entry makes the audit's status.
_AUDIT_STATUS = {"planned": "planned", "in_progress": "in_progress", "submitted": "submitted",
                 "decided": "decided", "cancelled": "cancelled", "returned": "in_progress"}

Recorded = tuple[int, str, dict[str, Any]]
"""(sequence, actor, payload) of one entry."""


@dataclass
class _CertificateLog:
    issue: Recorded | None = None
    changes: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    """Every status entry (the issue first): (sequence, actor, payload)."""
    surveillance_done: int | None = None


@dataclass
class _AuditLog:
    planned: int | None = None
    status: tuple[int, str] | None = None
    submitted: Recorded | None = None
    reviewed: Recorded | None = None
    """The review of the report as last submitted."""
    decided: Recorded | None = None


@dataclass
class AssuranceLog:
    """What the verified event log recorded of certificates and audits."""

    certificates: dict[str, _CertificateLog] = field(default_factory=dict)
    audits: dict[str, _AuditLog] = field(default_factory=dict)

    def visit(self, entry: Any) -> None:
        kind = entry.kind
        if not kind.startswith("assurance."):
            return
        _, _, key = entry.subject.partition(":")
        what = kind.rsplit(".", 1)[1]
        recorded = (entry.sequence, entry.actor, entry.payload)
        if kind.startswith("assurance.certificate."):
            c = self.certificates.setdefault(key, _CertificateLog())
            if what == "surveillance_done":
                c.surveillance_done = entry.sequence
                return
            if what in ("issued", "imported"):
                c.issue = recorded
            c.changes.append(recorded)
        elif kind.startswith("assurance.audit."):
            a = self.audits.setdefault(key, _AuditLog())
            if what == "planned":
                a.planned = entry.sequence
            if what in _AUDIT_STATUS:
                a.status = (entry.sequence, _AUDIT_STATUS[what])
            if what in ("submitted", "returned"):
                a.reviewed = None
            if what == "submitted":
                a.submitted = recorded
            elif what == "reviewed":
                a.reviewed = recorded
            elif what == "decided":
                a.decided = recorded


def check(db: Session, log: AssuranceLog, report: Report) -> None:
    numbers = _certificates(db, log, report)
    _history(db, log, numbers, report)
    _audits(db, log, report)


def _day(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _id(value: Any) -> str | None:
    return str(value) if value is not None else None


def _certificates(db: Session, log: AssuranceLog, report: Report) -> dict[Any, str]:
    coverage = repo.certificate_coverage(db)
    report.checked("certificates", 0)  # listed before its coverage tables
    numbers: dict[Any, str] = {}
    seen: set[str] = set()
    for row in repo.certificate_rows(db):
        number = row.number
        numbers[row.id] = number
        seen.add(number)
        recorded = log.certificates.get(number)
        if recorded is None or recorded.issue is None:
            report.missing("certificates", number)
            continue
        sequence, _, payload = recorded.issue
        activities, countries = coverage.get(row.id, ([], []))
        record = payload.get("certificate")
        if isinstance(record, dict):
            stored = {
                "number": number, "organization": _id(row.organization_id),
                "entity": _id(row.entity_id), "holder_name": row.holder_name,
                "entity_name": row.entity_name, "scope": _id(row.scope_id),
                "audit": _id(row.audit_id), "audit_reference": row.audit_reference,
                "imported": row.imported_at is not None, "version": _id(row.version_id),
                "standard_kind": row.standard_kind,
                "certificate_type": row.certificate_type, "maturity": row.maturity,
                "valid_from": _day(row.valid_from), "valid_until": _day(row.valid_until)}
            differ = differences((name, value, record.get(name))
                                 for name, value in stored.items())
            if differ:
                report.fail("certificates", number, sequence,
                            "changed after the event log recorded its issue: "
                            + "; ".join(differ))
            for table, have, name in (("certificate_activities", activities, "activities"),
                                      ("certificate_countries", countries, "countries")):
                if have != record.get(name):
                    report.fail(table, number, sequence,
                                f"{name} {', '.join(have) or 'none'} but the event log "
                                f"recorded {', '.join(record.get(name) or []) or 'none'}")
            due, due_entry = record.get("surveillance_due_on"), sequence
            if recorded.surveillance_done is not None and recorded.surveillance_done > sequence:
                due, due_entry = None, recorded.surveillance_done
            if _day(row.surveillance_due_on) != due:
                report.fail("certificates", number, due_entry,
                            f"surveillance due {_day(row.surveillance_due_on)} but the event "
                            f"log recorded {due}")
        report.checked("certificate_activities", len(activities))
        report.checked("certificate_countries", len(countries))
        last, _, change = recorded.changes[-1]
        if row.status != change.get("to"):
            report.fail("certificates", number, last,
                        f"status {row.status} but the event log recorded {change.get('to')}")
    report.checked("certificates", len(numbers))
    if report.chain_ok:
        for number, recorded in log.certificates.items():
            if number not in seen and recorded.issue is not None:
                report.fail("certificates", number, recorded.issue[0],
                            "the event log recorded its issue but there is no such row")
    return numbers


def _same_time(stored: datetime | None, recorded: object) -> bool:
    if stored is None or not isinstance(recorded, str):
        return stored is None and recorded is None
    try:
        return datetime.fromisoformat(recorded) == stored
    except ValueError:
        return False


def _history(db: Session, log: AssuranceLog, numbers: dict[Any, str], report: Report) -> None:
    """Each status-history row against the entry that names it (older entries, which name
    no row, against the rows of their certificate in order)."""
    table = "certificate_events"
    named: dict[str, tuple[str, Recorded]] = {}
    unnamed: dict[str, list[Recorded]] = {}
    for number, recorded in log.certificates.items():
        for change in recorded.changes:
            event = change[2].get("event")
            if event is not None:
                named[str(event)] = (number, change)
            else:
                unnamed.setdefault(number, []).append(change)
    rows = 0
    for row in repo.certificate_event_rows(db):
        rows += 1
        number = numbers.get(row.certificate_id, str(row.certificate_id))
        key = f"{row.id} ({number})"
        found = named.pop(str(row.id), None)
        if found is None and unnamed.get(number):
            found = (number, unnamed[number].pop(0))
        if found is None:
            report.missing(table, key)
            continue
        recorded_number, (sequence, actor, p) = found
        differ = differences([("certificate", number, recorded_number),
                              ("from", row.from_status, p.get("from")),
                              ("to", row.to_status, p.get("to")),
                              ("reason", repr(row.reason), repr(p.get("reason"))),
                              ("actor", row.actor, actor)])
        if "at" in p and not _same_time(row.at, p["at"]):
            differ.append(f"at {row.at.isoformat()} (the event log recorded {p['at']})")
        if differ:
            report.fail(table, key, sequence, "changed after the event log recorded it: "
                        + "; ".join(differ))
    report.checked(table, rows)
    if report.chain_ok:
        for event, (number, (sequence, _, p)) in sorted(named.items(),
                                                        key=lambda item: item[1][1][0]):
            report.fail(table, f"{event} ({number})", sequence,
                        f"the event log recorded this change ({p.get('from')} to "
                        f"{p.get('to')}) but there is no such row")


def _audits(db: Session, log: AssuranceLog, report: Report) -> None:
    """Each audit's status, its submitted report and review, and its decision."""
    table = "audits"
    seen: set[str] = set()
    rows = 0
    for row in repo.audit_rows(db):
        rows += 1
        key = str(row.id)
        seen.add(key)
        recorded = log.audits.get(key)
        if recorded is None or recorded.planned is None or recorded.status is None:
            report.missing(table, key)
            continue
        at, status = recorded.status
        if row.status != status:
            report.fail(table, key, at, f"status {row.status} but the event log recorded "
                        f"{status}")
        if row.status in ("submitted", "decided"):
            if recorded.submitted is None:
                report.fail(table, key, at, "submitted, but the event log recorded no "
                            "submission")
            elif row.proposed_maturity != recorded.submitted[2].get("proposed_maturity"):
                report.fail(table, key, recorded.submitted[0], "changed after the event log "
                            "recorded the report: " + "; ".join(differences([(
                                "proposed maturity", row.proposed_maturity,
                                recorded.submitted[2].get("proposed_maturity"))])))
        if row.reviewed_at is not None and row.status in ("submitted", "decided"):
            review = recorded.reviewed
            if review is None:
                report.fail(table, key, recorded.submitted[0] if recorded.submitted else at,
                            f"reviewed by {row.reviewed_by} on {row.reviewed_at:%Y-%m-%d}, "
                            "but the event log recorded no review of the report")
            elif review[1] != row.reviewed_by:
                report.fail(table, key, review[0], "changed after the event log recorded the "
                            "review: " + "; ".join(differences([(
                                "reviewed by", row.reviewed_by, review[1])])))
        decided = recorded.decided if status == "decided" else None
        p = decided[2] if decided else {}
        pairs: list[tuple[str, object, object]] = [
            ("outcome", row.outcome, p.get("outcome")),
            ("maturity", row.maturity, p.get("maturity")),
            ("decided by", row.decided_by, decided[1] if decided else None)]
        if "note" in p:
            pairs.append(("decision note", repr(row.decision_note), repr(p["note"])))
        differ = differences(pairs)
        if decided is not None and "decided_at" in p and not _same_time(row.decided_at,
                                                                        p["decided_at"]):
            differ.append(f"decided at {row.decided_at} (the event log recorded "
                          f"{p['decided_at']})")
        if differ:
            report.fail(table, key, decided[0] if decided else at,
                        "the decision differs from the event log: " + "; ".join(differ))
    report.checked(table, rows)
    if report.chain_ok:
        for key, recorded in log.audits.items():
            if key not in seen and recorded.planned is not None:
                report.fail(table, key, recorded.planned,
                            "the event log recorded it but there is no such row")
