"""Pure rules of the standards context: the package model, applicability, diffs, the
revision state machine, consultation rounds and vote counting. No I/O here."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

import stewardship.core.labels as labels
from stewardship.registry.rules import Activity, MembershipClass

# --- the package model ------------------------------------------------------------------


class StandardKind(StrEnum):
    PERFORMANCE = "performance"
    CHAIN_OF_CUSTODY = "chain_of_custody"


class PrincipleGroup(StrEnum):
    GOVERNANCE = "governance"
    ENVIRONMENT = "environment"
    SOCIAL = "social"
    CHAIN_OF_CUSTODY = "chain_of_custody"


CERTIFYING = frozenset({MembershipClass.PRODUCTION_TRANSFORMATION.value,
                        MembershipClass.INDUSTRIAL_USERS.value})
ALL_ACTIVITIES = frozenset(a.value for a in Activity)
CRITERION_NUMBER = re.compile(r"^([1-9]\d?)\.([1-9]\d?)$")
"""``<principle>.<criterion>``, both from 1 and without leading zeros (so "3.01" and
"3.1" cannot both exist)."""
URN = re.compile(r"^urn:[a-z0-9][a-z0-9-]{0,31}:[a-z0-9()+,\-.:=@;$_!*'%/?#]+$")


@dataclass(frozen=True)
class Threshold:
    key: str
    value: Decimal
    unit: str
    description: str = ""
    applies_from: date | None = None


@dataclass(frozen=True)
class Part:
    letter: str
    requirement: str


@dataclass(frozen=True)
class Criterion:
    number: str
    title: str
    requirement: str
    guidance: str = ""
    activities: frozenset[str] | None = None
    """None means every activity."""
    member_classes: frozenset[str] = CERTIFYING
    parts: tuple[Part, ...] = ()
    thresholds: tuple[Threshold, ...] = ()

    @property
    def sort_key(self) -> tuple[int, int]:
        major, minor = self.number.split(".")
        return int(major), int(minor)

    @property
    def text_signature(self) -> tuple[str, str, str, tuple[Part, ...]]:
        """The criterion's wording: a change to any of it is a rewording."""
        return self.title, self.requirement, self.guidance, self.parts


@dataclass(frozen=True)
class Principle:
    number: int
    title: str
    group: PrincipleGroup
    intent: str
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True)
class StandardPackage:
    urn: str
    version: int
    kind: StandardKind
    title: str
    provider: str
    copyright: str
    illustrative: bool
    published_on: date
    effective_on: date
    transition_ends_on: date | None
    principles: tuple[Principle, ...]

    def criteria(self) -> list[Criterion]:
        return [c for p in self.principles for c in p.criteria]

    def criterion(self, number: str) -> Criterion | None:
        return next((c for c in self.criteria() if c.number == number), None)

    def threshold(self, key: str) -> Threshold | None:
        for criterion in self.criteria():
            for threshold in criterion.thresholds:
                if threshold.key == key:
                    return threshold
        return None


# --- applicability ----------------------------------------------------------------------


@dataclass(frozen=True)
class Applicability:
    criterion: Criterion
    applicable: bool
    reason: str
    """Why it applies or not, in words a member understands."""


def applicable_criteria(criteria: Sequence[Criterion], activities: Iterable[str],
                        member_class: str,
                        exclusions: Mapping[str, str] | None = None) -> list[Applicability]:
    """Every criterion with whether it applies to a scope of these activities and class.

    ``exclusions`` maps criterion numbers that the secretariat marked not applicable for
    this scope to the recorded reason; they are reported, never silently dropped.
    """
    scope = set(activities)
    unknown = scope - ALL_ACTIVITIES
    if unknown:
        raise ValueError(f"unknown activities: {', '.join(sorted(unknown))}")
    excluded = dict(exclusions or {})
    out: list[Applicability] = []
    for criterion in sorted(criteria, key=lambda c: c.sort_key):
        if member_class not in criterion.member_classes:
            out.append(Applicability(criterion, False,
                                     f"does not apply to {labels.lower(member_class)}"))
        elif criterion.activities is not None and not criterion.activities & scope:
            out.append(Applicability(criterion, False, "none of the scope's activities"))
        elif criterion.number in excluded:
            out.append(Applicability(criterion, False,
                                     f"marked not applicable: {excluded[criterion.number]}"))
        elif criterion.activities is None:
            out.append(Applicability(criterion, True, "applies to every activity"))
        else:
            shared = sorted(labels.lower(a) for a in criterion.activities & scope)
            out.append(Applicability(criterion, True, "applies to " + ", ".join(shared)))
    return out


# --- diff between versions --------------------------------------------------------------


@dataclass(frozen=True)
class Renumbered:
    old: Criterion
    new: Criterion
    reworded: bool


@dataclass(frozen=True)
class Changed:
    old: Criterion
    new: Criterion


@dataclass
class StandardDiff:
    added: list[Criterion] = field(default_factory=list)
    removed: list[Criterion] = field(default_factory=list)
    renumbered: list[Renumbered] = field(default_factory=list)
    reworded: list[Changed] = field(default_factory=list)
    applicability_changed: list[Changed] = field(default_factory=list)
    thresholds_changed: list[Changed] = field(default_factory=list)
    unchanged: int = 0

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.renumbered or self.reworded
                    or self.applicability_changed or self.thresholds_changed)


def _scope(criterion: Criterion) -> tuple[frozenset[str] | None, frozenset[str]]:
    return criterion.activities, criterion.member_classes


def diff_criteria(old: Sequence[Criterion], new: Sequence[Criterion]) -> StandardDiff:
    """What changed from one version's criteria to another's.

    Criteria are paired first by number and title; then, among the rest, by title, or by
    requirement text where the title changed. A pair that keeps its number is the same
    criterion reworded (e.g. retitled); one that changes it was renumbered. Criteria that
    share a key are paired in order. What stays unpaired was added or removed.
    """
    result = StandardDiff()
    old_left = {c.number: c for c in old}
    new_left = {c.number: c for c in new}
    pairs: list[tuple[Criterion, Criterion]] = []
    for number in list(old_left):
        if number in new_left and new_left[number].title == old_left[number].title:
            pairs.append((old_left.pop(number), new_left.pop(number)))
    keys: tuple[Callable[[Criterion], str], ...] = (lambda c: c.title, lambda c: c.requirement)
    for key in keys:
        candidates: dict[str, list[Criterion]] = {}
        for criterion in new_left.values():
            candidates.setdefault(key(criterion), []).append(criterion)
        for number, criterion in list(old_left.items()):
            # A new criterion leaves new_left only here, popped from its one queue of this
            # pass: every criterion still queued is still unpaired.
            queue = candidates.get(key(criterion))
            if not queue:
                continue
            match = queue.pop(0)
            del old_left[number]
            del new_left[match.number]
            if match.number == criterion.number:
                pairs.append((criterion, match))
            else:
                result.renumbered.append(
                    Renumbered(criterion, match, criterion.text_signature != match.text_signature)
                )
    for old_c, new_c in pairs:
        same = True
        if old_c.text_signature != new_c.text_signature:
            result.reworded.append(Changed(old_c, new_c))
            same = False
        if _scope(old_c) != _scope(new_c):
            result.applicability_changed.append(Changed(old_c, new_c))
            same = False
        if old_c.thresholds != new_c.thresholds:
            result.thresholds_changed.append(Changed(old_c, new_c))
            same = False
        result.unchanged += same
    for renumbered in result.renumbered:
        if _scope(renumbered.old) != _scope(renumbered.new):
            result.applicability_changed.append(Changed(renumbered.old, renumbered.new))
        if renumbered.old.thresholds != renumbered.new.thresholds:
            result.thresholds_changed.append(Changed(renumbered.old, renumbered.new))
    result.added = sorted(new_left.values(), key=lambda c: c.sort_key)
    result.removed = sorted(old_left.values(), key=lambda c: c.sort_key)
    result.renumbered.sort(key=lambda r: r.new.sort_key)
    result.reworded.sort(key=lambda c: c.new.sort_key)
    result.applicability_changed.sort(key=lambda c: c.new.sort_key)
    result.thresholds_changed.sort(key=lambda c: c.new.sort_key)
    return result


# --- which version an audit may use -----------------------------------------------------


def usable_for_new_audit(effective_on: date, transition_ends_on_of_successor: date | None,
                         on: date) -> bool:
    """A version is usable from its effective date until its successor's transition ends."""
    if on < effective_on:
        return False
    return transition_ends_on_of_successor is None or on < transition_ends_on_of_successor


# --- revisions: the state machine -------------------------------------------------------


class RevisionStatus(StrEnum):
    DRAFT = "draft"
    CONSULTATION = "consultation"
    VOTE = "vote"
    APPROVED = "approved"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


REVISION_TRANSITIONS: dict[RevisionStatus, frozenset[RevisionStatus]] = {
    RevisionStatus.DRAFT: frozenset({RevisionStatus.CONSULTATION, RevisionStatus.VOTE,
                                     RevisionStatus.WITHDRAWN}),
    RevisionStatus.CONSULTATION: frozenset({RevisionStatus.DRAFT, RevisionStatus.WITHDRAWN}),
    RevisionStatus.VOTE: frozenset({RevisionStatus.APPROVED, RevisionStatus.DRAFT,
                                    RevisionStatus.WITHDRAWN}),
    RevisionStatus.APPROVED: frozenset({RevisionStatus.PUBLISHED, RevisionStatus.WITHDRAWN}),
    RevisionStatus.PUBLISHED: frozenset(),
    RevisionStatus.WITHDRAWN: frozenset(),
}


class TransitionRefused(ValueError):
    pass


def check_transition(current: RevisionStatus, target: RevisionStatus, *,
                     closed_rounds: int = 0, unanswered_comments: int = 0) -> None:
    """Raise TransitionRefused, saying why, unless ``current -> target`` is allowed now."""
    if target not in REVISION_TRANSITIONS[current]:
        raise TransitionRefused(f"a revision in {current.value} cannot move to {target.value}")
    if current is RevisionStatus.CONSULTATION and target is RevisionStatus.DRAFT \
            and unanswered_comments:
        raise TransitionRefused(
            f"{unanswered_comments} comment(s) still need a response before the round closes")
    if target is RevisionStatus.VOTE and closed_rounds < 1:
        raise TransitionRefused("a revision goes to a vote only after at least one "
                                "consultation round")


# --- consultation rounds ----------------------------------------------------------------


def minimum_round_days(round_number: int, first_days: int = 60, later_days: int = 30) -> int:
    return first_days if round_number == 1 else later_days


def check_round_dates(round_number: int, opens_on: date, closes_on: date, *,
                      first_days: int = 60, later_days: int = 30) -> None:
    minimum = minimum_round_days(round_number, first_days, later_days)
    if closes_on < opens_on + timedelta(days=minimum):
        raise ValueError(f"consultation round {round_number} must last at least {minimum} "
                         f"days: close on {opens_on + timedelta(days=minimum)} or later")


def round_accepts_comments(opens_on: date, closes_on: date, closed: bool, today: date) -> bool:
    return not closed and opens_on <= today <= closes_on


def comments_allowed(recent: Sequence[datetime], now: datetime, *, per_hour: int) -> bool:
    """Flood control: at most ``per_hour`` comments from one source in the last hour."""
    return sum(1 for t in recent if now - t < timedelta(hours=1)) < per_hour


# --- votes ------------------------------------------------------------------------------


class Choice(StrEnum):
    YES = "yes"
    NO = "no"
    ABSTAIN = "abstain"


class Chamber(StrEnum):
    INDUSTRY_UPSTREAM = "industry_upstream"
    INDUSTRY_DOWNSTREAM = "industry_downstream"
    CIVIL_SOCIETY = "civil_society"
    INDIGENOUS_PEOPLES = "indigenous_peoples"


INDUSTRY_CHAMBERS = frozenset({Chamber.INDUSTRY_UPSTREAM, Chamber.INDUSTRY_DOWNSTREAM})
"""Chambers whose seats speak for industry members: a seat there is held through a user of
a member organisation. Civil society and Indigenous peoples' seats may be held by a person
in their own right (an independent expert, a representative nominated by the Indigenous
Peoples Advisory Forum), who needs no organisation and no account."""


def check_seat_holder(chamber: Chamber, *, has_account: bool, has_organization: bool) -> None:
    """Raise ValueError, saying why, unless this holder may take a seat in ``chamber``."""
    if chamber in INDUSTRY_CHAMBERS and not (has_account and has_organization):
        raise ValueError(f"a seat in the {labels.lower(chamber)} chamber is held "
                         "through a user of a member organisation; seat a person without an "
                         "organisation in the civil society or Indigenous peoples chamber")


def seat_serves(term_starts_on: date, term_ends_on: date, ended_on: date | None,
                on: date) -> bool:
    """Whether a seat counts on day ``on``: within its term (both days included) and before
    the day it ended early, if it did."""
    return term_starts_on <= on <= term_ends_on and (ended_on is None or on < ended_on)


def last_serving_day(term_ends_on: date, ended_on: date | None) -> date:
    """The last day a seat counts: its term's end, or the day before it ended early."""
    return term_ends_on if ended_on is None else min(term_ends_on, ended_on - timedelta(days=1))


def check_seat_end(term_starts_on: date, term_ends_on: date, ended_on: date) -> None:
    """An early end falls within the term: from its first day (the seat never counted) to
    its last (the seat stops counting on that day)."""
    if not term_starts_on <= ended_on <= term_ends_on:
        raise ValueError(f"the seat can end from {term_starts_on} (its first day) to "
                         f"{term_ends_on} (its term's last day); after that it ends with "
                         "its term")


def vote_is_due(closes_on: date, today: date) -> bool:
    """A vote runs to the end of its closing day (UTC) and is due to close after it."""
    return today > closes_on


def closing_instant(closes_on: date) -> datetime:
    """The moment a vote closes by itself: midnight UTC at the end of its closing day."""
    return datetime.combine(closes_on + timedelta(days=1), time(0), UTC)


def counting_day(closes_on: date, today: date) -> date:
    """The day whose seats a vote's count takes: its closing day, or today when it is
    closed before then."""
    return min(closes_on, today)


@dataclass(frozen=True)
class VoteRule:
    """The passing rule, kept as data: the share of votes cast in favour, and the quorum
    as a share of eligible voters who took part (abstaining counts as taking part)."""

    pass_share: Fraction = Fraction(2, 3)
    quorum_share: Fraction = Fraction(1, 2)


@dataclass(frozen=True)
class ChamberTally:
    yes: int = 0
    no: int = 0
    abstain: int = 0


@dataclass(frozen=True)
class Tally:
    eligible: int
    yes: int
    no: int
    abstain: int
    by_chamber: dict[str, ChamberTally]
    quorum_met: bool
    passed: bool

    @property
    def cast(self) -> int:
        """Votes cast: yes and no. Abstentions are not votes cast."""
        return self.yes + self.no

    @property
    def participated(self) -> int:
        return self.yes + self.no + self.abstain


def tally(ballots: Iterable[tuple[str, Choice | str]], eligible: int,
          rule: VoteRule = VoteRule()) -> Tally:
    """Count one ballot per voter: ``(chamber, choice)`` pairs, the latest per voter already
    chosen by the caller."""
    if eligible < 0:
        raise ValueError("eligible must not be negative")
    counts: dict[str, list[int]] = {c.value: [0, 0, 0] for c in Chamber}
    yes = no = abstain = 0
    for chamber, raw_choice in ballots:
        choice = Choice(raw_choice)  # a stored "yes" is a Choice too; anything else raises
        row = counts.setdefault(chamber, [0, 0, 0])
        if choice is Choice.YES:
            yes += 1
            row[0] += 1
        elif choice is Choice.NO:
            no += 1
            row[1] += 1
        else:
            abstain += 1
            row[2] += 1
    if yes + no + abstain > eligible:
        raise ValueError("more ballots than eligible voters")
    quorum_met = eligible > 0 and Fraction(yes + no + abstain, eligible) >= rule.quorum_share
    cast = yes + no
    passed = quorum_met and cast > 0 and Fraction(yes, cast) >= rule.pass_share
    return Tally(eligible, yes, no, abstain,
                 {k: ChamberTally(*v) for k, v in counts.items()}, quorum_met, passed)


def parse_fraction(text: str) -> Fraction:
    """'2/3' or '0.5' -> Fraction; used for vote rules stored as data."""
    try:
        value = Fraction(text.strip())
    except ZeroDivisionError:
        raise ValueError(f"'{text}' divides by zero") from None
    if not 0 < value <= 1:
        raise ValueError("a share must be above 0 and at most 1")
    return value


# --- numbering --------------------------------------------------------------------------


def criterion_sort_key(number: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdecimal() else ord(p) for p in number.split("."))
