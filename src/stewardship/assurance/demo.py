"""Certification work for the demo world, done through the assurance services.

Everything here is fictional. It builds, with dates in the past so that the decision rules
hold:

1. Fjordal Aluminium: its smelter and casthouse certified against the Performance
   Standard v3 (audited by Coral Sea Audit Partners), with an approved off-product claim,
   and against the Chain of Custody Standard.
2. Sonkhal Aluminium: provisionally certified after an audit with two major and one minor
   non-conformity; the corrective action plans are overdue.
3. Kebbe Bauxite Company: an initial audit of its mine in progress.
4. Rheinfeld Rolling Group: its German rolling mill holds a Performance and a Chain of
   Custody certificate (Thistlebrook Assurance), with an approved on-product claim.
5. Lindtal Remelt: Performance and Chain of Custody certified; its Performance
   certificate is then suspended by the secretariat after a complaint
   (``load_demo_suspension``).
6. Wattlebay Alumina (mine and refinery, AU) and Corvina Latas (can plants, BR): both
   certificates, so that the custody demo's chain runs from mine to can.
7. Two more alumina refiners (MY, BR), smelters with casthouses (IS, NO), remelters (IT,
   GB), rolling mills (Rheinfeld's in the US, one in France) and can plants (Corvina's in
   the UK, one in Spain): both certificates each, so that each link of the custody
   network has three issuers.

The certificates of the value chain (Wattlebay, Fjordal, Lindtal, Rheinfeld, Corvina) are
decided before the start of the previous calendar year, so that they cover the custody
demo's whole year of flows (``stewardship.custody.demo``); their surveillance audits are
held where they have fallen due.

Lindtal's suspension is a separate step, run after the custody demo: passing CoC material
on needs a certificate that is in force when the flow is recorded, and Lindtal's flows all
end before the day of its suspension.

Every step is written on the day it represents, the day its service is told as ``today``
(threads of ``core.timeline``), so the audits of 2024 are in the event log at 2024.

Idempotent: nothing is done when any certificate exists already.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from stewardship.assurance.rules import (
    DEFAULT_POLICY,
    AuditType,
    ClaimKind,
    Maturity,
    Rating,
    add_months,
)
from stewardship.assurance.schemas import (
    AuditCreate,
    CertificateQuery,
    ClaimCreate,
    Note,
    PlanSubmit,
    RatingBatch,
    RatingWrite,
    ReportSubmit,
    ScopeCreate,
    ScopeRead,
    StatusChange,
)
from stewardship.assurance.service import (
    audits,
    certificates,
    claims,
    decisions,
    scopes,
)
from stewardship.core import clock, timeline
from stewardship.core.auth import Actor
from stewardship.core.errors import DomainError
from stewardship.core.pagination import PageParams
from stewardship.registry import repository as registry_repo
from stewardship.registry.rules import Activity
from stewardship.registry.service import accounts, audit_firms, facilities, organizations
from stewardship.standards.service import library

SECRETARIAT = "secretariat@stewardship.example"
ALL = PageParams(page=1, per_page=100)
FIRST_SCOPE_DAYS = 260
"""The first scope of the demo is defined this many days before the custody demo's year."""
LINDTAL_SUSPENDED_DAYS_AGO = 20
"""Lindtal Remelt's Performance certificate is suspended this many days before the demo's
day; its chain-of-custody flows end before then."""
PLAN = ("Opening meeting with management; site tour of every facility in scope; document "
        "review; interviews with workers, contractors and community representatives; "
        "closing meeting.")


class _Skip(Exception):
    """The demo world lacks what a step needs (e.g. a trimmed demo_world.yaml)."""


def _actor(db: Session, email: str) -> Actor:
    user = registry_repo.user_by_email(db, email)
    if user is None:
        raise _Skip(email)
    return accounts.actor_for(user)


def _admin(db: Session, slug: str) -> Actor:
    for user in accounts.list_users(db, _actor(db, SECRETARIAT), ALL, organization=slug).items:
        if user.role == "member_admin":
            return _actor(db, user.email)
    raise _Skip(slug)


def _lead(db: Session, firm: str, name: str) -> uuid.UUID:
    read = audit_firms.get_audit_firm(db, None, firm)
    for auditor in read.auditors:
        if auditor.name == name:
            return auditor.id
    raise _Skip(name)


def _scope(db: Session, admin: Actor, org: str, entity: str, sites: list[str],
           activities: list[str], standard: str, version: int, *,
           audit_on: date) -> timeline.Thread:
    """A scope, defined three months before its first audit starts on `audit_on`."""
    read = organizations.get_organization(db, admin, org)
    entity_id = next((e.id for e in read.entities if e.name == entity), None)
    if entity_id is None:
        raise _Skip(entity)
    by_name = {f.name: f.id for f in facilities.list_facilities(db, admin, ALL,
                                                                organization=org).items}
    if any(s not in by_name for s in sites):
        raise _Skip(org)
    defined_on = audit_on - timedelta(days=90)
    yield timeline.at(defined_on, 14)
    return scopes.create_scope(db, admin, ScopeCreate(
        entity_id=entity_id, facilities=[by_name[s] for s in sites],
        activities=[Activity(a) for a in activities],
        standard=standard, version=version))


def _ratings(scope: ScopeRead, majors: int, minors: int,
             only: int | None = None) -> list[RatingWrite]:
    numbers = [c.number for c in scope.criteria if c.applicable]
    if only is not None:
        numbers = numbers[:only]
    # findings spread over principles: the first criterion of each principle comes first
    by_principle: dict[str, str] = {}
    for n in numbers:
        by_principle.setdefault(n.split(".")[0], n)
    firsts = list(by_principle.values())
    order = firsts[1:] + [n for n in numbers if n not in firsts[1:]]
    bad = {n: Rating.MAJOR for n in order[:majors]}
    bad.update({n: Rating.MINOR for n in order[majors:majors + minors]})
    first = scope.facilities[0].id
    out = []
    for f in scope.facilities:
        for n in numbers:
            rating = bad.get(n, Rating.CONFORMANCE) if f.id == first else Rating.CONFORMANCE
            out.append(RatingWrite(facility=f.id, criterion=n, rating=rating,
                                   reason="" if rating is Rating.CONFORMANCE else
                                   f"Evidence for {n} incomplete at the time of the audit "
                                   "(fictional demo finding)."))
    return out


def _audit(db: Session, admin: Actor, auditor: Actor, scope: ScopeRead, firm: str,
           lead: uuid.UUID, start_on: date, *, audit_type: AuditType = AuditType.CERTIFICATION,
           days: int = 4) -> timeline.Thread:
    yield timeline.at(start_on - timedelta(days=70), 9)
    audit = audits.plan_audit(db, admin, AuditCreate(
        scope_id=scope.id, audit_firm=firm, lead_auditor_id=lead, audit_type=audit_type,
        start_on=start_on, end_on=start_on + timedelta(days=days)),
        today=start_on - timedelta(days=70))
    yield timeline.at(start_on - timedelta(days=60), 9)
    audits.submit_plan(db, admin, audit.id, PlanSubmit(plan=PLAN),
                       today=start_on - timedelta(days=60))
    yield timeline.at(start_on, 8)
    audits.start_audit(db, auditor, audit.id, today=start_on)
    return audit.id


def _certify(db: Session, secretariat: Actor, admin: Actor, auditor: Actor,
             scope: ScopeRead, firm: str, lead: uuid.UUID, start_on: date, *,
             majors: int = 0, minors: int = 0, summary: str) -> timeline.Thread:
    audit_id = yield from _audit(db, admin, auditor, scope, firm, lead, start_on)
    last_day = start_on + timedelta(days=4)
    yield timeline.at(start_on, 17)
    audits.rate(db, auditor, audit_id, RatingBatch(ratings=_ratings(scope, majors, minors)),
                today=start_on)
    yield timeline.at(last_day, 16)
    audits.submit_report(db, auditor, audit_id, ReportSubmit(
        proposed_maturity=Maturity.HIGH if majors + minors == 0 else Maturity.MEDIUM,
        public_summary=summary), today=last_day)
    yield timeline.at(last_day + timedelta(days=7), 10)
    decisions.review_report(db, secretariat, audit_id, Note(note="Report complete."))
    yield timeline.at(start_on + timedelta(days=18), 10)
    decided = decisions.decide_audit(db, secretariat, audit_id,
                                     Note(note="Decided on the reviewed report."),
                                     today=start_on + timedelta(days=18))
    assert decided.certificate is not None
    return decided.certificate.number


def _chain_certificate(db: Session, secretariat: Actor, admin: Actor, auditor: Actor,
                       scope: ScopeRead, firm: str, lead: uuid.UUID, start_on: date,
                       day: date, *, minors: int = 0, summary: str,
                       surveil_before: date | None = None) -> timeline.Thread:
    """A certificate of the value chain, with its surveillance audit held where it fell
    due before `day` (and, where given, before `surveil_before`)."""
    number = yield from _certify(db, secretariat, admin, auditor, scope, firm, lead, start_on,
                      minors=minors, summary=summary)
    due = add_months(start_on + timedelta(days=18), DEFAULT_POLICY.surveillance_months)
    start = due - timedelta(days=60)
    decided_on = start + timedelta(days=18)
    if decided_on <= day - timedelta(days=3) and (surveil_before is None
                                                   or decided_on < surveil_before):
        audit_id = yield from _audit(db, admin, auditor, scope, firm, lead, start,
                          audit_type=AuditType.SURVEILLANCE, days=2)
        yield timeline.at(start, 17)
        audits.rate(db, auditor, audit_id, RatingBatch(ratings=_ratings(scope, 0, 0)),
                    today=start)
        yield timeline.at(start + timedelta(days=2), 16)
        audits.submit_report(db, auditor, audit_id, ReportSubmit(
            proposed_maturity=Maturity.HIGH,
            public_summary="Surveillance audit: the management system and the sites in scope "
                           "still conform (fictional demo audit)."),
            today=start + timedelta(days=2))
        yield timeline.at(start + timedelta(days=9), 10)
        decisions.review_report(db, secretariat, audit_id, Note(note="Report complete."))
        yield timeline.at(decided_on, 10)
        decisions.decide_audit(db, secretariat, audit_id,
                               Note(note="Surveillance confirmed on the reviewed report."),
                               today=decided_on)
    return number


def _has_version(db: Session, urn_slug: str, version: int) -> bool:
    try:
        library.load_version(db, urn_slug, version)
    except DomainError:
        return False
    return True


def load_demo_assurance(db: Session, today: date | None = None) -> bool:
    """Build the demo's certification work; False when it exists already or the world
    lacks what it needs. Lindtal's suspension follows in ``load_demo_suspension``, once
    the custody demo has recorded Lindtal's flows."""
    done: bool = timeline.run_one(demo_assurance(db, today))
    return done


def demo_assurance(db: Session, today: date | None = None) -> timeline.Thread:
    """``load_demo_assurance`` as threads of the demo's timeline (``core.timeline``): one per
    certificate (its scope, audits and decisions) and one per claim, each step on its day."""
    day = today or clock.today()
    yield timeline.at(date(day.year - 1, 1, 1) - timedelta(days=FIRST_SCOPE_DAYS), 7)
    if certificates.list_certificates(db, PageParams(1, 1)).total:
        return False
    if not (_has_version(db, "performance", 3) and _has_version(db, "chain-of-custody", 2)):
        return False
    try:
        threads = _threads(db, day)
    except _Skip:
        return False
    yield from threads  # each starts here, then runs on its own days
    return True


def suspension_day(today: date | None = None) -> date:
    """The day Lindtal Remelt's Performance certificate is suspended in the demo."""
    return (today or clock.today()) - timedelta(days=LINDTAL_SUSPENDED_DAYS_AGO)


def load_demo_suspension(db: Session, today: date | None = None) -> bool:
    """Suspend Lindtal Remelt's active Performance certificate after a complaint (False
    when there is none active to suspend)."""
    done: bool = timeline.run_one(demo_suspension(db, today))
    return done


def demo_suspension(db: Session, today: date | None = None) -> timeline.Thread:
    """``load_demo_suspension`` as a thread of the demo's timeline, on the day it happens."""
    day = today or clock.today()
    yield timeline.at(suspension_day(day), 14)
    try:
        lindtal = registry_repo.organization_by_slug(db, "lindtal-remelt")
        secretariat = _actor(db, SECRETARIAT)
    except _Skip:
        return False
    if lindtal is None:
        return False
    found = certificates.list_certificates(db, ALL, CertificateQuery(
        organization="lindtal-remelt", kind="performance", status="active"), today=day).items
    if not found:
        return False
    certificates.suspend(db, secretariat, found[0].number, StatusChange(
        reason="Suspended while a complaint about scrap sourcing at the Minden plant is "
               "investigated (fictional)."), today=suspension_day(day))
    return True


def _guarded(thread: timeline.Thread) -> timeline.Thread:
    """A thread that stops where the world lacks what it needs (a trimmed world)."""
    try:
        return (yield from thread)
    except _Skip:
        return None


def _threads(db: Session, day: date) -> list[timeline.Thread]:
    secretariat = _actor(db, SECRETARIAT)
    coral, thistle = "coral-sea-audit", "thistlebrook-assurance"
    rohan = _actor(db, "rohan.mehta@coralsea-audit.example")
    siobhan = _actor(db, "siobhan.kelly@coralsea-audit.example")
    harriet = _actor(db, "harriet.lowe@thistlebrook.example")
    rohan_id = _lead(db, coral, "Rohan Mehta")
    siobhan_id = _lead(db, coral, "Siobhan Kelly")
    harriet_id = _lead(db, thistle, "Harriet Lowe")
    # The value chain's certificates are decided before the custody demo's year begins.
    year = date(day.year - 1, 1, 1)
    numbers: dict[str, str] = {}
    threads: list[timeline.Thread] = []

    def before_year(days: int) -> date:
        return year - timedelta(days=days)

    def chain(key: str, admin: Actor, auditor: Actor, firm: str, lead: uuid.UUID,
              org: str, entity: str, sites: list[str], activities: list[str],
              standard: str, version: int, start: date, summary: str, *, minors: int = 0,
              surveil_before: date | None = None) -> None:
        def thread() -> timeline.Thread:
            scope = yield from _scope(db, admin, org, entity, sites, activities, standard,
                                      version, audit_on=start)
            numbers[key] = yield from _chain_certificate(
                db, secretariat, admin, auditor, scope, firm, lead, start, day,
                minors=minors, summary=summary, surveil_before=surveil_before)
        threads.append(_guarded(thread()))

    def claim(key: str, admin: Actor, asked_on: date, approved_on: date, note: str,
              **fields: Any) -> None:
        def thread() -> timeline.Thread:
            yield timeline.at(asked_on, 11)
            if key not in numbers:
                return
            asked = claims.request_claim(db, admin, ClaimCreate(
                certificate=numbers[key], **fields), today=asked_on)
            yield timeline.at(approved_on, 11)
            claims.approve_claim(db, secretariat, asked.id, Note(note=note),
                                 today=approved_on)
        threads.append(_guarded(thread()))

    # 1. Fjordal: certified, high maturity, with an off-product claim; and CoC certified.
    fjordal = _admin(db, "fjordal-aluminium")
    sites, activities = ["Fjordal Smelter", "Fjordal Casthouse"], ["smelting", "casthouse"]
    chain("fjordal-perf", fjordal, rohan, coral, rohan_id, "fjordal-aluminium",
          "Fjordal Aluminium AS", sites, activities, "performance", 3, before_year(140),
          "Hydropower-based smelter and casthouse; strong water and biodiversity "
          "management. No non-conformity found (fictional demo audit).")
    claim("fjordal-perf", fjordal, day - timedelta(days=200), day - timedelta(days=195),
          "Wording as approved.", kind=ClaimKind.OFF_PRODUCT, uses_logo=True,
          wording="Fjordal Aluminium's smelter and casthouse are certified against the "
                  "Performance Standard.")
    chain("fjordal-coc", fjordal, rohan, coral, rohan_id, "fjordal-aluminium",
          "Fjordal Aluminium AS", sites, activities, "chain-of-custody", 2, before_year(110),
          "Mass balance over the smelter and casthouse, and CoC documents to customers, "
          "verified (fictional demo audit).")

    # 2. Sonkhal: provisional (two majors, one minor).
    sonkhal = _admin(db, "sonkhal-aluminium")

    def sonkhal_thread() -> timeline.Thread:
        start = day - timedelta(days=100)
        scope = yield from _scope(db, sonkhal, "sonkhal-aluminium", "Sonkhal Aluminium Limited",
                                  ["Sonkhal Smelter", "Sonkhal Casthouse and Rod Mill"],
                                  ["smelting", "casthouse"], "performance", 3, audit_on=start)
        yield from _certify(db, secretariat, sonkhal, siobhan, scope, coral, siobhan_id, start,
                            majors=2, minors=1,
                            summary="Captive coal power; greenhouse-gas pathway and waste "
                                    "management need work. Two major and one minor "
                                    "non-conformity (fictional).")
    threads.append(_guarded(sonkhal_thread()))

    # 3. Kebbe: an initial audit in progress, partly rated (the demo auditor rates the rest).
    kebbe = _admin(db, "kebbe-bauxite")

    def kebbe_thread() -> timeline.Thread:
        start = day - timedelta(days=2)
        scope = yield from _scope(db, kebbe, "kebbe-bauxite", "Kebbe Bauxite Company SA",
                                  ["Kebbe Plateau Mine"], ["bauxite_mining"], "performance", 3,
                                  audit_on=start)
        audit_id = yield from _audit(db, kebbe, rohan, scope, coral, rohan_id, start, days=5)
        yield timeline.at(day - timedelta(days=1), 15)
        audits.rate(db, rohan, audit_id, RatingBatch(ratings=_ratings(scope, 0, 1, only=6)),
                    today=day - timedelta(days=1))
    threads.append(_guarded(kebbe_thread()))

    # 4. Rheinfeld: Performance and Chain of Custody, with an on-product claim.
    rheinfeld = _admin(db, "rheinfeld-rolling")
    mill = ["Rheinfeld Rolling Mill"]
    chain("rheinfeld-perf", rheinfeld, harriet, thistle, harriet_id, "rheinfeld-rolling",
          "Rheinfeld Walzwerk GmbH", mill, ["semi_fabrication"], "performance", 3,
          before_year(130), "Rolling mill with good occupational health and safety records; "
          "one minor non-conformity on stakeholder engagement (fictional).", minors=1)
    chain("rheinfeld-coc", rheinfeld, harriet, thistle, harriet_id, "rheinfeld-rolling",
          "Rheinfeld Walzwerk GmbH", mill, ["semi_fabrication"], "chain-of-custody", 2,
          before_year(100), "Mass-balance system and CoC documents verified (fictional demo "
          "audit).")
    claim("rheinfeld-coc", rheinfeld, day - timedelta(days=120), day - timedelta(days=110),
          "Percentage checked.", kind=ClaimKind.ON_PRODUCT, uses_logo=True,
          percentage=Decimal(60), wording="Made with 60 % certified aluminium from a "
                                          "certified supply chain.")

    # 5. Lindtal: certified (its Performance certificate is suspended later, after a
    #    complaint: demo_suspension).
    lindtal = _admin(db, "lindtal-remelt")
    sites = ["Lindtal Remelt Plant Minden", "Lindtal Remelt Plant Bitterfeld"]
    suspended = suspension_day(day)
    chain("lindtal-perf", lindtal, harriet, thistle, harriet_id, "lindtal-remelt",
          "Lindtal Remelt GmbH", sites, ["remelting_refining"], "performance", 3,
          before_year(160), "Two remelt plants; scrap due diligence in place (fictional demo "
          "audit).", surveil_before=suspended)
    chain("lindtal-coc", lindtal, harriet, thistle, harriet_id, "lindtal-remelt",
          "Lindtal Remelt GmbH", sites, ["remelting_refining"], "chain-of-custody", 2,
          before_year(115), "Scrap intake records, due-diligence files and the mass balance "
          "of both plants verified (fictional demo audit).", surveil_before=suspended)

    # 6. Wattlebay (mine and refinery) and Corvina (can plants): both certificates each.
    wattlebay = _admin(db, "wattlebay-alumina")
    sites = ["Wattlebay Darling Range Mine", "Wattlebay Kemerton Refinery"]
    activities = ["bauxite_mining", "alumina_refining"]
    chain("wattlebay-perf", wattlebay, rohan, coral, rohan_id, "wattlebay-alumina",
          "Wattlebay Alumina Pty Ltd", sites, activities, "performance", 3, before_year(150),
          "Bauxite mine with progressive rehabilitation and an alumina refinery with residue "
          "management in place; no non-conformity (fictional demo audit).")
    chain("wattlebay-coc", wattlebay, siobhan, coral, siobhan_id, "wattlebay-alumina",
          "Wattlebay Alumina Pty Ltd", sites, activities, "chain-of-custody", 2,
          before_year(120), "Mass balance from mine to refinery and CoC documents to "
          "customers verified (fictional demo audit).")
    corvina = _admin(db, "corvina-latas")
    sites = ["Corvina Can Plant Jacareí", "Corvina Can Plant Suape"]
    chain("corvina-perf", corvina, harriet, thistle, harriet_id, "corvina-latas",
          "Corvina Latas S.A.", sites, ["material_conversion"], "performance", 3,
          before_year(125), "Two can plants with good energy and water management; no "
          "non-conformity (fictional demo audit).")
    chain("corvina-coc", corvina, harriet, thistle, harriet_id, "corvina-latas",
          "Corvina Latas S.A.", sites, ["material_conversion"], "chain-of-custody", 2,
          before_year(105), "Receipt of CoC documents and the plants' mass balance verified "
          "(fictional demo audit).")

    # 7. The rest of the chain (so that the public network shows its links): two smelters
    #    with casthouses, Rheinfeld's US mill, a French mill, Corvina's UK plant and a can
    #    maker in Spain, each with both certificates.
    for (org, entity, sites, activities, firm_lead, perf_days, coc_days, summary) in MORE:
        admin = _admin(db, org)
        auditor, firm, lead = {"coral": (rohan, coral, rohan_id),
                               "siobhan": (siobhan, coral, siobhan_id),
                               "thistle": (harriet, thistle, harriet_id)}[firm_lead]
        for standard, version, days in (("performance", 3, perf_days),
                                        ("chain-of-custody", 2, coc_days)):
            chain(f"{entity}-{standard}", admin, auditor, firm, lead, org, entity, sites,
                  activities, standard, version, before_year(days),
                  f"{summary} (fictional demo audit).")
    return threads


MORE = (
    ("eldhraun-aluminium", "Eldhraun Aluminium ehf.",
     ["Eldhraun Smelter Þorlákshöfn", "Eldhraun Casthouse Þorlákshöfn"],
     ["smelting", "casthouse"], "coral", 145, 118,
     "Smelter and casthouse on renewable power; potline emissions and the mass balance "
     "of the casthouse in order"),
    ("sandvaer-metall", "Sandvær Metall AS",
     ["Sandvær Smelter Kristiansund", "Sandvær Casthouse Kristiansund"],
     ["smelting", "casthouse"], "siobhan", 135, 108,
     "Hydropower smelter and casthouse; fjord water monitoring and CoC records verified"),
    ("rheinfeld-rolling", "Rheinfeld Rolling Inc.", ["Rheinfeld Ohio Valley Mill"],
     ["semi_fabrication"], "thistle", 126, 99,
     "Rolling mill with a sound mass-balance system and CoC documents to its customers"),
    ("laminoirs-sevre", "Laminoirs de la Sèvre SAS", ["Sèvre Rolling Mill Niort"],
     ["semi_fabrication"], "thistle", 128, 102,
     "Rolling mill; slab intake and coil dispatch records match the accounts"),
    ("corvina-latas", "Corvina Packaging UK Limited", ["Corvina Can Plant Telford"],
     ["material_conversion"], "thistle", 121, 97,
     "Can plant; receipt of CoC documents and the conversion yield verified"),
    ("envases-tajo", "Envases Tajo S.L.", ["Tajo Can Plant Illescas"],
     ["material_conversion"], "thistle", 122, 96,
     "Can plant with good water management; CoC receipts and the mass balance verified"),
    ("gebeng-alumina", "Gebeng Alumina Sdn. Bhd.",
     ["Gebeng Bukit Goh Mine", "Gebeng Alumina Refinery"],
     ["bauxite_mining", "alumina_refining"], "coral", 148, 119,
     "Mine rehabilitation, residue storage and the mass balance from mine to refinery"),
    ("bacabeira-alumina", "Bacabeira Alumina Ltda.",
     ["Bacabeira Serra Mine", "Bacabeira Alumina Refinery"],
     ["bauxite_mining", "alumina_refining"], "siobhan", 138, 112,
     "Community engagement, water management and CoC records from mine to refinery"),
    ("rifusione-adda", "Rifusione Adda S.r.l.", ["Adda Remelt Plant Calolziocorte"],
     ["remelting_refining"], "thistle", 132, 104,
     "Scrap due diligence per supplier and the remelt plant's mass balance"),
    ("severn-recycled-metals", "Severn Recycled Metals Ltd", ["Severn Remelt Plant Avonmouth"],
     ["remelting_refining"], "thistle", 127, 101,
     "Post-consumer scrap intake records and the mass balance of the plant"),
)
"""(organisation, entity, sites, activities, firm and lead, days before the custody year
of the Performance and of the CoC audit, summary)"""
