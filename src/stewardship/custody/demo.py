"""A year of chain-of-custody flows for the demo world, through the custody services.

Everything here is fictional. Every flow is recorded with its own date (``today=``), in
date order, as if the members kept their accounts day by day. Roughly, per month:

- Wattlebay Alumina (AU) mines about 14,000 t of ASI bauxite, refines it at 0.45 kg/kg and
  ships some 6,000 t of ASI alumina to Fjordal.
- Fjordal Aluminium (NO) smelts that alumina at 0.52 kg/kg, adds about 1,300 t of ASI
  aluminium from its own certified smelter, casts it all at 0.99 kg/kg and ships some
  4,000 t of rolling slab to Rheinfeld.
- Lindtal Remelt (DE) takes in about 1,500 t of post-consumer scrap at Minden and 850 t of
  pre-consumer scrap at Bitterfeld, remelts it at 0.93 kg/kg and ships some 2,100 t of
  recycled slab to Rheinfeld, until just before its Performance certificate is suspended.
- Rheinfeld Walzwerk (DE) also takes in about 5,000 t of non-CoC metal, rolls the CoC
  metal at 0.97 kg/kg and ships can-body stock to Corvina Latas (BR) and body sheet to
  Hoshikawa Motor (JP), whose documents are mostly confirmed within a few days; Corvina
  converts its can stock at 0.96 kg/kg.
- Beside that chain, so that each link of the network has three issuers: Gebeng (MY) and
  Bacabeira (BR) mine and refine bauxite for the smelters Eldhraun (IS) and Sandvær (NO),
  which also make some 2,000-2,600 t of ASI aluminium a month each and cast it for
  Laminoirs de la Sèvre (FR) and Rheinfeld's US mill; the remelters Rifusione Adda (IT)
  and Severn (GB) ship them some 500 t of recycled slab a month; the mills roll body sheet
  for Hoshikawa and can stock for Envases Tajo (ES) and Corvina's UK plant, whose cans go
  to Duinbron.

The previous calendar year runs in full and its period is closed early in January (the
balances carry over); the current year runs up to three days before today, so balances are
open and the latest documents are in transit. Three documents stay unconfirmed for over 30
days, one is rejected and one cancelled (both re-issued).

Each step is written on its own day, at an hour of its kind (inputs first, then receipts,
transformations, shipments): a thread of the demo's timeline (``core.timeline``).

Idempotent: nothing is done when any CoC document exists.
"""

from __future__ import annotations

import heapq
import itertools
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from stewardship.assurance.demo import suspension_day
from stewardship.assurance.service import certificates
from stewardship.core import clock, timeline
from stewardship.core.auth import Actor, system_actor
from stewardship.core.errors import DomainError
from stewardship.core.pagination import PageParams
from stewardship.custody import repository as repo
from stewardship.custody import rules
from stewardship.custody.rules import CocMaterial, ScrapKind, Transformation
from stewardship.custody.schemas import (
    DocumentCreate,
    NonCocInputCreate,
    PeriodClose,
    ProductionCreate,
    Receipt,
    Refusal,
    ScrapIntakeCreate,
    TransformationCreate,
)
from stewardship.custody.service import documents, inputs, periods
from stewardship.registry import repository as registry_repo
from stewardship.registry.service import accounts

LOADER = system_actor("demo-loader")
ALL = PageParams(page=1, per_page=100)
LAG_DAYS = 3
"""Flows stop this many days before today."""
CLOSE_DAY = 6
"""The previous year's period is closed on this day of January (or today, if earlier)."""

ALUMINA, METAL = CocMaterial.ASI_ALUMINA, CocMaterial.ASI_ALUMINIUM
BAUXITE, SCRAP = CocMaterial.ASI_BAUXITE, CocMaterial.ELIGIBLE_SCRAP

# Within one day: what comes in, then transformations, shipments, refusals, the close.
IN, RECEIVE, TRANSFORM, SHIP, REFUSE, CLOSE = range(6)
# Days of the month of the shipments some of which are left unconfirmed.
ALUMINA_DAY, SLAB_DAY, BODY_SHEET_DAY = 9, 20, 27


class _Skip(Exception):
    """The demo world lacks what the flows need (a trimmed world, or no certificates)."""


@dataclass
class _Party:
    slug: str
    actor: Actor
    entity_id: uuid.UUID
    facilities: dict[str, str]
    """Facility name -> public id."""
    months: int = 12
    joined: date | None = None
    pending: dict[str, int] = field(default_factory=dict)
    """Kilograms waiting for the party's next step (cast, roll, convert)."""

    def facility(self, name: str) -> str:
        return self.facilities[name]

    def add(self, key: str, kilograms: int) -> None:
        self.pending[key] = self.pending.get(key, 0) + kilograms

    def take(self, key: str) -> int:
        return self.pending.pop(key, 0)


def _party(db: Session, slug: str, entity: str) -> _Party:
    org = registry_repo.organization_by_slug(db, slug)
    if org is None:
        raise _Skip(slug)
    users = accounts.list_users(db, LOADER, ALL, organization=slug).items
    user = next((u for u in users if u.role == "member_user"),
                next((u for u in users if u.role == "member_admin"), None))
    found = next((e for e in repo.entities_of(db, org.id) if e.name == entity), None)
    if user is None or found is None:
        raise _Skip(slug)
    row = registry_repo.user_by_email(db, user.email)
    assert row is not None
    actor = accounts.actor_for(row)
    return _Party(slug=slug, actor=actor, entity_id=found.id,
                  facilities={f.name: f.public_id for f in
                              repo.facilities_of_entity(db, org.id, found.id)},
                  months=periods.get_settings(db, actor, found.id).period_months,
                  joined=org.joined_on)


class _Parties(dict[str, _Party]):
    """The parties of the flows, each found in the register when first needed: a customer
    that applies for membership during the demo year is not there when the year begins."""

    def __init__(self, db: Session) -> None:
        super().__init__()
        self.db = db

    def resolve(self, who: str) -> _Party:
        slug, entity = PARTIES[who]
        return _party(self.db, slug, entity)

    def __missing__(self, who: str) -> _Party:
        party = self[who] = self.resolve(who)
        return party

    def known(self, who: str) -> bool:
        try:
            self[who]
        except (_Skip, DomainError):
            return False
        return True


def _tonnes(kilograms: int) -> int:
    """Shipments go in whole tonnes."""
    return kilograms // 1000 * 1000


class _Year:
    """The demo's flows as a queue of dated steps, run in date order."""

    def __init__(self, db: Session, today: date, parties: _Parties) -> None:
        self.db, self.today = db, today
        self.last = today - timedelta(days=LAG_DAYS)
        self.start = date(today.year - 1, 1, 1)
        self.lindtal_stop = suspension_day(today)
        self.p = parties
        self._queue: list[tuple[date, int, int, Callable[[date], None]]] = []
        self._seq = itertools.count()
        # Documents left unconfirmed: (issuer, recipient, shipment date), each the latest
        # of its kind shipped more than 30 days before today.
        self.unmatched = {
            ("wattlebay", "fjordal", self._latest(ALUMINA_DAY, today - timedelta(days=40))),
            ("fjordal", "rheinfeld", self._latest(SLAB_DAY, today - timedelta(days=50))),
            ("rheinfeld", "hoshikawa",
             self._latest(BODY_SHEET_DAY, today - timedelta(days=31))),
        }

    def _latest(self, day_of_month: int, not_after: date) -> date:
        month = date(not_after.year, not_after.month, 1)
        while month.replace(day=day_of_month) > not_after:
            month = (month - timedelta(days=1)).replace(day=1)
        return month.replace(day=day_of_month)

    # --- the queue ---------------------------------------------------------------------

    def at(self, day: date, order: int, step: Callable[[date], None], *,
           party: str | None = None) -> None:
        if day > self.last and order != CLOSE:
            return
        if party == "lindtal" and day >= self.lindtal_stop:
            return
        heapq.heappush(self._queue, (day, order, next(self._seq), step))

    def run(self) -> timeline.Thread:
        while self._queue:
            day, order, _seq, step = heapq.heappop(self._queue)
            yield timeline.at(day, 8 + order)  # each step written on its own day
            step(day)

    # --- reading and moving balances ---------------------------------------------------

    def balance(self, who: str, material: CocMaterial, day: date) -> int:
        party = self.p[who]
        period = rules.period_for(day, party.months)
        row = repo.account(self.db, party.entity_id, material.value, period.start)
        return row.balance_kg if row is not None and row.status == "open" else 0

    def produce(self, who: str, facility: str, material: CocMaterial, kilograms: int,
                note: str, *, then: str | None = None) -> Callable[[date], None]:
        def step(day: date) -> None:
            party = self.p[who]
            inputs.record_production(self.db, party.actor, ProductionCreate(
                entity_id=party.entity_id, facility_id=party.facility(facility),
                material=material, kilograms=kilograms, occurred_on=day, note=note),
                today=day)
            if then:
                party.add(then, kilograms)
        return step

    def scrap(self, who: str, facility: str, kind: ScrapKind, kilograms: int,
              note: str) -> Callable[[date], None]:
        def step(day: date) -> None:
            party = self.p[who]
            inputs.record_scrap_intake(self.db, party.actor, ScrapIntakeCreate(
                entity_id=party.entity_id, facility_id=party.facility(facility),
                scrap_kind=kind, kilograms=kilograms, occurred_on=day, note=note),
                today=day)
            party.add(facility, kilograms)
        return step

    def non_coc(self, who: str, kilograms: int, note: str) -> Callable[[date], None]:
        def step(day: date) -> None:
            party = self.p[who]
            inputs.record_non_coc_input(self.db, party.actor, NonCocInputCreate(
                entity_id=party.entity_id, material=METAL, kilograms=kilograms,
                occurred_on=day, note=note), today=day)
        return step

    def transform(self, who: str, facility: str, transformation: Transformation,
                  source: CocMaterial, declared: str, *, pending: str | None = None,
                  then: str | None = None) -> Callable[[date], None]:
        """Transform what is pending under `pending` (or the whole balance), never more
        than the balance; the output waits under `then` for the next step."""
        def step(day: date) -> None:
            party = self.p[who]
            available = self.balance(who, source, day)
            wanted = party.take(pending) if pending else available
            kilograms = min(wanted, available)
            if pending and wanted > kilograms:
                party.add(pending, wanted - kilograms)
            if kilograms <= 0:
                return
            done = inputs.record_transformation(self.db, party.actor, TransformationCreate(
                entity_id=party.entity_id, facility_id=party.facility(facility),
                transformation=transformation, source_material=source, input_kg=kilograms,
                declared_yield=Decimal(declared), occurred_on=day, note=""), today=day)
            if then:
                party.add(then, done.kilograms)
        return step

    def ship(self, issuer: str, recipient: str, material: CocMaterial, share: str, *,
             description: str, coc_percent: int = 100, after: int = 4, most: int | None = None,
             recycled: bool = False, refusal: str | None = None) -> Callable[[date], None]:
        """Ship `share` of the balance (whole tonnes, at `most` kg) as CoC material making up
        `coc_percent` of the shipment; the recipient confirms `after` days later, or
        never (the unmatched), or rejects it (`refusal` "reject") or the issuer cancels
        it ("cancel") and re-issues it a day later."""
        def step(day: date) -> None:
            if not self.p.known(recipient):  # not in the register yet
                return
            joined = self.p[recipient].joined
            if joined is not None and day < joined:  # not a member yet
                return
            coc = _tonnes(int(self.balance(issuer, material, day) * Decimal(share)))
            if most is not None:
                coc = min(coc, most)
            if coc <= 0:
                return
            quantity = -(-coc * 100 // coc_percent // 1000) * 1000
            number = self._issue(issuer, recipient, material, day, coc, quantity,
                                 description, recycled)
            if refusal is not None:
                self._refuse(issuer, recipient, material, number, day, coc, quantity,
                             description, refusal, after)
            elif (issuer, recipient, day) not in self.unmatched:
                self.at(day + timedelta(days=after), RECEIVE,
                        self.receive(recipient, number, material))
        return step

    def _issue(self, issuer: str, recipient: str, material: CocMaterial, day: date,
               coc: int, quantity: int, description: str, recycled: bool) -> str:
        party = self.p[issuer]
        doc = documents.issue_document(self.db, party.actor, DocumentCreate(
            issuer_entity_id=party.entity_id, recipient_entity_id=self.p[recipient].entity_id,
            material=material, quantity_kg=quantity, coc_quantity_kg=coc,
            shipment_date=day, description=description,
            recycled_percent=Decimal(100) if recycled else None,
            recycled_method="Eligible post- and pre-consumer scrap input at the remelter, "
                            "by mass balance over the accounting period" if recycled
            else None), today=day)
        return doc.number

    def _refuse(self, issuer: str, recipient: str, material: CocMaterial, number: str,
                day: date, coc: int, quantity: int, description: str, how: str,
                after: int) -> None:
        def refuse(when: date) -> None:
            if how == "reject":
                documents.reject_document(self.db, self.p[recipient].actor, number, Refusal(
                    reason="The coils delivered are AA5182 inner-panel sheet; the document "
                           "names AA6016 outer-panel sheet. Please re-issue."), today=when)
            else:
                documents.cancel_document(self.db, self.p[issuer].actor, number, Refusal(
                    reason="Issued against the wrong sales order; replaced by a corrected "
                           "document."), today=when)

        def reissue(when: date) -> None:
            again = self._issue(issuer, recipient, material, when, coc, quantity,
                                description, False)
            self.at(when + timedelta(days=after), RECEIVE,
                    self.receive(recipient, again, material))

        first = day + timedelta(days=after if how == "reject" else 1)
        self.at(first, REFUSE, refuse)
        self.at(first + timedelta(days=1), SHIP, reissue)

    def receive(self, who: str, number: str, material: CocMaterial) -> Callable[[date], None]:
        def step(day: date) -> None:
            party = self.p[who]
            doc = documents.receive_document(self.db, party.actor, number,
                                             Receipt(received_on=day), today=day)
            party.add("received", doc.coc_quantity_kg)
        return step

    def close(self, who: str, start: date) -> Callable[[date], None]:
        def step(day: date) -> None:
            if not self.p.known(who):
                return
            party = self.p[who]
            rows = repo.accounts_of_period(self.db, party.entity_id, start)
            if rows and any(r.status == "open" for r in rows):
                periods.close_period(self.db, party.actor, PeriodClose(
                    entity_id=party.entity_id, period_start=start), today=day)
        return step

    # --- the plan ----------------------------------------------------------------------

    def plan(self) -> None:
        month = self.start
        while month <= self.last:
            self._month(month)
            month = (month + timedelta(days=32)).replace(day=1)
        close_on = min(date(self.today.year, 1, CLOSE_DAY), self.today)
        for who in PARTIES:
            self.at(close_on, CLOSE, self.close(who, self.start))

    def _month(self, first: date) -> None:
        rng = random.Random(f"stewardship-demo-{first:%Y-%m}")

        def d(n: int) -> date:
            return first.replace(day=n)

        def kg(low_t: int, high_t: int) -> int:
            return rng.randint(low_t * 100, high_t * 100) * 10

        label = f"{first:%B %Y}"
        previous_year = first.year == self.start.year
        # Wattlebay: mine, refine, ship alumina to Fjordal.
        self.at(d(2), IN, self.produce(
            "wattlebay", "Wattlebay Darling Range Mine", BAUXITE, kg(13_500, 15_000),
            f"Ore hauled to the Kemerton refinery, {label}"))
        self.at(d(5), TRANSFORM, self.transform(
            "wattlebay", "Wattlebay Kemerton Refinery", Transformation.REFINING, BAUXITE,
            "0.45"))
        self.at(d(ALUMINA_DAY), SHIP, self.ship(
            "wattlebay", "fjordal", ALUMINA, "0.97", after=4,
            description="Smelter-grade alumina, bulk parcel ex Bunbury"))
        # Fjordal: own smelter metal, smelt the alumina, cast, ship slab to Rheinfeld.
        self.at(d(3), IN, self.produce(
            "fjordal", "Fjordal Smelter", METAL, kg(1_200, 1_400),
            f"Potline metal from certified production, {label}", then="made"))
        self.at(d(15), TRANSFORM, self.transform(
            "fjordal", "Fjordal Smelter", Transformation.SMELTING, ALUMINA, "0.52",
            then="made"))
        self.at(d(17), TRANSFORM, self.transform(
            "fjordal", "Fjordal Casthouse", Transformation.CASTING, METAL, "0.99",
            pending="made"))
        cancel = previous_year and first.month == 9
        self.at(d(SLAB_DAY), SHIP, self.ship(
            "fjordal", "rheinfeld", METAL, "0.9", after=3,
            refusal="cancel" if cancel else None,
            description="Rolling slab AA3104 and AA6016, casthouse lots of the month"))
        # Lindtal: eligible scrap in, remelt at each plant, recycled slab to Rheinfeld.
        minden, bitterfeld = "Lindtal Remelt Plant Minden", "Lindtal Remelt Plant Bitterfeld"
        self.at(d(4), IN, self.scrap(
            "lindtal", minden, ScrapKind.POST_CONSUMER, kg(1_400, 1_600),
            "Used beverage cans and end-of-life sheet; due-diligence file per supplier"),
            party="lindtal")
        self.at(d(7), IN, self.scrap(
            "lindtal", bitterfeld, ScrapKind.PRE_CONSUMER, kg(800, 900),
            "Process scrap returned by can makers and stampers; due-diligence file per "
            "supplier"), party="lindtal")
        for plant in (minden, bitterfeld):
            self.at(d(12), TRANSFORM, self.transform(
                "lindtal", plant, Transformation.REMELTING, SCRAP, "0.93", pending=plant),
                party="lindtal")
        self.at(d(16), SHIP, self.ship(
            "lindtal", "rheinfeld", METAL, "0.96", after=3, recycled=True,
            description="Rolling slab AA3104 remelted from eligible scrap"), party="lindtal")
        # Rheinfeld: non-CoC metal besides, roll what came in, ship can and body sheet.
        self.at(d(6), IN, self.non_coc(
            "rheinfeld", kg(4_500, 5_500),
            "Primary ingot and scrap from suppliers outside the scheme"))
        self.at(d(24), TRANSFORM, self.transform(
            "rheinfeld", "Rheinfeld Rolling Mill", Transformation.ROLLING, METAL, "0.97",
            pending="received"))
        self.at(d(26), SHIP, self.ship(
            "rheinfeld", "corvina", METAL, "0.55", coc_percent=75, after=5,
            description="Can-body stock AA3104-H19, coils"))
        reject = previous_year and first.month == 5
        self.at(d(BODY_SHEET_DAY), SHIP, self.ship(
            "rheinfeld", "hoshikawa", METAL, "0.6", coc_percent=80, after=5,
            refusal="reject" if reject else None,
            description="Automotive body sheet AA6016-T4, coils"))
        # Corvina: converts the can stock received, ships cans to Duinbron.
        self.at(d(10), TRANSFORM, self.transform(
            "corvina", "Corvina Can Plant Jacareí", Transformation.CONVERSION, METAL,
            "0.96", pending="received"))
        self.at(d(14), SHIP, self.ship(
            "corvina", "duinbron", METAL, "0.5", coc_percent=75, after=6,
            most=kg(700, 800) // 1000 * 1000, description="Two-piece beverage cans, 330 ml"))
        self._more(d, kg)

    def _more(self, d: Callable[[int], date], kg: Callable[[int, int], int]) -> None:
        """The rest of the chain: alumina from Gebeng to Eldhraun and from Bacabeira to
        Sandvær; slab from Eldhraun and Adda to Sèvre, from Sandvær and Severn to
        Rheinfeld's US mill; body sheet from those mills to Hoshikawa and can stock to Tajo
        and Corvina's UK plant; cans from both to Duinbron."""
        for who, mine, refinery, smelter, low, high in (
                ("gebeng", "Gebeng Bukit Goh Mine", "Gebeng Alumina Refinery",
                 "eldhraun", 5_000, 5_600),
                ("bacabeira", "Bacabeira Serra Mine", "Bacabeira Alumina Refinery",
                 "sandvaer", 4_400, 5_000)):
            self.at(d(2), IN, self.produce(
                who, mine, BAUXITE, kg(low, high), "Ore hauled to the refinery"))
            self.at(d(5), TRANSFORM, self.transform(
                who, refinery, Transformation.REFINING, BAUXITE, "0.45"))
            self.at(d(8), SHIP, self.ship(
                who, smelter, ALUMINA, "0.97", after=5,
                description="Smelter-grade alumina, bulk parcel"))
        for who, plant, low, high, customer in (
                ("adda", "Adda Remelt Plant Calolziocorte", 500, 600, "sevre"),
                ("severn", "Severn Remelt Plant Avonmouth", 550, 650, "rheinfeld_us")):
            self.at(d(4), IN, self.scrap(
                who, plant, ScrapKind.POST_CONSUMER, kg(low, high),
                "Used beverage cans and end-of-life sheet; due-diligence file per supplier"))
            self.at(d(12), TRANSFORM, self.transform(
                who, plant, Transformation.REMELTING, SCRAP, "0.93", pending=plant))
            self.at(d(16), SHIP, self.ship(
                who, customer, METAL, "0.96", after=4, recycled=True,
                description="Rolling slab AA3104 remelted from eligible scrap"))
        for who, smelter, casthouse, low, high, ship_on, customer in (
                ("eldhraun", "Eldhraun Smelter Þorlákshöfn", "Eldhraun Casthouse Þorlákshöfn",
                 2_300, 2_600, 21, "sevre"),
                ("sandvaer", "Sandvær Smelter Kristiansund", "Sandvær Casthouse Kristiansund",
                 2_000, 2_300, 22, "rheinfeld_us")):
            self.at(d(3), IN, self.produce(
                who, smelter, METAL, kg(low, high), "Potline metal from certified production",
                then="made"))
            self.at(d(15), TRANSFORM, self.transform(
                who, smelter, Transformation.SMELTING, ALUMINA, "0.52", then="made"))
            self.at(d(18), TRANSFORM, self.transform(
                who, casthouse, Transformation.CASTING, METAL, "0.99", pending="made"))
            self.at(d(ship_on), SHIP, self.ship(
                who, customer, METAL, "0.9", after=3,
                description="Rolling slab AA3104, casthouse lots of the month"))
        for who, mill, customer in (("sevre", "Sèvre Rolling Mill Niort", "tajo"),
                                    ("rheinfeld_us", "Rheinfeld Ohio Valley Mill",
                                     "corvina_uk")):
            self.at(d(25), TRANSFORM, self.transform(
                who, mill, Transformation.ROLLING, METAL, "0.97", pending="received"))
            self.at(d(26), SHIP, self.ship(
                who, "hoshikawa", METAL, "0.25", coc_percent=80, after=6,
                description="Automotive body sheet AA6016-T4, coils"))
            self.at(d(28), SHIP, self.ship(
                who, customer, METAL, "0.6", coc_percent=80, after=4,
                most=kg(1_100, 1_300) // 1000 * 1000,  # within the can plants' capacity
                description="Can-body and end stock AA3104 / AA5182, coils"))
        for who, plant, low, high in (("corvina_uk", "Corvina Can Plant Telford", 400, 500),
                                      ("tajo", "Tajo Can Plant Illescas", 500, 600)):
            self.at(d(11), TRANSFORM, self.transform(
                who, plant, Transformation.CONVERSION, METAL, "0.96", pending="received"))
            self.at(d(16), SHIP, self.ship(
                who, "duinbron", METAL, "0.5", coc_percent=75, after=6,
                most=kg(low, high) // 1000 * 1000,
                description="Two-piece beverage cans, 330 ml and 500 ml"))


PARTIES = {
    "wattlebay": ("wattlebay-alumina", "Wattlebay Alumina Pty Ltd"),
    "fjordal": ("fjordal-aluminium", "Fjordal Aluminium AS"),
    "lindtal": ("lindtal-remelt", "Lindtal Remelt GmbH"),
    "rheinfeld": ("rheinfeld-rolling", "Rheinfeld Walzwerk GmbH"),
    "corvina": ("corvina-latas", "Corvina Latas S.A."),
    "hoshikawa": ("hoshikawa-motor", "Hoshikawa Motor Corporation"),
    "duinbron": ("duinbron-beverages", "Duinbron Beverages B.V."),
    "eldhraun": ("eldhraun-aluminium", "Eldhraun Aluminium ehf."),
    "sandvaer": ("sandvaer-metall", "Sandvær Metall AS"),
    "sevre": ("laminoirs-sevre", "Laminoirs de la Sèvre SAS"),
    "rheinfeld_us": ("rheinfeld-rolling", "Rheinfeld Rolling Inc."),
    "corvina_uk": ("corvina-latas", "Corvina Packaging UK Limited"),
    "tajo": ("envases-tajo", "Envases Tajo S.L."),
    "gebeng": ("gebeng-alumina", "Gebeng Alumina Sdn. Bhd."),
    "bacabeira": ("bacabeira-alumina", "Bacabeira Alumina Ltda."),
    "adda": ("rifusione-adda", "Rifusione Adda S.r.l."),
    "severn": ("severn-recycled-metals", "Severn Recycled Metals Ltd"),
}
ISSUERS = ("wattlebay", "fjordal", "lindtal", "rheinfeld", "corvina", "eldhraun", "sandvaer",
           "sevre", "rheinfeld_us", "corvina_uk", "tajo", "gebeng", "bacabeira", "adda",
           "severn")
FACILITIES = {
    "wattlebay": ("Wattlebay Darling Range Mine", "Wattlebay Kemerton Refinery"),
    "fjordal": ("Fjordal Smelter", "Fjordal Casthouse"),
    "lindtal": ("Lindtal Remelt Plant Minden", "Lindtal Remelt Plant Bitterfeld"),
    "rheinfeld": ("Rheinfeld Rolling Mill",),
    "corvina": ("Corvina Can Plant Jacareí",),
    "eldhraun": ("Eldhraun Smelter Þorlákshöfn", "Eldhraun Casthouse Þorlákshöfn"),
    "sandvaer": ("Sandvær Smelter Kristiansund", "Sandvær Casthouse Kristiansund"),
    "sevre": ("Sèvre Rolling Mill Niort",),
    "rheinfeld_us": ("Rheinfeld Ohio Valley Mill",),
    "corvina_uk": ("Corvina Can Plant Telford",),
    "tajo": ("Tajo Can Plant Illescas",),
    "gebeng": ("Gebeng Bukit Goh Mine", "Gebeng Alumina Refinery"),
    "bacabeira": ("Bacabeira Serra Mine", "Bacabeira Alumina Refinery"),
    "adda": ("Adda Remelt Plant Calolziocorte",),
    "severn": ("Severn Remelt Plant Avonmouth",),
}


# The processes each issuer's entity runs in these flows: an inventory covering them for
# each day of the flows gives every document down to the car maker and the can maker a
# footprint (production at an origin counts as its process: mining for bauxite, smelting
# for a smelter's own metal; eligible scrap enters burden-free). Without one, the
# documents after it state their footprint as unknown and say why.
FOOTPRINT_PROCESSES: dict[str, tuple[str, ...]] = {
    "wattlebay": ("mining", "refining"), "gebeng": ("mining", "refining"),
    "bacabeira": ("mining", "refining"),
    "fjordal": ("smelting", "casting"), "eldhraun": ("smelting", "casting"),
    "sandvaer": ("smelting", "casting"),
    "lindtal": ("remelting",), "adda": ("remelting",), "severn": ("remelting",),
    "rheinfeld": ("rolling",), "sevre": ("rolling",), "rheinfeld_us": ("rolling",),
    "corvina": ("conversion",), "corvina_uk": ("conversion",), "tajo": ("conversion",),
}


def _certified_throughout(db: Session, year: _Year) -> bool:
    """Every issuer holds both certificates from the first flow to its last."""
    for who in ISSUERS:
        last = year.last if who != "lindtal" else min(
            year.last, year.lindtal_stop - timedelta(days=1))
        for day in (year.start, last):
            held = certificates.holdings_on(db, year.p[who].entity_id, day)
            if None in held.values():
                return False
    return True


def load_demo_custody(db: Session, today: date | None = None) -> bool:
    """Record the demo year of CoC flows; False when CoC documents exist already or the
    world lacks what the flows need (members, facilities, certificates)."""
    done: bool = timeline.run_one(demo_custody(db, today))
    return done


def demo_custody(db: Session, today: date | None = None) -> timeline.Thread:
    """``load_demo_custody`` as a thread of the demo's timeline: it starts on the first day
    of the previous year, when the certificates it needs have been decided."""
    day = today or clock.today()
    yield timeline.at(date(day.year - 1, 1, 1), 7)
    if repo.document_count(db):
        return False
    try:
        parties = _Parties(db)
        for who in ISSUERS:  # the customers join the register in their own time
            parties[who] = parties.resolve(who)
    except (_Skip, DomainError):
        return False
    if any(name not in parties[who].facilities
           for who, names in FACILITIES.items() for name in names):
        return False
    year = _Year(db, day, parties)
    if not _certified_throughout(db, year):
        return False
    year.plan()
    yield from year.run()
    return True
