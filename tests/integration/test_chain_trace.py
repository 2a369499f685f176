"""The chain trace gives exactly what the straightforward walk gives: the walk the trace
replaced (a tier's windows as a union of literal rows, ranked and counted with window
functions, every matching row read whole) is kept here as the oracle, and on the tiny
benchmark world and the custody test world both must agree for every document, every
depth asked and every party asking (the same tiers, order, counts of what is not listed,
truncation, and the same refusal to whoever may not see the document)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from benchmarks.world import SCALES, generate
from sqlalchemy import (
    Date,
    Engine,
    Integer,
    Uuid,
    and_,
    func,
    literal,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session

from stewardship.assurance.rules import add_months
from stewardship.core.auth import Actor, system_actor
from stewardship.core.errors import NotFound
from stewardship.custody import repository as repo
from stewardship.custody import rules
from stewardship.custody.models import CocDocument
from stewardship.custody.schemas import (
    ChainLink,
    ChainRead,
    ChainTier,
    Refusal,
    ScrapIntakeCreate,
    SettingsUpdate,
)
from stewardship.custody.service import chain, common, documents, inputs, periods
from tests import custody_world as cw
from tests.today import TODAY

# --- the oracle: the walk as it was -----------------------------------------------------


def _received_in_windows(db: Session, windows: list[tuple[int, uuid.UUID, object, object,
                                                         object]], per_window: int) -> list:
    w = union_all(*(select(literal(k, Integer).label("k"), literal(e, Uuid).label("entity"),
                           literal(a, Date).label("since"), literal(b, Date).label("until"),
                           literal(c, Date).label("upto"))
                    for k, e, a, b, c in windows)).cte("w")
    d = CocDocument
    ranked = (select(w.c.k, d.id, d.number, d.issuer_entity_id, d.recipient_entity_id,
                     d.material, d.coc_quantity_kg, d.shipment_date, d.period_start,
                     d.composition,
                     func.row_number().over(partition_by=w.c.k, order_by=(
                         d.coc_quantity_kg.desc(), d.number)).label("rank"),
                     func.count().over(partition_by=w.c.k).label("total"))
              .join(w, and_(d.recipient_entity_id == w.c.entity, d.status == "received",
                            d.receipt_period_start >= w.c.since,
                            d.receipt_period_start <= w.c.until,
                            d.received_on <= w.c.upto))
              .subquery())
    return list(db.execute(select(ranked).where(ranked.c.rank <= per_window)
                           .order_by(ranked.c.k, ranked.c.rank)))


def oracle(db: Session, actor: Actor | None, number: str, depth: int = 8) -> ChainRead:
    root = repo.document_by_number(db, number.strip().upper())
    if root is None or not (common.may_read(actor, root.issuer_organization_id)
                            or common.may_read(actor, root.recipient_organization_id)):
        raise NotFound(f"no CoC document '{number}'", field="number")
    tiers: list[list] = [[root]]
    fed: dict[str, list[str]] = {}
    more = [0]
    seen = {root.id}
    truncated = False
    for level in range(1, depth + 1):
        parents = tiers[-1]
        found_settings = repo.settings_of_entities(db, [p.issuer_entity_id for p in parents])

        def months(entity_id: uuid.UUID, found_settings: dict = found_settings) -> int:
            s = found_settings.get(entity_id)
            return s.period_months * s.carry_over_expiry if s else rules.DEFAULT_PERIOD_MONTHS

        windows = [(k, p.issuer_entity_id, add_months(p.period_start,
                                                      -months(p.issuer_entity_id)),
                    p.period_start, p.shipment_date) for k, p in enumerate(parents)]
        rows = _received_in_windows(db, windows, chain.PER_DOCUMENT)
        totals = {row.k: row.total for row in rows}
        hidden = sum(t - min(t, chain.PER_DOCUMENT) for t in totals.values())
        found = []
        for row in rows:
            fed.setdefault(row.number, []).append(parents[row.k].number)
            if row.id in seen:
                continue
            seen.add(row.id)
            if len(found) < chain.PER_TIER:
                found.append(row)
            else:
                hidden += 1
        if not found and not hidden:
            break
        tiers.append(found)
        more.append(hidden)
        if level == depth and found:
            truncated = True
    names = common.Names(db, [d.issuer_entity_id for t in tiers for d in t]
                         + [d.recipient_entity_id for t in tiers for d in t],
                         common.pool_facilities(*(d.composition for t in tiers for d in t)))
    return ChainRead(number=root.number, truncated=truncated, tiers=[ChainTier(
        depth=i, more=more[i], documents=[ChainLink(
            number=d.number, issuer=names.party(d.issuer_entity_id).entity,
            recipient=names.party(d.recipient_entity_id).entity, material=d.material,
            coc_quantity_kg=d.coc_quantity_kg, shipment_date=d.shipment_date,
            origins=common.origins(rules.pool_from_data(d.composition), names),
            fed=sorted(set(fed.get(d.number, [])))) for d in t])
        for i, t in enumerate(tiers)])


def _outcome(fn, *args, **kwargs) -> object:  # type: ignore[no-untyped-def]
    try:
        return fn(*args, **kwargs)
    except NotFound as error:
        return ("not found", str(error))


def assert_same(db: Session, actor: Actor | None, number: str, depth: int = 8) -> ChainRead:
    ours = _outcome(chain.chain, db, actor, number, depth=depth)
    assert ours == _outcome(oracle, db, actor, number, depth), (number, depth)
    return ours  # type: ignore[return-value]


# --- the tiny benchmark world -----------------------------------------------------------


def test_the_trace_equals_the_walk_for_every_document_of_the_tiny_world(
        scratch_engine: Engine) -> None:
    world = generate(scratch_engine, SCALES["tiny"], seed=7)
    by_entity = world.member_by_entity()
    secretariat = system_actor("tests")
    with Session(scratch_engine) as db:
        docs = db.execute(select(CocDocument.number, CocDocument.issuer_entity_id,
                                 CocDocument.recipient_entity_id)
                          .order_by(CocDocument.number)).all()
        assert len(docs) > 100
        deep = 0
        for i, (number, issuer, recipient) in enumerate(docs):
            if i % 5:  # a fifth of the documents, spread over the year and the tiers
                continue
            read = assert_same(db, secretariat, number)
            deep += len(read.tiers) == 9
            if i % 25 == 0:  # the parties, and a member of neither side (refused by both)
                assert_same(db, by_entity[recipient].actor(), number)
                assert_same(db, by_entity[issuer].actor(), number, depth=3)
                other = next(m for m in world.members
                             if m.entity_id not in (issuer, recipient))
                assert isinstance(assert_same(db, other.actor(), number), tuple)
        assert deep, "some chains run the whole depth"
        for number in world.chain_roots[:5]:
            for depth in (1, 2, 5, 20):
                assert_same(db, secretariat, number, depth)


# --- the custody test world -------------------------------------------------------------


def test_the_trace_equals_the_walk_on_the_custody_world(db: Session) -> None:
    """Many suppliers' documents with equal quantities (ranked by number), more than ten
    behind one document and more than a tier shows, receipts after a later shipment
    (outside its window), rejected and unconfirmed documents (never behind anything),
    carry-over periods widened, and a facility renamed between two traces."""
    w = cw.build(db)
    # Days of this year's period (all today early in January).
    days = [max(cw.YEAR_START, TODAY - timedelta(days=n)) for n in (9, 7, 5, 3, 1, 0)]
    start = days[0]
    cw.produce(db, w.mine, "asi_bauxite", 900_000, on=start)
    cw.transform(db, w.mine, "refining", "asi_bauxite", 900_000, "0.45", on=start)
    cw.produce(db, w.smelter, "asi_aluminium", 400_000, on=start)
    for _ in range(3):
        alumina = cw.ship(db, w.mine, w.smelter, "asi_alumina", 20_000, on=start)
        cw.receive(db, w.smelter, alumina, on=start)
    cw.transform(db, w.smelter, "smelting", "asi_alumina", 60_000, "0.5", on=start)
    sent: list[str] = []
    for i in range(16):  # equal quantities in pairs: the tie goes to the lower number
        day = days[i % 4]
        number = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 1_000 + 100 * (i // 2),
                         on=day)
        sent.append(number)
        cw.receive(db, w.mill, number, on=days[i % 4 + 1])
    inputs.record_scrap_intake(db, w.remelter.user, ScrapIntakeCreate(
        facility_id=w.remelter.facility, scrap_kind="pre_consumer", kilograms=60_000,
        occurred_on=start), today=TODAY)
    cw.transform(db, w.remelter, "remelting", "eligible_scrap", 60_000, "0.9", on=start)
    for i in range(14):
        number = cw.ship(db, w.remelter, w.mill, "asi_aluminium", 900 + 50 * i, on=days[i % 3])
        cw.receive(db, w.mill, number, on=days[i % 3 + 1])
    rejected = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 9_000, on=days[0])
    documents.reject_document(db, w.mill.user, rejected, Refusal(reason="Wrong alloy."),
                              today=TODAY)
    waiting = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 8_000, on=days[0])
    sheets = [cw.ship(db, w.mill, w.canmaker, "asi_aluminium", 2_000, on=day)
              for day in days[1:]]
    for sheet in sheets:
        cw.receive(db, w.canmaker, sheet, on=TODAY)
    cans = [cw.ship(db, w.canmaker, w.trader, "asi_aluminium", 1_500, on=TODAY)
            for _ in range(2)]
    numbers = [n for (n,) in db.execute(select(CocDocument.number).order_by(
        CocDocument.number))]
    assert {rejected, waiting, *cans} <= set(numbers)
    parties = [w.secretariat, w.mill.user, w.canmaker.admin, w.trader.user, w.mine.user]

    def every(depths: tuple[int, ...] = (8,)) -> list[ChainRead]:
        reads = []
        for number in numbers:
            for actor in parties:
                for depth in depths:
                    reads.append(assert_same(db, actor, number, depth))
        return reads

    reads = every((1, 2, 8))
    deepest = assert_same(db, w.secretariat, cans[0])
    assert deepest.tiers[2].more > 0, "more than a tier shows behind the sheets"
    assert any(isinstance(r, ChainRead) and r.truncated for r in reads)
    # Wider windows for the mill: carried balances may come from the period before.
    periods.update_settings(db, w.mill.admin, w.mill.entity_id, SettingsUpdate(
        period_months=12, carry_over_expiry=3))
    every()
    # A facility renamed: the origins kept from earlier traces show the new name.
    db.execute(text("UPDATE facilities SET name = 'Fjell Works Renamed' "
                    "WHERE public_id = :p"), {"p": w.smelter.facility})
    db.expire_all()
    renamed = assert_same(db, w.secretariat, cans[0])
    assert any(o.facility == "Fjell Works Renamed" for t in renamed.tiers
               for d in t.documents for o in d.origins)


@pytest.mark.parametrize("kept", [0, 1])
def test_origins_kept_between_traces_never_outlive_their_composition(
        db: Session, kept: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the trace keeps is checked against the document each time: a composition
    that differs (as a tampered row would) is shown as stored, like the walk shows it."""
    monkeypatch.setattr(chain, "ORIGINS_KEPT", 1 + kept)
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 5_000)
    first = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 2_000)
    cw.receive(db, w.mill, first)
    sheet = cw.ship(db, w.mill, w.canmaker, "asi_aluminium", 1_000)
    assert_same(db, w.secretariat, sheet)
    row = repo.document_by_number(db, first)
    assert row is not None
    row.composition = {"parts": [["NO2024AAAAAAA", "NO", "recycled", 2000]],
                       "attributes": {}}
    db.flush()
    read = assert_same(db, w.secretariat, sheet)
    assert read.tiers[1].documents[0].origins[0].route == "recycled"
