"""Pure rules of assurance: ratings, the audit plan notice, the certification decision,
maturity, due dates, and the certificate and audit state machines. No I/O here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from stewardship.registry.rules import add_years

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
    """Calendar months; the 31st becomes the last day of a shorter month."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("every month has a 28th")


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
    worst: Rating | None = None
    for rating in ratings:
        if worst is None or SEVERITY[rating] > SEVERITY[worst]:
            worst = rating
    return worst


def scope_ratings(by_facility: Mapping[str, Mapping[str, Rating]]) -> dict[str, Rating]:
    """criterion -> scope rating, from facility -> criterion -> rating."""
    per_criterion: dict[str, list[Rating]] = {}
    for facility_ratings in by_facility.values():
        for criterion, rating in facility_ratings.items():
            per_criterion.setdefault(criterion, []).append(rating)
    out: dict[str, Rating] = {}
    for criterion, ratings in per_criterion.items():
        worst = scope_rating(ratings)
        if worst is not None:
            out[criterion] = worst
    return out


def missing_ratings(applicable: Iterable[str], facilities: Iterable[str],
                    by_facility: Mapping[str, Mapping[str, Rating]]) -> list[tuple[str, str]]:
    """(facility, criterion) pairs still unrated; a report with any is incomplete."""
    return [(f, c) for f in sorted(facilities) for c in sorted(applicable)
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


CERTIFICATE_TRANSITIONS: dict[CertificateStatus, frozenset[CertificateStatus]] = {
    CertificateStatus.ACTIVE: frozenset({CertificateStatus.SUSPENDED,
                                         CertificateStatus.WITHDRAWN,
                                         CertificateStatus.EXPIRED}),
    CertificateStatus.SUSPENDED: frozenset({CertificateStatus.ACTIVE,
                                            CertificateStatus.WITHDRAWN,
                                            CertificateStatus.EXPIRED}),
    CertificateStatus.WITHDRAWN: frozenset(),
    CertificateStatus.EXPIRED: frozenset(),
}


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
