"""Pure rules of the complaints mechanism: the case's state machine, due dates, appeals,
sanctions, attachment checks, the public-log rule, flood control and case references.

No I/O and no framework here; every number is data (``DueSchedule``) that the settings
can override, never a literal in a service.

The case moves like this (``TRANSITIONS``)::

    received ──> accepted ──> mediation ┐
        │                 ├─> investigation ├─> resolved ──> closed
        │                 └─> panel ────────┘        │
        └─> out_of_scope ──> closed                  └─> appealed ──> panel | closed
                 └─> appealed

- mediation, investigation and panel may switch to one another (a failed mediation goes
  to a panel, an investigation may end in mediation);
- an appeal is heard by a panel, or dismissed (closed);
- ``closed`` is terminal.

Two guards sit on top of the table: a decision (``resolved`` or ``out_of_scope``) can be
appealed only inside the appeal window and only once per case, and it can be closed only
once that window has passed, so closing never takes the complainant's appeal away.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

import stewardship.core.labels as labels

# --- vocabularies -----------------------------------------------------------------------


class ComplaintStatus(StrEnum):
    RECEIVED = "received"
    ACCEPTED = "accepted"
    OUT_OF_SCOPE = "out_of_scope"
    MEDIATION = "mediation"
    INVESTIGATION = "investigation"
    PANEL = "panel"
    RESOLVED = "resolved"
    APPEALED = "appealed"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {s: labels.COMPLAINT_STATUSES[s.value] for s in ComplaintStatus}

HANDLING = frozenset({ComplaintStatus.MEDIATION, ComplaintStatus.INVESTIGATION,
                      ComplaintStatus.PANEL})
"""The three ways an accepted complaint is handled."""

DECISIONS = frozenset({ComplaintStatus.RESOLVED, ComplaintStatus.OUT_OF_SCOPE})
"""Statuses that end a round of handling with a decision the complainant may appeal."""

_S = ComplaintStatus
TRANSITIONS: Mapping[ComplaintStatus, frozenset[ComplaintStatus]] = {
    _S.RECEIVED: frozenset({_S.ACCEPTED, _S.OUT_OF_SCOPE}),
    _S.ACCEPTED: HANDLING,
    _S.MEDIATION: frozenset({_S.INVESTIGATION, _S.PANEL, _S.RESOLVED}),
    _S.INVESTIGATION: frozenset({_S.MEDIATION, _S.PANEL, _S.RESOLVED}),
    _S.PANEL: frozenset({_S.MEDIATION, _S.INVESTIGATION, _S.RESOLVED}),
    _S.RESOLVED: frozenset({_S.CLOSED, _S.APPEALED}),
    _S.OUT_OF_SCOPE: frozenset({_S.CLOSED, _S.APPEALED}),
    _S.APPEALED: frozenset({_S.PANEL, _S.CLOSED}),
    _S.CLOSED: frozenset(),
}

VERBS: Mapping[ComplaintStatus, str] = {
    _S.ACCEPTED: "accepted",
    _S.OUT_OF_SCOPE: "ruled_out_of_scope",
    _S.MEDIATION: "sent_to_mediation",
    _S.INVESTIGATION: "sent_to_investigation",
    _S.PANEL: "sent_to_panel",
    _S.RESOLVED: "resolved",
    _S.APPEALED: "appealed",
    _S.CLOSED: "closed",
}
"""The event log's verb for entering each status (``complaints.complaint.<verb>``)."""


def may_transition(current: ComplaintStatus, target: ComplaintStatus) -> bool:
    return target in TRANSITIONS[current]


def next_statuses(current: ComplaintStatus) -> list[ComplaintStatus]:
    """Where a case may go next, in the order of the enum (for forms)."""
    return [s for s in ComplaintStatus if s in TRANSITIONS[current]]


class SubjectKind(StrEnum):
    """Who a complaint is about."""

    MEMBER = "member"
    AUDIT_FIRM = "audit_firm"
    SECRETARIAT = "secretariat"

    @property
    def label(self) -> str:
        return {"member": "A member", "audit_firm": "An audit firm or auditor",
                "secretariat": "The secretariat"}[self.value]


class Sanction(StrEnum):
    WARNING = "warning"
    CORRECTIVE_ACTION = "corrective_action"
    SUSPEND_MEMBERSHIP = "suspend_membership"
    TERMINATE_MEMBERSHIP = "terminate_membership"
    SUSPEND_CERTIFICATE = "suspend_certificate"
    WITHDRAW_ACCREDITATION = "withdraw_accreditation"
    NONE = "none"

    @property
    def label(self) -> str:
        return labels.SANCTIONS[self.value]


SANCTIONS_FOR: Mapping[SubjectKind, frozenset[Sanction]] = {
    SubjectKind.MEMBER: frozenset({Sanction.WARNING, Sanction.CORRECTIVE_ACTION,
                                   Sanction.SUSPEND_MEMBERSHIP, Sanction.TERMINATE_MEMBERSHIP,
                                   Sanction.SUSPEND_CERTIFICATE, Sanction.NONE}),
    SubjectKind.AUDIT_FIRM: frozenset({Sanction.WARNING, Sanction.CORRECTIVE_ACTION,
                                       Sanction.WITHDRAW_ACCREDITATION, Sanction.NONE}),
    SubjectKind.SECRETARIAT: frozenset({Sanction.WARNING, Sanction.CORRECTIVE_ACTION,
                                        Sanction.NONE}),
}
"""Which sanctions can fall on which kind of subject."""


def sanctions_problem(sanctions: Sequence[Sanction], subject: SubjectKind) -> str | None:
    """Why a resolution's list of sanctions is not acceptable, or None when it is.

    The list must name at least one sanction (``none`` when there is none), ``none`` stands
    alone, no sanction is listed twice, and each must be able to fall on the subject.
    """
    if not sanctions:
        return "list the sanctions, or 'none' when the outcome carries no sanction"
    if len(set(sanctions)) != len(sanctions):
        return "a sanction is listed twice"
    if Sanction.NONE in sanctions and len(sanctions) > 1:
        return "'none' cannot be combined with other sanctions"
    wrong = [s.value for s in sanctions if s not in SANCTIONS_FOR[subject]]
    if wrong:
        return (f"{', '.join(wrong)} cannot fall on a complaint about "
                f"{subject.label.lower()}")
    return None


# --- due dates --------------------------------------------------------------------------


@dataclass(frozen=True)
class DueSchedule:
    """Days allowed for each step, counted from the day the case entered its status.

    Settings override any of them by name (``STEWARDSHIP_COMPLAINT_DUE_DAYS``).
    """

    received: int = 14
    """Acknowledge the complaint and decide: accepted or out of scope."""
    accepted: int = 14
    """Choose the handling: mediation, investigation or a panel."""
    mediation: int = 60
    investigation: int = 90
    panel: int = 90
    close: int = 30
    """Close a resolved or out-of-scope case (it can close once the appeal window ends)."""
    appeal_window: int = 30
    """Days after a decision during which the complainant may appeal."""
    appeal_decision: int = 60
    """Decide an appeal: send it to a panel or dismiss it."""

    def with_overrides(self, overrides: Mapping[str, int]) -> DueSchedule:
        """A copy with some numbers replaced; unknown names and non-positive days refused."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown complaint due-date names: {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(known))}")
        bad = sorted(k for k, v in overrides.items() if not isinstance(v, int) or v < 1)
        if bad:
            raise ValueError(f"complaint due days must be whole numbers of at least 1: "
                             f"{', '.join(bad)}")
        return replace(self, **dict(overrides))

    def days_for(self, status: ComplaintStatus) -> int | None:
        """Days allowed in ``status``; None for ``closed``, where nothing is due."""
        return {
            _S.RECEIVED: self.received,
            _S.ACCEPTED: self.accepted,
            _S.MEDIATION: self.mediation,
            _S.INVESTIGATION: self.investigation,
            _S.PANEL: self.panel,
            _S.RESOLVED: self.close,
            _S.OUT_OF_SCOPE: self.close,
            _S.APPEALED: self.appeal_decision,
            _S.CLOSED: None,
        }[status]


DEFAULT_SCHEDULE = DueSchedule()

DUE_WHAT: Mapping[ComplaintStatus, str] = {
    _S.RECEIVED: "decide whether the complaint is accepted or out of scope",
    _S.ACCEPTED: "choose mediation, an investigation or a panel",
    _S.MEDIATION: "conclude the mediation",
    _S.INVESTIGATION: "conclude the investigation",
    _S.PANEL: "receive the panel's decision",
    _S.RESOLVED: "close the case once the appeal window has passed",
    _S.OUT_OF_SCOPE: "close the case once the appeal window has passed",
    _S.APPEALED: "hear the appeal before a panel or dismiss it",
}
"""What the case owner must do by the due date, per status."""


def next_due(status: ComplaintStatus, entered_on: date,
             schedule: DueSchedule = DEFAULT_SCHEDULE) -> date | None:
    """The date by which the case must leave ``status``, entered on ``entered_on``."""
    days = schedule.days_for(status)
    return None if days is None else entered_on + timedelta(days=days)


def overdue(due_on: date | None, today: date) -> bool:
    """Overdue from the day after the due date; a case with nothing due never is."""
    return due_on is not None and today > due_on


# --- appeals and closing ----------------------------------------------------------------


def appeal_last_day(status: ComplaintStatus, entered_on: date,
                    schedule: DueSchedule = DEFAULT_SCHEDULE) -> date | None:
    """The last day an appeal can be lodged, when the case stands on a decision."""
    if status not in DECISIONS:
        return None
    return entered_on + timedelta(days=schedule.appeal_window - 1)


def appeal_problem(status: ComplaintStatus, entered_on: date, today: date, *,
                   already_appealed: bool,
                   schedule: DueSchedule = DEFAULT_SCHEDULE) -> str | None:
    """Why the case cannot be appealed today, or None when it can.

    Only a decision (resolved, out of scope) can be appealed, once per case, within
    ``appeal_window`` days of it (the day of the decision counts as day 0).
    """
    if status not in DECISIONS:
        return "only a decision (resolved or out of scope) can be appealed"
    if already_appealed:
        return "this case has been appealed once already; an appeal decision is final"
    last = appeal_last_day(status, entered_on, schedule)
    assert last is not None
    if today > last:
        return f"the appeal window closed on {last.isoformat()}"
    return None


def close_problem(status: ComplaintStatus, entered_on: date, today: date, *,
                  already_appealed: bool,
                  schedule: DueSchedule = DEFAULT_SCHEDULE) -> str | None:
    """Why the case cannot be closed today, or None when it can.

    A decision that can still be appealed stays open until its appeal window ends;
    an appealed case may be closed at once (the appeal is dismissed).
    """
    if not may_transition(status, ComplaintStatus.CLOSED):
        return f"a case that is {status.label.lower()} cannot be closed"
    if status in DECISIONS and not already_appealed:
        last = appeal_last_day(status, entered_on, schedule)
        assert last is not None
        if today <= last:
            return (f"the complainant may appeal until {last.isoformat()}; "
                    "the case can be closed after that")
    return None


# --- the public case log ----------------------------------------------------------------


def case_log_public(consent_complainant: bool, consent_respondent: bool) -> bool:
    """The case log is public only when the complainant and the respondent both agreed.

    Even then the public sees the subject, the summary, the status, the dates and the
    notes marked public; never the complainant's identity, contact or attachments.
    """
    return consent_complainant and consent_respondent


# --- flood control ----------------------------------------------------------------------

FLOOD_WINDOW = timedelta(hours=1)


def source_digest(secret: str, source: str) -> str:
    """A keyed digest of where a complaint came from (the client address): enough to count
    filings per source, useless for finding the person."""
    return hmac.new(secret.encode(), f"complaint-source:{source}".encode(),
                    hashlib.sha256).hexdigest()


def flood_limited(recent: Iterable[datetime], now: datetime, per_hour: int) -> bool:
    """Whether a source that filed at ``recent`` times must wait before filing again."""
    in_window = sum(1 for t in recent if now - t < FLOOD_WINDOW)
    return in_window >= per_hour


# --- references -------------------------------------------------------------------------

_REFERENCE = re.compile(r"^C-(\d{4})-(\d{4,6})$")


def format_reference(year: int, number: int) -> str:
    """``C-2026-0001``: sequential per year, four digits at least."""
    if not 1 <= number <= 999_999:
        raise ValueError("a complaint number runs from 1 to 999999")
    return f"C-{year:04d}-{number:04d}"


def parse_reference(text: str) -> tuple[int, int]:
    """Year and number of a reference; ValueError when it is not one."""
    match = _REFERENCE.match((text or "").strip().upper())
    if not match:
        raise ValueError(f"'{text}' is not a complaint reference (like C-2026-0001)")
    return int(match.group(1)), int(match.group(2))


# --- attachments ------------------------------------------------------------------------


@dataclass(frozen=True)
class AttachmentUpload:
    """A file as it arrived: the name the sender gave it and its bytes (possibly cut off
    one byte past the size limit by the edge that read it)."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class AttachmentVerdict:
    """The outcome of checking one file: accepted with its real type and a safe name, or
    refused with a reason."""

    filename: str
    content_type: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


ALLOWED_TYPES: Mapping[str, str] = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "text/plain": ".txt",
}
"""The types a complaint may carry, and the extension a stored file gets for each."""

MAX_ATTACHMENTS = 5
MAX_ATTACHMENT_BYTES = 5_000_000
_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"
_PDF = b"%PDF-"
# Control characters that never occur in a text document (tab, LF, CR and FF may).
_BINARY_CONTROL = frozenset(range(0, 32)) - {9, 10, 12, 13}


def sniff_type(data: bytes) -> str | None:
    """The content type the bytes really have (by their magic numbers), or None.

    Plain text is UTF-8 (with or without a byte-order mark) without binary control
    characters. The file's name plays no part.
    """
    if data.startswith(_PDF):
        return "application/pdf"
    if data.startswith(_PNG):
        return "image/png"
    if data.startswith(_JPEG):
        return "image/jpeg"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(ord(c) in _BINARY_CONTROL for c in text):
        return None
    return "text/plain"


def safe_filename(name: str, content_type: str | None = None) -> str:
    """A name safe to store and to offer for download.

    Path parts are dropped, the name is folded to ASCII letters, digits, dot, dash and
    underscore, and cut to 100 characters. With ``content_type`` the extension becomes
    the one of the real type, so a PNG sent as ``photo.pdf`` is kept as ``photo.png``.
    """
    base = re.split(r"[\\/]", name or "")[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._-") or "attachment"
    if content_type is not None:
        stem = base.rsplit(".", 1)[0] if "." in base else base
        stem = stem.strip("._-") or "attachment"
        return stem[:96] + ALLOWED_TYPES[content_type]
    return base[:100]


def check_attachment(upload: AttachmentUpload, *,
                     max_bytes: int = MAX_ATTACHMENT_BYTES) -> AttachmentVerdict:
    """Accept a file when it is not empty, not larger than ``max_bytes`` and really one of
    ``ALLOWED_TYPES``; otherwise say why not."""
    shown = safe_filename(upload.filename)
    if not upload.data:
        return AttachmentVerdict(shown, reason=f"the file {shown} is empty")
    if len(upload.data) > max_bytes:
        return AttachmentVerdict(
            shown, reason=f"the file {shown} is larger than {max_bytes:,} bytes".replace(",", " "))
    content_type = sniff_type(upload.data)
    if content_type is None:
        return AttachmentVerdict(
            shown, reason=f"the file {shown} is not a PDF, PNG, JPEG or plain-text file")
    return AttachmentVerdict(safe_filename(upload.filename, content_type), content_type)


def attachments_count_problem(count: int, max_files: int = MAX_ATTACHMENTS) -> str | None:
    if count > max_files:
        return f"attach at most {max_files} files (you sent {count})"
    return None
