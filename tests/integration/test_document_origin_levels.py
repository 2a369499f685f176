"""The origin levels kept beside each CoC document (SQLite and PostgreSQL): whether a
document was issued one at a time, in a batch or by the world's bulk loader, received,
rejected or cancelled (a composition is never rewritten), what is kept names the
composition and itself as stored (its digest) and equals the levels computed from it;
the migration that adds them writes the very same for the documents already there; and
the chain trace shows the origins of the composition as stored even where what is kept
is missing or no longer belongs to it."""

from __future__ import annotations

import json

from alembic import command
from benchmarks.world import SCALES, generate
from sqlalchemy import Engine, Text, cast, select, update
from sqlalchemy.orm import Session

from stewardship.core.auth import system_actor
from stewardship.core.migrate import alembic_config
from stewardship.custody.models import CocDocument
from stewardship.custody.origins import rules as origin_rules
from stewardship.custody.origins import stored
from stewardship.custody.schemas import DocumentCreate, Refusal
from stewardship.custody.service import batch, chain, documents
from tests import custody_world as cw
from tests.integration.test_chain_trace import assert_same
from tests.today import TODAY


def _kept(db: Session) -> dict[str, tuple[object, object, str, str]]:
    d = CocDocument
    rows = db.execute(select(d.number, d.origin_levels, d.origin_levels_of,
                             cast(d.composition, Text).label("c"),
                             cast(d.origin_levels, Text).label("l"))
                      .order_by(d.number))
    return {n: (levels, of, text, stored.digest(text, kept))
            for n, levels, of, text, kept in rows}


def _assert_true(kept: dict[str, tuple[object, object, str, str]]) -> None:
    assert kept
    for number, (levels, of, text, digest) in kept.items():
        assert of == digest, number
        assert isinstance(levels, list)
        computed = stored.levels_of(json.loads(text))
        assert stored.levels_from_data(levels) == computed, number
        assert levels == stored.levels_to_data(computed), number


def test_levels_round_trip_to_what_they_were() -> None:
    sites = [origin_rules.Site(origin_rules.Stage.SMELTER, "NO2024AAAAAAA", "NO"),
             origin_rules.Site(origin_rules.Stage.REFINERY, "BR2024BBBBBBB", "BR"),
             origin_rules.Site(origin_rules.Stage.MINE, "GN2024CCCCCCC", "GN")]
    parts = {origin_rules.origin_key(origin_rules.Route.PRIMARY, sites): 2_001,
             origin_rules.origin_key(origin_rules.Route.PRIMARY, sites[:1]): 3,
             origin_rules.origin_key(origin_rules.Route.RECYCLED, [origin_rules.Site(
                 origin_rules.Stage.REMELTER, "DE2024DDDDDDD", "DE")]): 997}
    pool = origin_rules.Pool(parts=parts)
    levels = origin_rules.origin_levels(pool.parts)
    data = json.loads(json.dumps(stored.levels_to_data(levels)))
    back = stored.levels_from_data(data)
    assert back == levels
    assert [str(lv.percent) for lv in back] == [str(lv.percent) for lv in levels]
    rows = stored.levels_as_rows(data)
    assert rows == tuple((lv.site.stage.value, lv.site.facility_id, lv.site.country,
                          lv.route.value, lv.kilograms, lv.percent,
                          tuple((tuple((s.stage.value, s.facility_id, s.country)
                                       for s in up.sites), up.kilograms, up.percent)
                                for up in lv.upstream)) for lv in levels)
    assert stored.facilities(rows) == ("NO2024AAAAAAA", "BR2024BBBBBBB", "GN2024CCCCCCC",
                                       "DE2024DDDDDDD")


def test_kept_levels_hold_through_issue_batch_receipt_and_refusals(
        db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 50_000)
    received = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 4_000)
    cw.receive(db, w.mill, received)
    rejected = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 3_000)
    documents.reject_document(db, w.mill.user, rejected, Refusal(reason="Wrong alloy."),
                              today=TODAY)
    cancelled = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 2_000)
    documents.cancel_document(db, w.smelter.user, cancelled, Refusal(reason="Not sent."),
                              today=TODAY)
    batch.issue_documents(db, w.smelter.user, [DocumentCreate(
        recipient_entity_id=w.mill.entity_id, material="asi_aluminium",
        quantity_kg=kg, coc_quantity_kg=kg, shipment_date=TODAY,
        description=f"Lot {kg}") for kg in (1_000, 1_500)], today=TODAY)
    sheet = cw.ship(db, w.mill, w.canmaker, "asi_aluminium", 3_000)
    cw.receive(db, w.canmaker, sheet)
    db.flush()
    kept = _kept(db)
    assert {received, rejected, cancelled, sheet} <= set(kept)
    assert len(kept) == 6
    _assert_true(kept)
    assert_same(db, w.secretariat, sheet)


def test_the_trace_computes_what_is_not_kept_or_no_longer_belongs(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 5_000)
    first = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 2_000)
    cw.receive(db, w.mill, first)
    second = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 1_000)
    cw.receive(db, w.mill, second)
    sheet = cw.ship(db, w.mill, w.canmaker, "asi_aluminium", 1_000)
    # One document without levels (as before they were kept), one whose levels name
    # another composition (a row changed behind the platform's back).
    db.execute(update(CocDocument).where(CocDocument.number == first)
               .values(origin_levels=None, origin_levels_of=None))
    db.execute(update(CocDocument).where(CocDocument.number == second)
               .values(origin_levels=[["remelter", "DE2024DDDDDDD", "DE", "recycled",
                                       1_000, 10_000, []]]))
    db.expire_all()
    chain._ORIGINS.clear()
    read = assert_same(db, w.secretariat, sheet)
    shown = {o.facility_id for t in read.tiers for d in t.documents for o in d.origins}
    assert "DE2024DDDDDDD" not in shown


def test_the_loader_and_the_migration_keep_the_same_levels(scratch_engine: Engine) -> None:
    generate(scratch_engine, SCALES["tiny"], seed=11)
    with Session(scratch_engine) as db:
        loaded = _kept(db)
        _assert_true(loaded)
        assert any(len(levels) > 1 for levels, *_ in loaded.values())  # type: ignore[arg-type]
    with scratch_engine.begin() as connection:
        config = alembic_config(scratch_engine)
        config.attributes["connection"] = connection
        command.downgrade(config, "0024")
    with scratch_engine.begin() as connection:
        config = alembic_config(scratch_engine)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    with Session(scratch_engine) as db:
        assert _kept(db) == loaded
    with Session(scratch_engine) as db:
        number = db.scalars(select(CocDocument.number).where(
            CocDocument.status == "received").order_by(CocDocument.number)).first()
        assert number is not None
        assert_same(db, system_actor("tests"), number)
