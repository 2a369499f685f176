"""Pure rules of assurance: ratings, the audit plan notice, the certification decision,
maturity, due dates, and the certificate and audit state machines. No I/O here."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from stewardship.registry.rules import add_years
from stewardship.standards.rules import StandardDiff

# --- vocabularies -----------------------------------------------------------------------


class Rating(StrEnum):
    CONFORMANCE = "conformance"
    MINOR = "minor"
    MAJOR = "major"
    NOT_APPLICABLE = "not_applicable"


SEVERITY = {Rating.NOT_APPLICABLE: 0, Rating.CONFORMANCE: 1, Rating.MINOR: 2, Rating.MAJOR: 3}


class AuditType(StrEnum):
    CERTIFICATION = "certification"
    SURVEILLANCE = "surveillance"
    RECERTIFICATION = "recertification"
    SCOPE_CHANGE = "scope_change"


class Outcome(StrEnum):
    CERTIFIED = "certified"
    PROVISIONAL = "provisional"
    REFUSED = "refused"


class Maturity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


# --- policy as data ---------------------------------------------------------------------


@dataclass(frozen=True)
class AssurancePolicy:
    """The numbers of the assurance rules; the secretariat can change them as data."""

    certificate_years: int = 3
    provisional_years: int = 1
    surveillance_months: int = 18
    max_majors_for_provisional: int = 3
    plan_notice_days: int = 42
    plan_notice_activities: frozenset[str] = frozenset(
        {"bauxite_mining", "alumina_refining", "smelting"})
    corrective_plan_months: int = 1
    major_closure_months: int = 12
    minor_closure_months: int = 24


DEFAULT_POLICY = AssurancePolicy()


def add_months(day: date, months: int) -> date:
    """Calendar months; the 31st becomes the last day of a shorter month. A ValueError
    when the result falls outside the years 1-9999 that a date can hold."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# --- the audit plan notice --------------------------------------------------------------


def plan_notice_required(audit_type: AuditType, activities: Iterable[str],
                         policy: AssurancePolicy = DEFAULT_POLICY) -> bool:
    """Initial audits of mining, refining or smelting need the plan sent in advance."""
    return audit_type is AuditType.CERTIFICATION and bool(
        policy.plan_notice_activities & set(activities))


def plan_due_by(start_on: date, policy: AssurancePolicy = DEFAULT_POLICY) -> date:
    return start_on - timedelta(days=policy.plan_notice_days)


def may_start(audit_type: AuditType, activities: Iterable[str], plan_submitted_on: date | None,
              start_on: date, policy: AssurancePolicy = DEFAULT_POLICY) -> str | None:
    """None when the audit may start on ``start_on``; otherwise the reason it may not."""
    if not plan_notice_required(audit_type, activities, policy):
        return None
    due = plan_due_by(start_on, policy)
    if plan_submitted_on is None:
        return (f"the audit plan must reach the secretariat by {due} "
                f"({policy.plan_notice_days // 7} weeks before the start)")
    if plan_submitted_on > due:
        return (f"the audit plan reached the secretariat on {plan_submitted_on}, after {due}; "
                "move the start date")
    return None


# --- ratings across facilities ----------------------------------------------------------


def scope_rating(ratings: Iterable[Rating]) -> Rating | None:
    """The criterion's rating for the whole scope: a non-conformance at one facility
    applies to the whole scope; not applicable only where every facility says so."""
    listed = list(ratings)
    return _worst(listed) if listed else None


def _worst(ratings: Iterable[Rating]) -> Rating:
    """The most severe of one or more ratings."""
    return max(ratings, key=SEVERITY.__getitem__)


def scope_ratings(by_facility: Mapping[str, Mapping[str, Rating]]) -> dict[str, Rating]:
    """criterion -> scope rating, from facility -> criterion -> rating."""
    per_criterion: dict[str, list[Rating]] = {}
    for facility_ratings in by_facility.values():
        for criterion, rating in facility_ratings.items():
            per_criterion.setdefault(criterion, []).append(rating)
    # every list holds at least the one rating that created it
    return {criterion: _worst(ratings) for criterion, ratings in per_criterion.items()}


def missing_ratings(applicable: Iterable[str], facilities: Iterable[str],
                    by_facility: Mapping[str, Mapping[str, Rating]]) -> list[tuple[str, str]]:
    """(facility, criterion) pairs still unrated; a report with any is incomplete."""
    criteria = sorted(applicable, key=_number_key)
    return [(f, c) for f in sorted(facilities) for c in criteria
            if c not in by_facility.get(f, {})]


# --- the decision -----------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    majors: int
    minors: int
    maturity: Maturity
    valid_from: date | None
    valid_until: date | None
    surveillance_due: date | None
    corrective_plan_due: date | None
    major_closure_due: date | None
    withdraw_current: bool


def maturity_for(majors: int, minors: int, proposed: Maturity | None = None) -> Maturity:
    """High only with zero non-conformances; the auditor's proposal is capped by that."""
    ceiling = Maturity.HIGH if majors == minors == 0 else (
        Maturity.MEDIUM if majors == 0 else Maturity.LOW)
    order = [Maturity.LOW, Maturity.MEDIUM, Maturity.HIGH]
    if proposed is None:
        return ceiling
    return order[min(order.index(proposed), order.index(ceiling))]


def decide(ratings: Iterable[Rating], audit_end: date, decided_on: date, *,
           proposed_maturity: Maturity | None = None,
           policy: AssurancePolicy = DEFAULT_POLICY) -> Decision:
    """The certification decision from the scope ratings of every applicable criterion.

    No major: certified for 3 years with surveillance at about 18 months. One to three
    majors: provisional for 1 year. More: refused, and a current certificate is withdrawn.
    """
    values = list(ratings)
    majors = sum(1 for r in values if r is Rating.MAJOR)
    minors = sum(1 for r in values if r is Rating.MINOR)
    maturity = maturity_for(majors, minors, proposed_maturity)
    plan_due = add_months(audit_end, policy.corrective_plan_months) if majors + minors else None
    closure_due = add_months(audit_end, policy.major_closure_months) if majors else None
    if majors == 0:
        return Decision(Outcome.CERTIFIED, majors, minors, maturity, decided_on,
                        add_years(decided_on, policy.certificate_years) - timedelta(days=1),
                        add_months(decided_on, policy.surveillance_months), plan_due,
                        closure_due, False)
    if majors <= policy.max_majors_for_provisional:
        return Decision(Outcome.PROVISIONAL, majors, minors, maturity, decided_on,
                        add_years(decided_on, policy.provisional_years) - timedelta(days=1),
                        None, plan_due, closure_due, False)
    return Decision(Outcome.REFUSED, majors, minors, maturity, None, None, None, plan_due,
                    closure_due, True)


def closure_due(rating: Rating, audit_end: date,
                policy: AssurancePolicy = DEFAULT_POLICY) -> date | None:
    if rating is Rating.MAJOR:
        return add_months(audit_end, policy.major_closure_months)
    if rating is Rating.MINOR:
        return add_months(audit_end, policy.minor_closure_months)
    return None


# --- certificates -----------------------------------------------------------------------


class CertificateStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    """A later certificate for the same scope replaced it."""


CERTIFICATE_TRANSITIONS: dict[CertificateStatus, frozenset[CertificateStatus]] = {
    CertificateStatus.ACTIVE: frozenset({CertificateStatus.SUSPENDED,
                                         CertificateStatus.WITHDRAWN,
                                         CertificateStatus.EXPIRED,
                                         CertificateStatus.SUPERSEDED}),
    CertificateStatus.SUSPENDED: frozenset({CertificateStatus.ACTIVE,
                                            CertificateStatus.WITHDRAWN,
                                            CertificateStatus.EXPIRED,
                                            CertificateStatus.SUPERSEDED}),
    CertificateStatus.WITHDRAWN: frozenset(),
    CertificateStatus.EXPIRED: frozenset(),
    CertificateStatus.SUPERSEDED: frozenset(),
}
LIVE_CERTIFICATE_STATUSES = frozenset({CertificateStatus.ACTIVE, CertificateStatus.SUSPENDED})
"""Still in force or only suspended: what a decision on the same scope replaces or
withdraws."""
EXPIRY_WARNING_DAYS = 90
"""Days before its end from which a certificate in force counts as ending soon: its
member's dashboard and to-do list name it (a suspended one is named whatever its end)."""


def certificate_may_move(current: CertificateStatus, target: CertificateStatus) -> bool:
    return target in CERTIFICATE_TRANSITIONS[current]


def effective_status(status: CertificateStatus, valid_until: date,
                     today: date) -> CertificateStatus:
    """Expiry happens by date: an active or suspended certificate past its end is expired."""
    if status in (CertificateStatus.ACTIVE, CertificateStatus.SUSPENDED) and today > valid_until:
        return CertificateStatus.EXPIRED
    return status


def is_current(status: CertificateStatus, valid_from: date, valid_until: date, on: date) -> bool:
    """Whether a certificate counts on a given day (for CoC eligibility and good standing)."""
    return status is CertificateStatus.ACTIVE and valid_from <= on <= valid_until


# --- audits -----------------------------------------------------------------------------


class AuditStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    DECIDED = "decided"
    CANCELLED = "cancelled"


AUDIT_TRANSITIONS: dict[AuditStatus, frozenset[AuditStatus]] = {
    AuditStatus.PLANNED: frozenset({AuditStatus.IN_PROGRESS, AuditStatus.CANCELLED}),
    AuditStatus.IN_PROGRESS: frozenset({AuditStatus.SUBMITTED, AuditStatus.CANCELLED}),
    AuditStatus.SUBMITTED: frozenset({AuditStatus.DECIDED, AuditStatus.IN_PROGRESS}),
    AuditStatus.DECIDED: frozenset(),
    AuditStatus.CANCELLED: frozenset(),
}


def audit_may_move(current: AuditStatus, target: AuditStatus) -> bool:
    return target in AUDIT_TRANSITIONS[current]


# --- claims -----------------------------------------------------------------------------


class ClaimKind(StrEnum):
    ON_PRODUCT = "on_product"
    OFF_PRODUCT = "off_product"


def claim_refusal(kind: ClaimKind, holds_performance: bool,
                  holds_chain_of_custody: bool) -> str | None:
    """None when the claim may be requested; otherwise why not."""
    if not holds_performance:
        return "a claim needs a current Performance Standard certificate"
    if kind is ClaimKind.ON_PRODUCT and not holds_chain_of_custody:
        return "an on-product claim also needs a current Chain of Custody certificate"
    return None


class ClaimStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"


# --- findings ---------------------------------------------------------------------------


class FindingStatus(StrEnum):
    OPEN = "open"
    PLAN_SUBMITTED = "plan_submitted"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    """The criterion was re-rated conforming before the report was submitted."""


NON_CONFORMANCES = frozenset({Rating.MINOR, Rating.MAJOR})


def finding_severity(ratings: Iterable[Rating]) -> Rating | None:
    """The severity of the scope's finding on a criterion: the worst non-conformance at any
    facility, or None when no facility has one."""
    worst = scope_rating(ratings)
    return worst if worst in NON_CONFORMANCES else None


def certificate_type(outcome: Outcome) -> str:
    return "provisional" if outcome is Outcome.PROVISIONAL else "full"


@dataclass(frozen=True)
class CertificateChanges:
    """What a decision does to the certificates of the audited scope."""

    issue: str | None
    """The type of the certificate it issues (full or provisional), or None."""
    supersede: tuple[str, ...]
    """Live certificates the new one replaces."""
    withdraw: tuple[str, ...]
    keep: tuple[str, ...]
    """Live certificates that stay as they are (a passed surveillance audit)."""


def certificate_changes(outcome: Outcome, audit_type: AuditType,
                        live: Iterable[str]) -> CertificateChanges:
    """A refusal withdraws the scope's live certificates. A surveillance audit without a
    major keeps them (its surveillance is done). Any other positive outcome, including a
    surveillance audit that found one to three majors, issues a new certificate (full or
    provisional) that supersedes them: a scope has one live certificate at a time."""
    numbers = tuple(live)
    if outcome is Outcome.REFUSED:
        return CertificateChanges(None, (), numbers, ())
    if audit_type is AuditType.SURVEILLANCE and outcome is Outcome.CERTIFIED:
        return CertificateChanges(None, (), (), numbers)
    return CertificateChanges(certificate_type(outcome), numbers, (), ())


def describe_changes(changes: CertificateChanges, *, done: bool, issued: str | None = None,
                     valid_until: date | None = None) -> str:
    """The decision's effect on certificates in plain words: what it will do (a preview,
    ``done`` false) or what it did."""
    parts: list[str] = []
    if changes.issue is not None:
        what = f"a {changes.issue} certificate" + (f" {issued}" if issued else "")
        until = f", valid until {valid_until}" if valid_until else ""
        parts.append(f"{'Issued' if done else 'Issues'} {what}{until}")
        if changes.supersede:
            parts[-1] += (f"; it {'superseded' if done else 'supersedes'} "
                          f"{_listed(changes.supersede)}")
    if changes.withdraw:
        parts.append(f"{'Withdrew' if done else 'Withdraws'} {_listed(changes.withdraw)}")
    if changes.keep:
        kept = _listed(changes.keep)
        parts.append(f"{kept[0].upper()}{kept[1:]} "
                     f"{'stays' if len(changes.keep) == 1 else 'stay'} in force as "
                     f"{'it was' if len(changes.keep) == 1 else 'they were'}; the "
                     "surveillance audit is done")
    if not parts:
        parts.append("No certificate of the scope is issued or changed")
    return ". ".join(parts) + "."


def _listed(numbers: Iterable[str]) -> str:
    items = list(numbers)
    word = "certificate" if len(items) == 1 else "certificates"
    return f"{word} {', '.join(items)}"


# --- certificate numbers ----------------------------------------------------------------

NUMBER_PREFIXES = {"performance": "PS", "chain_of_custody": "COC"}


def certificate_prefix(standard_kind: str, year: int) -> str:
    return f"STW-{NUMBER_PREFIXES[standard_kind]}-{year}-"


def next_certificate_number(standard_kind: str, year: int, existing: Iterable[str]) -> str:
    """The next number in the year's series of that standard: ``STW-PS-2026-0001``."""
    prefix = certificate_prefix(standard_kind, year)
    used = [int(n[len(prefix):]) for n in existing
            if n.startswith(prefix) and n[len(prefix):].isdecimal()]
    return f"{prefix}{max(used, default=0) + 1:04d}"


# --- evidence files ---------------------------------------------------------------------

EVIDENCE_TYPES: dict[str, str] = {
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "text/plain": "plain text",
    "text/csv": "CSV",
}
"""The types an evidence file may have, with the name people know them by."""

_TYPE_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "application/x-pdf": "application/pdf",
    "application/csv": "text/csv",
    "text/comma-separated-values": "text/csv",
    # What several browsers on Windows declare for a .csv file.
    "application/vnd.ms-excel": "text/csv",
}
_MAGIC = ((b"%PDF-", "application/pdf"), (b"\x89PNG\r\n\x1a\n", "image/png"),
          (b"\xff\xd8\xff", "image/jpeg"))
# Control characters that never occur in a text document (tab, LF, CR and FF may).
_BINARY_CONTROL = frozenset(range(32)) - {9, 10, 12, 13}
_CSV_DELIMITERS = (",", ";", "\t")


def normalize_content_type(declared: str | None) -> str:
    """``Text/CSV; charset=utf-8`` -> ``text/csv``; known aliases to their usual name."""
    value = (declared or "").split(";", 1)[0].strip().lower()
    return _TYPE_ALIASES.get(value, value)


def _text_of(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if any(ord(c) in _BINARY_CONTROL for c in text):
        return None
    return text


def looks_like_csv(text: str) -> bool:
    """Two or more non-empty lines that all split into the same number (two or more) of
    fields on one delimiter, quotes respected."""
    import csv
    import io

    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return False
    for delimiter in _CSV_DELIMITERS:
        try:
            widths = {len(row) for row in csv.reader(io.StringIO("\n".join(lines)),
                                                     delimiter=delimiter) if row}
        except csv.Error:
            continue
        if len(widths) == 1 and widths.pop() >= 2:
            return True
    return False


def sniff_evidence(data: bytes) -> str | None:
    """What the bytes are by their magic numbers: PDF, PNG, JPEG or UTF-8 text (``text/csv``
    when the text is a table), or None. The file's name and declared type play no part."""
    for magic, content_type in _MAGIC:
        if data.startswith(magic):
            return content_type
    text = _text_of(data)
    if text is None:
        return None
    return "text/csv" if looks_like_csv(text) else "text/plain"


def safe_filename(name: str, limit: int = 200) -> str:
    """The file's own name without any path, control characters or surrounding blanks."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if ord(c) >= 32 and c != "\x7f").strip().strip(".")
    return base[:limit] or "evidence"


@dataclass(frozen=True)
class EvidenceVerdict:
    filename: str
    content_type: str | None
    problem: str | None = None
    too_large: bool = False


def check_evidence(filename: str, declared: str | None, data: bytes,
                   max_bytes: int) -> EvidenceVerdict:
    """Accept an evidence file only when it is not empty, within ``max_bytes`` and really of
    the type it is declared as (a CSV may be declared as plain text, being text)."""
    shown = safe_filename(filename)
    if len(data) > max_bytes:
        return EvidenceVerdict(shown, None, f"{shown} is larger than the limit of "
                               f"{max_bytes:,} bytes".replace(",", " "), too_large=True)
    if not data:
        return EvidenceVerdict(shown, None, f"{shown} is empty")
    wanted = normalize_content_type(declared)
    actual = sniff_evidence(data)
    if actual is None:
        return EvidenceVerdict(shown, None, f"{shown} is not a PDF, PNG, JPEG, UTF-8 text or "
                                            "CSV file")
    if wanted not in EVIDENCE_TYPES:
        return EvidenceVerdict(shown, None, f"{shown} is declared as '{wanted or 'nothing'}'; "
                               "evidence must be PDF, PNG, JPEG, plain text or CSV")
    if wanted == actual or (wanted == "text/plain" and actual == "text/csv"):
        return EvidenceVerdict(shown, wanted)
    return EvidenceVerdict(shown, None, f"{shown} is declared as {EVIDENCE_TYPES[wanted]} "
                                        f"({wanted}) but its content is "
                                        f"{EVIDENCE_TYPES[actual]}")


# --- moving a self-assessment to a newer version ----------------------------------------


@dataclass(frozen=True)
class CarryOver:
    """How a self-assessment's answers move from one version to the next."""

    carried: dict[str, str]
    """Old criterion number -> new number, for criteria whose text, applicability and
    thresholds did not change (renumbered ones included)."""
    redo: dict[str, str]
    """New criterion number -> why its answer must be given again."""
    dropped: list[str]
    """Old numbers of criteria the new version removed."""


def carry_over(old_numbers: Iterable[str], diff: StandardDiff) -> CarryOver:
    """The carry-over plan for the answers on ``old_numbers``, from the diff of the two
    versions (standards.rules.diff_criteria). diff_criteria pairs every old criterion that
    was not removed with a new one, under its own number or, renumbered, under another; a
    pair carries over only when nothing about it changed."""
    redo: dict[str, str] = {c.number: "added" for c in diff.added}
    for moved in diff.renumbered:
        if moved.reworded:
            redo.setdefault(moved.new.number, "reworded")
    for group, reason in ((diff.reworded, "reworded"),
                          (diff.applicability_changed, "applicability changed"),
                          (diff.thresholds_changed, "thresholds changed")):
        for change in group:
            redo.setdefault(change.new.number, reason)
    removed = {c.number for c in diff.removed}
    renumbered = {m.old.number: m.new.number for m in diff.renumbered}
    carried: dict[str, str] = {}
    dropped: list[str] = []
    for number in old_numbers:
        if number in removed:
            dropped.append(number)
            continue
        new_number = renumbered.get(number, number)
        if new_number not in redo:
            carried[number] = new_number
    return CarryOver(carried, redo, sorted(dropped, key=_number_key))


def _number_key(number: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdecimal() else 0 for p in number.split("."))


def issued_to_label(issued_to: str, now: str) -> str:
    """The name a certificate was issued to, with the holder's present name where it was
    renamed since: "Fjord Aluminium (now Fjord Metals)"."""
    return issued_to if not now or now == issued_to else f"{issued_to} (now {now})"
