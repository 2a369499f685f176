"""A seeded synthetic world of the aluminium value chain, simulated for one year and written
straight into the database.

Ten tiers of members, each one entity with one facility: bauxite mines, alumina refineries,
smelters (the ~300 upstream facilities of the world scale), then seven downstream tiers
(remelters, casthouses and traders; rolling mills and extruders; converters; four tiers of
manufacturers: the ~5,000 downstream facilities). Each member buys from one to three
members of the tier above, mostly in its own region, so a document shipped by the
second-to-last tier has a chain nine tiers deep behind it.

The year is simulated day by day with the custody rules themselves (``rules.produce``,
``transform``, ``issue``, ``receive``, ``cancel``, ``close_period`` on ``Balance``; ``take``,
``scale``, ``add`` on ``Pool``), and every row is the row the services would have written
for the same operations: accounts with their counters, pools and versions, the journal,
paired movement legs summing to zero per operation, documents with their compositions,
and the hash-chained event log entries the services append for each of them (documents
with their digests), so the conservation audit can check every record against the log.
Identifiers, document numbers and timestamps come from the seed, so one seed always makes
one world."""

from __future__ import annotations

import functools
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import argon2
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from benchmarks.bulk import BulkWriter, Row, complete
from stewardship.core import eventlog, merkle, tlog
from stewardship.core.auth import Actor, Role, system_actor
from stewardship.custody import rules
from stewardship.custody.origins import stored
from stewardship.custody.rules import (
    Balance,
    CocMaterial,
    Period,
    Pool,
    ScrapKind,
    Transformation,
)
from stewardship.custody.service.documents import digest as document_digest
from stewardship.registry.rules import (
    ID_ALPHABET,
    clean_address,
    clean_name,
    mod37_2_check,
    name_key,
    new_facility_id,
    numbered_slug,
    slugify,
)

BAUXITE = CocMaterial.ASI_BAUXITE
ALUMINA = CocMaterial.ASI_ALUMINA
METAL = CocMaterial.ASI_ALUMINIUM
SCRAP = CocMaterial.ELIGIBLE_SCRAP

# --- scales -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    """How big a world is and how busy its members are."""

    name: str
    upstream: tuple[int, int, int]
    """Mines, refineries, smelters."""
    downstream: tuple[int, int, int, int, int, int, int]
    """Members per downstream tier, first (remelters, casthouses, traders) to last."""
    metal_t: int
    """Tonnes of aluminium made in the year (smelted plus recycled), roughly."""
    ship_days: int
    """Days a member ships on, per year."""
    docs_per_ship: tuple[int, int]
    """Documents per shipping day (at least, at most)."""
    process_days: int
    """Days a member runs its transformations on, per year (smelters and remelters twice
    as often)."""
    production_days: int
    """Days a mine records production on (remelters take in scrap half as often)."""
    quarterly_share: float = 0.0
    """Share of the members of the last `quarterly_tiers` tiers keeping quarterly
    accounting periods (off by default: see docs/performance.md)."""
    quarterly_tiers: int = 1
    local_share: float = 0.8
    """Chance that a supplier is picked from the member's own region."""


SCALES: dict[str, Scale] = {
    # The test suite's world: seconds to build.
    "tiny": Scale("tiny", (1, 2, 2), (3, 2, 2, 2, 2, 2, 2), 50_000, 26, (1, 2), 12, 52),
    # CI smoke: `make bench`, under two minutes from empty database to report.
    "small": Scale("small", (2, 3, 5), (12, 10, 10, 8, 8, 8, 8), 1_000_000, 104, (1, 3), 52,
                   365),
    # About a million movements.
    "medium": Scale("medium", (6, 8, 16), (90, 80, 80, 63, 63, 62, 62), 10_000_000, 156,
                    (2, 5), 52, 365),
    # A year of global flow: ~100 Mt of metal, ~10 million movements, 300 upstream and
    # 5,000 downstream facilities.
    # Suppliers are more regional here: 330 origins mixing freely would put hundreds of
    # origins in every downstream pool (see docs/performance.md).
    "world": Scale("world", (60, 80, 160), (900, 800, 800, 625, 625, 625, 625), 100_000_000,
                   156, (2, 5), 52, 365, local_share=0.95),
}

YEAR = 2025
"""The simulated year: closed, so its periods may be closed by the measured phase."""

# --- the members ------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    key: str
    word: str
    activities: tuple[str, ...]
    output: CocMaterial
    steps: tuple[tuple[Transformation, CocMaterial], ...] = ()
    membership: str = "production_transformation"


MINE = Kind("mine", "Bauxite", ("bauxite_mining",), BAUXITE)
REFINERY = Kind("refinery", "Alumina", ("alumina_refining",), ALUMINA,
                ((Transformation.REFINING, BAUXITE),))
SMELTER = Kind("smelter", "Aluminium", ("smelting", "casthouse"), METAL,
               ((Transformation.SMELTING, ALUMINA), (Transformation.CASTING, METAL)))
REMELTER = Kind("remelter", "Recycling", ("remelting_refining", "casthouse"), METAL,
                ((Transformation.REMELTING, SCRAP), (Transformation.CASTING, METAL)))
CASTHOUSE = Kind("casthouse", "Castings", ("casthouse",), METAL,
                 ((Transformation.CASTING, METAL),))
TRADER = Kind("trader", "Metals Trading", ("other_manufacturing",), METAL)
MILL = Kind("mill", "Rolling", ("semi_fabrication",), METAL,
            ((Transformation.ROLLING, METAL),))
EXTRUDER = Kind("extruder", "Extrusions", ("semi_fabrication",), METAL,
                ((Transformation.EXTRUSION, METAL),))
CONVERTER = Kind("converter", "Converting", ("material_conversion",), METAL,
                 ((Transformation.CONVERSION, METAL),))
MAKERS = [Kind(f"maker{i}", word, ("other_manufacturing",), METAL,
               ((Transformation.CONVERSION, METAL),))
          for i, word in enumerate(("Components", "Assemblies", "Industries"), start=4)]
BRAND = Kind("brand", "Products", ("other_manufacturing", "industrial_user"), METAL,
             ((Transformation.CONVERSION, METAL),), "industrial_users")

REGIONS: list[list[str]] = [
    ["AU", "NZ", "ID"],
    ["CN", "IN", "MY", "JP", "KR", "VN"],
    ["NO", "DE", "FR", "IT", "ES", "PL", "IS", "NL", "SE"],
    ["US", "CA", "BR", "MX", "JM"],
    ["GN", "GH", "ZA", "MZ", "CM"],
    ["AE", "BH", "SA", "OM", "QA"],
]
_STEMS = ["Nor", "Vel", "Kal", "Bra", "Ter", "Sol", "Mar", "Fjel", "Ost", "Lun", "Cor", "Aur",
          "Bel", "Dra", "Ess", "Gal", "Hal", "Isk", "Jor", "Kor", "Lys", "Mon", "Nev", "Orr",
          "Pel", "Ros", "Sar", "Tal", "Ulm", "Var", "Wes", "Yar", "Zen", "Alt", "Bor", "Cal"]
_ENDS = ["vik", "dal", "berg", "mont", "ria", "stad", "haven", "ford", "ton", "heim", "ora",
         "essa", "ando", "ura", "ino", "ley", "wick", "gate"]
_STREETS = ["Industrial Road", "Harbour Street", "Smelter Way", "Mill Lane", "Works Avenue",
            "Quay Road", "Foundry Street", "Valley Road"]

# Declared yields, within physics and near typical (rules.DEFAULT_TYPICAL_YIELDS).
YIELDS: dict[Transformation, list[Decimal]] = {
    Transformation.REFINING: [Decimal(f"0.{n}") for n in range(38, 47)],
    Transformation.SMELTING: [Decimal("0.5200"), Decimal("0.5210"), Decimal("0.5190")],
    Transformation.REMELTING: [Decimal(f"0.{n}") for n in range(90, 98)],
    Transformation.CASTING: [Decimal(f"0.{n}") for n in range(96, 100)],
    Transformation.ROLLING: [Decimal(f"0.{n}") for n in range(95, 99)],
    Transformation.EXTRUSION: [Decimal(f"0.{n}") for n in range(95, 99)],
    Transformation.CONVERSION: [Decimal(f"0.{n}") for n in range(95, 99)],
}

MAX_LAG = 10
"""Days at most between shipment and receipt."""
MIN_KG = 100
"""Smallest document or transformation the members bother with."""
PASSWORD = "bench-world"
"""Every generated user's password (a fictional world on a developer's machine)."""


@dataclass
class Account:
    """An account as the services keep it: the row's identity, the rules' Balance and
    Pool, and what only the row holds (carried out, expired, status, version)."""

    id: uuid.UUID
    member: Member
    material: CocMaterial
    period: Period
    balance: Balance
    pool: Pool = field(default_factory=Pool)
    carried_out: int = 0
    expired: int = 0
    status: str = "open"
    version: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def kg(self) -> int:
        return self.balance.kilograms - self.carried_out - self.expired

    def final_row(self) -> Row:
        b = self.balance
        return {"id": self.id, "status": self.status, "carried": list(b.carried),
                "carried_in": b.carried_in, "produced": b.produced, "received": b.received,
                "transformed_in": b.transformed_in, "transformed_out": b.transformed_out,
                "issued": b.issued, "non_coc_in": b.non_coc_in,
                "carried_out": self.carried_out, "expired": self.expired,
                "balance_kg": self.kg, "pool": rules.pool_to_data(self.pool),
                "version": self.version, "updated_at": self.updated_at}


@dataclass
class Member:
    index: int
    tier: int
    kind: Kind
    region: int
    country: str
    name: str
    slug: str
    organization_id: uuid.UUID
    entity_id: uuid.UUID
    facility_id: uuid.UUID
    public_id: str
    user_id: uuid.UUID
    email: str
    period_months: int = 12
    capacity_kg: int = 0
    certificates: dict[str, str] = field(default_factory=dict)
    suppliers: list[int] = field(default_factory=list)
    customers: list[int] = field(default_factory=list)
    ship_days: frozenset[int] = frozenset()
    process_days: frozenset[int] = frozenset()
    produce_days: frozenset[int] = frozenset()
    accounts: dict[tuple[CocMaterial, date], Account] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"user:{self.user_id}"

    def actor(self) -> Actor:
        return Actor(user_id=self.user_id, role=Role.MEMBER_USER, name=f"{self.name} user",
                     email=self.email, organization_id=self.organization_id,
                     organization_slug=self.slug)

    def period(self, day: date) -> Period:
        return _period(day, self.period_months)


@dataclass
class Doc:
    """A document in flight: its row (changed in place until written) and what the
    recipient does with it on arrival."""

    row: Row
    issuer: Member
    recipient: Member
    taken: Pool
    arrives: date
    rejected: bool
    digest: str
    """The document's digest at issue, as the event log recorded it."""


@dataclass
class World:
    """What the generator made, and what the measured phases need from it."""

    scale: Scale
    seed: int
    members: list[Member]
    counts: dict[str, int]
    mass_t: dict[str, int]
    chain_roots: list[str]
    """Numbers of received documents shipped by the second-to-last tier in the last
    quarter: their chains are nine tiers deep."""
    documents: list[str]
    """A seeded sample of document numbers (for reads)."""
    accounts: list[tuple[uuid.UUID, int]]
    """A seeded sample of (account id, member index) (for reads)."""
    secretariat: Actor = field(default_factory=lambda: system_actor("bench"))

    def member_by_entity(self) -> dict[uuid.UUID, Member]:
        return {m.entity_id: m for m in self.members}


@functools.lru_cache(maxsize=4096)
def _period(day: date, months: int) -> Period:
    return rules.period_for(day, months)


# --- the generator ----------------------------------------------------------------------

Progress = Callable[[str, int, int], None]


def _quiet(_stage: str, _done: int, _total: int) -> None:
    return None


class Generator:
    def __init__(self, scale: Scale, seed: int, writer: BulkWriter) -> None:
        self.scale = scale
        self.seed = seed
        self.rng = random.Random(f"{scale.name}:{seed}")
        self.w = writer
        self.members: list[Member] = []
        self.tiers: list[list[Member]] = []
        self.arrivals: dict[date, list[Doc]] = {}
        self.held: dict[date, list[tuple[str, Row]]] = {}
        self.numbers = 0
        self.clock_day: date | None = None
        self.ticks = 0
        self.counts: dict[str, int] = {}
        self.mass: dict[str, int] = {"bauxite mined": 0, "scrap taken in": 0,
                                     "aluminium smelted": 0, "aluminium remelted": 0}
        self.received_roots: list[tuple[date, str]] = []
        self.doc_sample: list[str] = []
        self.docs_seen = 0
        self.start = date(YEAR, 1, 1)
        self.log_head: tuple[int, str] = (0, eventlog.GENESIS_HASH)
        self.tree = merkle.RightEdge()

    # -- identities ----------------------------------------------------------------------

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(bytes=self.rng.randbytes(16), version=4)

    def at(self, day: date) -> datetime:
        """A deterministic moment on the day: the day's operations one millisecond apart
        from 06:00 UTC, in the order they happen."""
        if day != self.clock_day:
            self.clock_day, self.ticks = day, 0
        self.ticks += 1
        return datetime.combine(day, time(6), UTC) + timedelta(milliseconds=self.ticks)

    def document_number(self, year: int) -> str:
        """Unique without a look-up: the counter through a bijection of the 40-bit space
        (an odd multiplier modulo 2^40), spelled in the 32-character id alphabet."""
        while True:
            self.numbers += 1
            n = (self.numbers * 0x9E3779B97F + 0x5DEECE66D) % (1 << 40)
            part = "".join(ID_ALPHABET[(n >> (5 * i)) & 31] for i in range(8))
            number = rules.document_number(year, part)
            if number is not None:
                return number

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    # -- rows ----------------------------------------------------------------------------

    def emit(self, day: date, table: str, values: Row) -> Row:
        """Hold the row until its day is written: rows go out in day order once every
        document of the day has arrived (MAX_LAG later), so a document is written once,
        final, and always before the operations that name it."""
        row = complete(table, values)
        self.held.setdefault(day, []).append((table, row))
        return row

    def log(self, day: date, at: datetime, actor: str, kind: str, subject: str,
            payload: dict[str, Any]) -> None:
        """eventlog.append: the next entry of the chain, held with the day's rows (days are
        simulated in order, so sequence order is the order the entries are made)."""
        clean = eventlog.json_ready(payload)
        sequence, prev = self.log_head[0] + 1, self.log_head[1]
        p_digest = eventlog.digest_payload(clean)
        kind = f"custody.{kind}"
        entry_hash = eventlog.entry_hash(sequence, at, actor, kind, subject, p_digest, prev)
        held = self.held.setdefault(day, [])
        held.append(("event_log", {
            "sequence": sequence, "recorded_at": at, "actor": actor, "kind": kind,
            "subject": subject, "payload": clean, "payload_digest": p_digest,
            "prev_hash": prev, "hash": entry_hash}))
        # The entry's leaf and the subtrees it completes, as eventlog.append stores them.
        leaf = merkle.leaf_hash(eventlog.entry_body(sequence, at, actor, kind, subject,
                                                    p_digest, prev))
        for level, idx, h in self.tree.append(leaf):
            held.append(("event_log_nodes", {"level": level, "idx": idx, "hash": h}))
        self.log_head = (sequence, entry_hash)
        self.count("event log entries")

    def release(self, through: date) -> None:
        for day in sorted(d for d in self.held if d <= through):
            for table, row in self.held.pop(day):
                self.w.add(table, row)
            self.w.maybe_flush()

    # -- setup: registry and assurance ---------------------------------------------------

    def setup(self, db: Session) -> None:
        """Members, facilities, users, an audit firm, and current Performance and CoC
        certificates for every entity (written straight into the assurance tables, as the
        custody tests do: the certificates must exist, the audits behind them are
        another suite's business). The two standard versions the certificates name are
        loaded through the standards service from the shipped packages."""
        from stewardship.standards import repository as standards_repo
        from stewardship.standards.demo import shipped_package_text
        from stewardship.standards.package import parse_package
        from stewardship.standards.service import library

        actor = system_actor("bench")
        versions: dict[str, uuid.UUID] = {}
        for kind, name in (("performance", "performance-v3.yaml"),
                           ("chain_of_custody", "chain-of-custody-v2.yaml")):
            package = parse_package(shipped_package_text(name))
            found = standards_repo.standard_by_urn(db, package.urn)
            existing = found and standards_repo.version_of(db, found.id, package.version)
            versions[kind] = (existing or library.store_version(db, actor, package)).id
        db.commit()

        s, rng = self.scale, self.rng
        kinds: list[list[Kind]] = [[MINE], [REFINERY], [SMELTER],
                                   [REMELTER, CASTHOUSE, CASTHOUSE, TRADER],
                                   [MILL, MILL, EXTRUDER], [CONVERTER], *[[k] for k in MAKERS],
                                   [BRAND]]
        sizes = [*s.upstream, *s.downstream]
        setup_time = datetime(YEAR - 2, 6, 1, 9, tzinfo=UTC)
        password_hash = argon2.low_level.hash_secret(
            PASSWORD.encode(), b"stewardship-bench", time_cost=1, memory_cost=8,
            parallelism=1, hash_len=32, type=argon2.low_level.Type.ID).decode()
        firm_id, lead_id = self.uuid(), self.uuid()
        all_countries = sorted({c for r in REGIONS for c in r})
        all_activities = sorted({a for tier in kinds for k in tier for a in k.activities})
        self.w.add("audit_firms", complete("audit_firms", {
            "id": firm_id, "slug": "bench-assurance", "name": "Bench Assurance Partners",
            "country": "GB", "website": None, "status": "accredited",
            "standards": ["performance", "chain_of_custody"], "countries": all_countries,
            "activities": all_activities, "accreditation_expires_on": date(YEAR + 5, 1, 1),
            "created_at": setup_time, "updated_at": setup_time}))
        self.w.add("auditors", complete("auditors", {
            "id": lead_id, "audit_firm_id": firm_id, "name": "Lea Lead",
            "email": "lea.lead@bench-assurance.example", "lead": True, "active": True,
            "created_at": setup_time, "updated_at": setup_time}))
        cert_serial = {"performance": 0, "chain_of_custody": 0}
        public_ids: set[str] = set()
        name_keys: set[str] = set()
        for tier, size in enumerate(sizes):
            members: list[Member] = []
            for i in range(size):
                kind = kinds[tier][i % len(kinds[tier])]
                region = rng.randrange(len(REGIONS))
                country = rng.choice(REGIONS[region])
                index = len(self.members)
                name = f"{rng.choice(_STEMS)}{rng.choice(_ENDS)} {kind.word}"
                if name_key(name) in name_keys:  # names are unique on the register
                    name = f"{name} {index + 1}"
                name_keys.add(name_key(name))
                slug = numbered_slug(slugify(name), index + 1)
                while True:
                    part = "".join(rng.choice(ID_ALPHABET) for _ in range(6))
                    if mod37_2_check(f"{country}{YEAR - 2:04d}{part}") == "*":
                        continue
                    public_id = new_facility_id(country, YEAR - 2, part)
                    if public_id not in public_ids:
                        public_ids.add(public_id)
                        break
                m = Member(index=index, tier=tier, kind=kind, region=region, country=country,
                           name=name, slug=slug, organization_id=self.uuid(),
                           entity_id=self.uuid(), facility_id=self.uuid(),
                           public_id=public_id, user_id=self.uuid(),
                           email=f"custody@{slug}.bench.example")
                if tier >= len(sizes) - s.quarterly_tiers and rng.random() < s.quarterly_share:
                    m.period_months = 3
                members.append(m)
                self.members.append(m)
                self._registry_rows(m, setup_time, password_hash)
                for kind_name in ("performance", "chain_of_custody"):
                    cert_serial[kind_name] += 1
                    self._certificate_rows(m, kind_name, versions[kind_name], firm_id,
                                           lead_id, cert_serial[kind_name], setup_time)
            self.tiers.append(members)
        self.w.flush()
        self._network()
        self._capacities()
        self._calendars()

    def _registry_rows(self, m: Member, at: datetime, password_hash: str) -> None:
        rng = self.rng
        address = f"{rng.randint(1, 400)} {rng.choice(_STREETS)}"
        facility_name = f"{m.name} Works"
        self.w.add("organizations", complete("organizations", {
            "id": m.organization_id, "slug": m.slug, "name": m.name,
            "name_key": name_key(m.name), "membership_class": m.kind.membership, "status": "member",
            "joined_on": date(YEAR - 3, 1 + rng.randrange(12), 1), "country": m.country,
            "website": None, "description": "A fictional member of the benchmark world.",
            "created_at": at, "updated_at": at}))
        self.w.add("entities", complete("entities", {
            "id": m.entity_id, "organization_id": m.organization_id, "name": f"{m.name} Ltd",
            "created_at": at, "updated_at": at}))
        self.w.add("facilities", complete("facilities", {
            "id": m.facility_id, "public_id": m.public_id, "organization_id": m.organization_id,
            "entity_id": m.entity_id, "name": facility_name,
            "name_clean": clean_name(facility_name), "address": address,
            "address_clean": clean_address(address), "country": m.country,
            "latitude": None, "longitude": None, "annual_capacity_t": None,
            "status": "active", "merged_into_id": None, "created_at": at, "updated_at": at}))
        for activity in m.kind.activities:
            self.w.add("facility_activities", {"facility_id": m.facility_id,
                                               "activity": activity})
        self.w.add("users", complete("users", {
            "id": m.user_id, "email": m.email, "name": f"{m.name} custody desk",
            "password_hash": password_hash, "role": "member_user",
            "organization_id": m.organization_id, "audit_firm_id": None, "active": True,
            "last_login_at": None, "created_at": at, "updated_at": at}))
        if m.period_months != 12:
            self.w.add("custody_settings", complete("custody_settings", {
                "entity_id": m.entity_id, "organization_id": m.organization_id,
                "period_months": m.period_months, "carry_over_cap": None,
                "carry_over_expiry": 1, "created_at": at, "updated_at": at}))

    def _certificate_rows(self, m: Member, kind: str, version_id: uuid.UUID,
                          firm_id: uuid.UUID, lead_id: uuid.UUID, serial: int,
                          at: datetime) -> None:
        scope_id, audit_id, cert_id = self.uuid(), self.uuid(), self.uuid()
        valid_from = date(YEAR - 1, 1, 1)
        self.w.add("certification_scopes", complete("certification_scopes", {
            "id": scope_id, "organization_id": m.organization_id, "entity_id": m.entity_id,
            "version_id": version_id, "standard_kind": kind, "member_class": m.kind.membership,
            "activities": list(m.kind.activities), "name": f"{m.name}: {kind} scope",
            "status": "active", "created_at": at, "updated_at": at}))
        self.w.add("scope_facilities", {"scope_id": scope_id, "facility_id": m.facility_id})
        self.w.add("audits", complete("audits", {
            "id": audit_id, "organization_id": m.organization_id, "scope_id": scope_id,
            "audit_firm_id": firm_id, "lead_auditor_id": lead_id,
            "audit_type": "certification", "start_on": valid_from - timedelta(days=40),
            "end_on": valid_from - timedelta(days=36), "plan": "", "status": "decided",
            "outcome": "certified", "maturity": "high", "public_summary": "",
            "decision_note": "", "created_at": at, "updated_at": at}))
        prefix = "PS" if kind == "performance" else "COC"
        number = f"STW-{prefix}-{YEAR - 1}-{serial:05d}"
        self.w.add("certificates", complete("certificates", {
            "id": cert_id, "number": number, "organization_id": m.organization_id,
            "entity_id": m.entity_id, "holder_name": m.name, "entity_name": f"{m.name} Ltd",
            "scope_id": scope_id, "audit_id": audit_id,
            "version_id": version_id, "standard_kind": kind, "certificate_type": "full",
            "maturity": "high", "valid_from": valid_from,
            "valid_until": date(YEAR + 2, 12, 31), "surveillance_due_on": None,
            "status": "active", "created_at": at, "updated_at": at}))
        for activity in m.kind.activities:
            self.w.add("certificate_activities", {"certificate_id": cert_id,
                                                  "activity": activity})
        self.w.add("certificate_countries", {"certificate_id": cert_id,
                                             "country": m.country})
        self.w.add("certificate_events", complete("certificate_events", {
            "id": self.uuid(), "certificate_id": cert_id, "from_status": None,
            "to_status": "active", "reason": "issued", "at": at, "actor": "system:bench"}))
        m.certificates[kind] = number

    def _network(self) -> None:
        """One to three suppliers in the tier above, mostly from the same region; every
        member but the last tier's has at least one customer."""
        rng, s = self.rng, self.scale
        for upper, lower in zip(self.tiers, self.tiers[1:], strict=False):
            by_region: dict[int, list[Member]] = {}
            for m in upper:
                by_region.setdefault(m.region, []).append(m)
            for m in lower:
                for _ in range(rng.randint(1, 3)):
                    local = by_region.get(m.region)
                    pick = rng.choice(local if local and rng.random() < s.local_share else upper)
                    if pick.index not in m.suppliers:
                        m.suppliers.append(pick.index)
                        pick.customers.append(m.index)
            for m in upper:
                if not m.customers:
                    near = [x for x in lower if x.region == m.region] or lower
                    customer = rng.choice(near)
                    customer.suppliers.append(m.index)
                    m.customers.append(customer.index)

    def _capacities(self) -> None:
        """Mines and remelters share the year's bauxite and scrap by random capacity:
        primary metal ~70% of the total (bauxite at ~0.42 t alumina and 0.52 t metal per
        tonne), recycled ~30%."""
        rng = self.rng
        metal_kg = self.scale.metal_t * 1000
        bauxite_kg = int(metal_kg * 0.7 / 0.52 / 0.42)
        scrap_kg = int(metal_kg * 0.3 / 0.94)
        for members, total in ((self.tiers[0], bauxite_kg),
                               ([m for m in self.tiers[3] if m.kind is REMELTER], scrap_kg)):
            weights = [rng.lognormvariate(0, 0.5) for _ in members]
            for m, w in zip(members, weights, strict=True):
                m.capacity_kg = int(total * w / sum(weights))

    def _calendars(self) -> None:
        rng = self.rng
        s = self.scale
        days = 365

        def spread(n: int) -> frozenset[int]:
            n = min(n, days)
            offset = rng.randrange(max(1, days // max(n, 1)))
            return frozenset(min(days - 1, offset + (i * days) // n) for i in range(n))

        for m in self.members:
            busy = 2 if m.kind in (SMELTER, REMELTER) else 1
            if m.customers:
                m.ship_days = spread(s.ship_days)
            if m.kind.steps:
                m.process_days = spread(s.process_days * busy)
            if m.kind is MINE:
                m.produce_days = spread(s.production_days)
            elif m.kind is REMELTER:
                m.produce_days = spread(max(1, s.production_days // 2))

    # -- accounts ------------------------------------------------------------------------

    def account(self, m: Member, material: CocMaterial, day: date, *,
                create: bool = True) -> Account | None:
        period = m.period(day)
        found = m.accounts.get((material, period.start))
        if found is not None or not create:
            return found
        acct = Account(id=self.uuid(), member=m, material=material, period=period,
                       balance=rules.open_balance(material, period))
        at = self.at(day)
        acct.created_at = acct.updated_at = at
        m.accounts[(material, period.start)] = acct
        self.emit(day, "material_accounts", {
            "id": acct.id, "organization_id": m.organization_id, "entity_id": m.entity_id,
            "material": material.value, "period_start": period.start,
            "period_end": period.end, "status": "open", "carried": [], "carried_in": 0,
            "produced": 0, "received": 0, "transformed_in": 0, "transformed_out": 0,
            "issued": 0, "non_coc_in": 0, "carried_out": 0, "expired": 0, "balance_kg": 0,
            "pool": {}, "version": 1, "created_at": at, "updated_at": at})
        self.count("accounts")
        return acct

    def store(self, acct: Account, b: Balance, pool: Pool | None, at: datetime) -> None:
        """common.store, and the ORM's version bump and updated_at for the UPDATE."""
        acct.balance = b
        if pool is not None:
            acct.pool = pool
        if acct.kg < 0:
            raise AssertionError(f"negative balance for {acct.member.name}")
        acct.version += 1
        acct.updated_at = at

    def journal(self, day: date, at: datetime, m: Member, kind: str, *, material: str,
                kilograms: int, occurred_on: date, period: Period,
                legs: list[tuple[Account | None, str | None, int]], **extra: Any) -> uuid.UUID:
        """common.journal: one operation and its nonzero legs, which sum to zero."""
        if sum(kg for _, _, kg in legs) != 0:
            raise AssertionError(f"unbalanced legs for {kind}")
        op_id = self.uuid()
        actor = extra.pop("actor", m.ref)
        self.emit(day, "custody_operations", {
            "id": op_id, "organization_id": m.organization_id, "entity_id": m.entity_id,
            "kind": kind, "material": material, "source_material": None,
            "transformation": None, "facility_id": None, "input_kg": None,
            "kilograms": kilograms, "declared_yield": None, "scrap_kind": None,
            "occurred_on": occurred_on, "period_start": period.start, "document_id": None,
            "note": "", "actor": actor, "recorded_at": at, **extra})
        held = self.held.setdefault(day, [])
        moved = 0
        for acct, system, kg in legs:
            if kg:  # every column given: the hot path skips complete()
                held.append(("custody_movements", {
                    "correlation_id": op_id, "operation_id": op_id,
                    "organization_id": m.organization_id,
                    "account_id": acct.id if acct else None, "system_account": system,
                    "kilograms": kg, "recorded_at": at}))
                moved += 1
        self.count("movements", moved)
        self.count(f"operations: {kind}")
        return op_id

    # -- the year ------------------------------------------------------------------------

    def simulate(self, progress: Progress) -> None:
        end = date(YEAR, 12, 31)
        days = (end - self.start).days + 1
        for n in range(days):
            day = self.start + timedelta(days=n)
            self.close_periods(day)
            for doc in self.arrivals.pop(day, []):
                self.arrive(doc, day)
            for m in self.members:
                if n in m.produce_days:
                    self.produce(m, day)
            for m in self.members:
                if n in m.process_days:
                    self.process(m, day)
            for m in self.members:
                if n in m.ship_days:
                    self.ship(m, day)
            self.release(day - timedelta(days=MAX_LAG + 1))
            progress("simulating the year", n + 1, days)
        self.release(end + timedelta(days=MAX_LAG + 1))  # documents still in transit too
        self.w.flush()

    def close_periods(self, day: date) -> None:
        """Members on short periods close the one that ended yesterday (as
        periods.close_period does); yearly periods are closed by the measured phase."""
        for m in self.members:
            if m.period_months == 12 or day == self.start:
                continue
            before = m.period(day - timedelta(days=1))
            if before.start == m.period(day).start:
                continue
            rows = sorted((a for (mat, start), a in m.accounts.items()
                           if start == before.start and a.status == "open"),
                          key=lambda a: a.material.value)
            carried: dict[str, int] = {}
            expired: dict[str, int] = {}
            at = None
            for row in rows:
                at = self.close_account(m, row, day)
                carried[row.material.value], expired[row.material.value] = (row.carried_out,
                                                                             row.expired)
            if at is not None:
                self.log(day, at, m.ref, "period.closed", f"entity:{m.entity_id}",
                         {"period": [before.start, before.end], "carried": carried,
                          "expired": expired})

    def close_account(self, m: Member, row: Account, day: date) -> datetime:
        at = self.at(day)
        b = row.balance
        opening = rules.close_period(b, rules.CarryOverRule(None, 1))
        keep = opening.carried_in
        lost = b.kilograms - keep
        legs: list[tuple[Account | None, str | None, int]] = []
        pool = row.pool
        if keep:
            kept_pool, pool = rules.take(pool, keep)
            target = self.account(m, row.material, day)
            assert target is not None
            tb = target.balance
            n = max(len(tb.carried), len(opening.carried))
            merged = tuple((tb.carried[i] if i < len(tb.carried) else 0)
                           + (opening.carried[i] if i < len(opening.carried) else 0)
                           for i in range(n))
            new_target = Balance(tb.material, tb.period, carried=merged, produced=tb.produced,
                                 received=tb.received, transformed_in=tb.transformed_in,
                                 transformed_out=tb.transformed_out, issued=tb.issued,
                                 non_coc_in=tb.non_coc_in)
            self.store(target, new_target, rules.add(target.pool, kept_pool), at)
            legs += [(row, None, -keep), (target, None, keep)]
        if lost:
            legs += [(row, None, -lost), (None, f"expired:{m.entity_id}", lost)]
        row.carried_out, row.expired, row.status = keep, lost, "closed"
        self.store(row, b, Pool(), at)
        self.journal(day, at, m, "period_close", material=row.material.value, kilograms=keep,
                     input_kg=lost, occurred_on=row.period.end, period=row.period, legs=legs)
        return at

    def produce(self, m: Member, day: date) -> None:
        rng = self.rng
        share = m.capacity_kg / max(1, len(m.produce_days))
        kg = int(share * rng.uniform(0.8, 1.2))
        if kg < MIN_KG:
            return
        at = self.at(day)
        if m.kind is MINE:
            material, kind, scrap = BAUXITE, "production", None
        else:
            material, kind = SCRAP, "scrap_intake"
            scrap = rng.choice((ScrapKind.PRE_CONSUMER, ScrapKind.POST_CONSUMER))
        acct = self.account(m, material, day)
        assert acct is not None
        if kind == "production":
            new = rules.produce(acct.balance, kg)
            self.mass["bauxite mined"] += kg
        else:
            assert scrap is not None
            new = rules.take_in_scrap(acct.balance, kg, scrap)
            self.mass["scrap taken in"] += kg
        origin = rules.pool_of(rules.entry_origin(material, m.public_id, m.country), kg)
        self.store(acct, new, rules.add(acct.pool, origin), at)
        op_id = self.journal(day, at, m, kind, material=material.value, kilograms=kg,
                             occurred_on=day, period=acct.period, facility_id=m.facility_id,
                             scrap_kind=scrap.value if scrap else None,
                             legs=[(None, f"origin:{m.public_id}", -kg), (acct, None, kg)])
        self.log(day, at, m.ref, f"{kind}.recorded", f"custody_operation:{op_id}",
                 {"entity": m.entity_id, "facility": m.public_id, "material": material.value,
                  "kilograms": kg, "on": day})

    def process(self, m: Member, day: date) -> None:
        rng = self.rng
        for step, source_material in m.kind.steps:
            source = self.account(m, source_material, day, create=False)
            if source is None or source.kg < MIN_KG:
                continue
            input_kg = int(source.kg * rng.uniform(0.7, 1.0))
            declared = rng.choice(YIELDS[step])
            output = rules.yield_output(input_kg, declared)
            if input_kg < MIN_KG or output <= 0:
                continue
            at = self.at(day)
            target_material = step.output
            # Both accounts opened in material order, as the service locks them.
            for mat in sorted({source_material, target_material}):
                self.account(m, mat, day)
            target = self.account(m, target_material, day)
            assert target is not None
            new_source, new_target = rules.transform(source.balance, target.balance, step,
                                                     input_kg, declared)
            taken, remaining = rules.take(source.pool, input_kg)
            produced = rules.through(rules.scale(taken, output), step, m.public_id, m.country)
            if source is target:
                self.store(source, new_source, rules.add(remaining, produced), at)
            else:
                self.store(source, new_source, remaining, at)
                self.store(target, new_target, rules.add(target.pool, produced), at)
            if step is Transformation.SMELTING:
                self.mass["aluminium smelted"] += output
            elif step is Transformation.REMELTING:
                self.mass["aluminium remelted"] += output
            process = f"process:{m.public_id}"
            op_id = self.journal(
                day, at, m, "transformation", material=target_material.value,
                source_material=source_material.value, transformation=step.value,
                facility_id=m.facility_id, input_kg=input_kg, kilograms=output,
                declared_yield=declared, occurred_on=day, period=source.period,
                legs=[(source, None, -input_kg), (None, process, input_kg),
                      (None, process, -output), (target, None, output)])
            self.log(day, at, m.ref, "transformation.recorded", f"custody_operation:{op_id}",
                     {"entity": m.entity_id, "facility": m.public_id,
                      "transformation": step.value, "input_kg": input_kg,
                      "output_kg": output, "declared_yield": declared, "on": day})
            if m.kind is MILL and rng.random() < 0.25:  # some non-CoC metal rolled too
                kg = max(1, input_kg // 5)
                at = self.at(day)
                self.store(target, rules.record_non_coc(target.balance, kg), None, at)
                op_id = self.journal(day, at, m, "non_coc_input", material=METAL.value,
                                     kilograms=kg, occurred_on=day, period=target.period,
                                     legs=[])
                self.log(day, at, m.ref, "non_coc_input.recorded",
                         f"custody_operation:{op_id}",
                         {"entity": m.entity_id, "material": METAL.value, "kilograms": kg,
                          "on": day})

    def ship(self, m: Member, day: date) -> None:
        rng = self.rng
        acct = self.account(m, m.kind.output, day, create=False)
        if acct is None or acct.kg < MIN_KG:
            return
        total = int(acct.kg * rng.uniform(0.5, 0.9))
        n = rng.randint(*self.scale.docs_per_ship)
        weights = [rng.uniform(0.5, 1.5) for _ in range(n)]
        for w in weights:
            coc = int(total * w / sum(weights))
            if coc < MIN_KG or coc > acct.kg:
                continue
            recipient = self.members[rng.choice(m.customers)]
            quantity = coc if rng.random() < 0.8 else int(coc * rng.uniform(1.0, 1.3))
            self.issue(m, recipient, acct, quantity, coc, day)

    def issue(self, m: Member, recipient: Member, acct: Account, quantity: int, coc: int,
              day: date) -> None:
        """documents.issue_document on the issuer's open account."""
        rng = self.rng
        at = self.at(day)
        new = rules.issue(acct.balance, quantity, coc)
        taken, remaining = rules.take(acct.pool, coc)
        self.store(acct, new, remaining, at)
        number = self.document_number(day.year)
        doc_id = self.uuid()
        composition = rules.pool_to_data(taken)
        levels, levels_of = stored.stamp(composition)
        row = self.emit(day, "coc_documents", {
            "id": doc_id, "number": number, "issuer_organization_id": m.organization_id,
            "issuer_entity_id": m.entity_id,
            "recipient_organization_id": recipient.organization_id,
            "recipient_entity_id": recipient.entity_id,
            "issuer_performance_certificate": m.certificates["performance"],
            "issuer_coc_certificate": m.certificates["chain_of_custody"],
            "recipient_performance_certificate": recipient.certificates["performance"],
            "recipient_coc_certificate": recipient.certificates["chain_of_custody"],
            "material": acct.material.value,
            "description": f"{acct.material.label}, lot {self.numbers}",
            "quantity_kg": quantity, "coc_quantity_kg": coc, "shipment_date": day,
            "period_start": acct.period.start, "period_end": acct.period.end,
            "recycled_percent": None, "recycled_method": None,
            "composition": composition, "origin_levels": levels,
            "origin_levels_of": levels_of, "status": "issued", "issued_at": at,
            "issued_by": m.ref, "decided_at": None, "decided_by": None, "received_on": None,
            "receipt_period_start": None, "reason": ""})
        self.journal(day, at, m, "issue", material=acct.material.value, kilograms=coc,
                     occurred_on=day, period=acct.period, document_id=doc_id,
                     legs=[(acct, None, -coc), (None, f"transit:{number}", coc)])
        # The digest covers what never changes after issue, so it is taken once here.
        row_digest = document_digest(SimpleNamespace(**row))  # type: ignore[arg-type]
        self.log(day, at, m.ref, "document.issued", f"coc_document:{number}",
                 {"digest": row_digest, "issuer": m.entity_id,
                  "recipient": recipient.entity_id, "material": acct.material.value,
                  "coc_quantity_kg": coc, "shipment_date": day})
        arrives = day + timedelta(days=rng.randint(1, MAX_LAG))
        doc = Doc(row, m, recipient, taken, arrives, rejected=rng.random() < 0.003,
                  digest=row_digest)
        self.arrivals.setdefault(arrives, []).append(doc)
        self.count("documents")
        self.docs_seen += 1
        if len(self.doc_sample) < 2000:  # reservoir sample, seeded
            self.doc_sample.append(number)
        elif (j := rng.randrange(self.docs_seen)) < 2000:
            self.doc_sample[j] = number

    def arrive(self, doc: Doc, day: date) -> None:
        if doc.rejected:
            self.reject(doc, day)
            return
        r, row = doc.recipient, doc.row
        at = self.at(day)
        material = CocMaterial(row["material"])
        acct = self.account(r, material, day)
        assert acct is not None
        new = rules.receive(acct.balance, row["coc_quantity_kg"])
        self.store(acct, new, rules.add(acct.pool, doc.taken), at)
        row.update(status="received", received_on=day, receipt_period_start=acct.period.start,
                   decided_at=at, decided_by=r.ref)
        coc = row["coc_quantity_kg"]
        self.journal(day, at, r, "receipt", material=material.value, kilograms=coc,
                     occurred_on=day, period=acct.period, document_id=row["id"],
                     legs=[(None, f"transit:{row['number']}", -coc), (acct, None, coc)])
        self.log(day, at, r.ref, "document.received", f"coc_document:{row['number']}",
                 {"digest": doc.digest, "received_on": day})
        if r.tier == len(self.tiers) - 1 and doc.issuer.tier == r.tier - 1:
            self.received_roots.append((row["shipment_date"], row["number"]))

    def reject(self, doc: Doc, day: date) -> None:
        """documents.reject_document: the CoC quantity returns to the issuer's account of
        the shipment period, or of today's period when that one is closed."""
        m, row = doc.issuer, doc.row
        at = self.at(day)
        material = CocMaterial(row["material"])
        coc = row["coc_quantity_kg"]
        original = m.accounts.get((material, row["period_start"]))
        if original is not None and original.status == "open":
            acct, new = original, rules.cancel(original.balance, coc)
        else:
            found = self.account(m, material, day)
            assert found is not None
            acct, new = found, rules.receive(found.balance, coc)
        self.store(acct, new, rules.add(acct.pool, doc.taken), at)
        reason = "Wrong alloy delivered; returned to the issuer."
        row.update(status="rejected", reason=reason, decided_at=at,
                   decided_by=doc.recipient.ref)
        self.journal(day, at, m, "rejection", material=material.value, kilograms=coc,
                     occurred_on=day, period=acct.period, document_id=row["id"], note=reason,
                     actor=doc.recipient.ref,
                     legs=[(None, f"transit:{row['number']}", -coc), (acct, None, coc)])
        self.log(day, at, doc.recipient.ref, "document.rejected",
                 f"coc_document:{row['number']}", {"digest": doc.digest, "reason": reason})

    # -- the end -------------------------------------------------------------------------

    def finish(self) -> World:
        rows = [a.final_row() for m in self.members for a in m.accounts.values()]
        self.w.update_accounts(rows)
        rng = random.Random(f"{self.scale.name}:{self.seed}:samples")
        accounts = sorted(((a.id, m.index) for m in self.members
                           for a in m.accounts.values()), key=lambda t: t[0])
        q4 = date(YEAR, 10, 1)
        roots = sorted(n for d, n in self.received_roots if d >= q4)
        rng.shuffle(roots)
        documents = sorted(self.doc_sample)
        rng.shuffle(documents)
        self.mass = {k: v // 1000 for k, v in self.mass.items()}
        return World(scale=self.scale, seed=self.seed, members=self.members,
                     counts=dict(sorted(self.counts.items())), mass_t=self.mass,
                     chain_roots=roots[:1000], documents=documents,
                     accounts=rng.sample(accounts, min(2000, len(accounts))))


def generate(engine: Engine, scale: Scale, seed: int = 42, *,
             progress: Progress = _quiet, writer: BulkWriter | None = None) -> World:
    """Build the world into a migrated, empty database."""
    writer = writer or BulkWriter(engine)
    gen = Generator(scale, seed, writer)
    with Session(engine) as db:
        gen.setup(db)
        head = db.execute(select(eventlog.EventLogEntry.sequence, eventlog.EventLogEntry.hash)
                          .order_by(eventlog.EventLogEntry.sequence.desc()).limit(1)).first()
        if head is not None:  # the setup's own entries (standards, users) come first
            gen.log_head = (head[0], head[1])
            tlog.catch_up(db)  # the setup's entries into the stored tree, then its edge
            db.commit()
            found = tlog.fetch(db, merkle.root_plan(head[0]))
            gen.tree = merkle.RightEdge.of_tree(head[0], lambda lv, i: found[(lv, i)])
    writer.begin_load()  # the year's rows from here on: the writer process, indexes later
    progress("simulating the year", 0, 365)
    gen.simulate(progress)
    world = gen.finish()
    writer.close()
    return world
