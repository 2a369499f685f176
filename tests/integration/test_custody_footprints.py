"""Footprints down the mass-balance chain on a real database (SQLite and PostgreSQL):
a chain mine -> refinery -> smelter -> mill -> car maker with an inventory at every
upstream entity, where the document at the end states the footprint computed here
independently, tier by tier; an entity without an inventory makes it unknown with the
reason; reversals, cancellation and the conservation audit keep holding."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import Session

from stewardship.carbon.models import CarbonInventory, CarbonProcess
from stewardship.core import credentials as vc
from stewardship.custody.models import CocDocument, CustodyOperation, MaterialAccount
from stewardship.custody.schemas import Refusal, ReversalCreate
from stewardship.custody.service import (
    audit,
    audit_records,
    document_credentials,
    documents,
    reversals,
)
from stewardship.registry.repository import organization_by_slug
from tests import custody_world as cw
from tests.today import TODAY

SIX = Decimal("0.000001")


def inventory(db: Session, m: cw.Member, outputs: dict[str, int], *, scope1_t: str,
              mwh: str = "0", factor: str = "0") -> None:
    """An entity-wide inventory for this year (mass allocation), seeded directly."""
    org = organization_by_slug(db, m.slug)
    assert org is not None
    db.add(CarbonInventory(
        organization_id=org.id, entity_id=m.entity_id, period_start=date(TODAY.year, 1, 1),
        period_end=date(TODAY.year, 12, 31), scope1_t=Decimal(scope1_t),
        electricity_mwh=Decimal(mwh), electricity_factor_t_per_mwh=Decimal(factor),
        recorded_by="system:test",
        processes=[CarbonProcess(process=p, output_kg=kg) for p, kg in outputs.items()]))
    db.flush()


@dataclass
class World:
    w: cw.Chain
    refinery: cw.Member
    carmaker: cw.Member


def _world(db: Session, *, mill_inventory: bool = True) -> World:
    w = cw.build(db)
    refinery = cw.add_member(db, w, "Gulf Alumina", "AU", ["alumina_refining"])
    carmaker = cw.add_member(db, w, "Auto Werk", "DE", ["other_manufacturing"])
    inventory(db, w.mine, {"mining": 4_000_000_000}, scope1_t="40000")          # 0.010000
    inventory(db, refinery, {"refining": 2_000_000_000}, scope1_t="1400000")    # 0.700000
    # smelting and casting share Scope 1 + 2 by output mass: (1,000,000 t + 5,000,000 MWh
    # x 0.2 t) over 400,000 t of output = 5.000000 per kg of each
    inventory(db, w.smelter, {"smelting": 300_000_000, "casting": 100_000_000},
              scope1_t="1000000", mwh="5000000", factor="0.2")
    if mill_inventory:
        inventory(db, w.mill, {"rolling": 800_000_000}, scope1_t="200000")     # 0.250000
    return World(w, refinery, carmaker)


def _run(db: Session, x: World) -> str:
    w = x.w
    cw.produce(db, w.mine, "asi_bauxite", 4_000_000)
    n = cw.ship(db, w.mine, x.refinery, "asi_bauxite", 4_000_000)
    cw.receive(db, x.refinery, n)
    cw.transform(db, x.refinery, "refining", "asi_bauxite", 4_000_000, "0.5")
    n = cw.ship(db, x.refinery, w.smelter, "asi_alumina", 2_000_000)
    cw.receive(db, w.smelter, n)
    cw.transform(db, w.smelter, "smelting", "asi_alumina", 2_000_000, "0.52")
    n = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 1_000_000)
    cw.receive(db, w.mill, n)
    cw.transform(db, w.mill, "rolling", "asi_aluminium", 1_000_000, "0.97")
    n = cw.ship(db, w.mill, x.carmaker, "asi_aluminium", 500_000)
    cw.receive(db, x.carmaker, n)
    return n


def _stated(value: Fraction) -> Decimal:
    """What a document states: six decimals, to the nearest, halves to even."""
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        SIX, rounding=ROUND_HALF_EVEN)


def _clean(db: Session, w: cw.Chain) -> None:
    result = audit.audit(db, w.secretariat)
    assert result.ok, result.problems
    report, _, breaks = audit_records.verify_documents(db)
    assert report.ok and breaks == []


def test_the_car_makers_document_carries_the_footprint_built_up_tier_by_tier(
        db: Session) -> None:
    x = _world(db)
    number = _run(db, x)
    # Independently: each document states its per kg to six decimals; the next tier
    # carries that, divided by its yield, plus its own per kg of output.
    bauxite = _stated(Fraction("0.01"))                          # mine -> refinery
    alumina = _stated(Fraction(bauxite) * 4_000_000 / 2_000_000 + Fraction("0.7"))
    smelted_kg = 2_000_000 * 52 // 100                           # 1,040,000 kg
    metal = _stated(Fraction(alumina) * 2_000_000 / smelted_kg + Fraction(5))
    rolled_kg = 1_000_000 * 97 // 100                            # 970,000 kg
    sheet = _stated(Fraction(metal) * 1_000_000 / rolled_kg + Fraction("0.25"))
    assert (bauxite, alumina) == (Decimal("0.010000"), Decimal("0.720000"))
    assert metal == Decimal("6.384615")
    doc = db.scalars(select(CocDocument).where(CocDocument.number == number)).one()
    assert doc.footprint_kg_co2e_per_kg == sheet == Decimal("6.832077")
    assert doc.footprint_primary_percent == Decimal("100.00")
    tiers = doc.footprint_tiers or []
    assert [(t["tier"], t["process"], t["country"]) for t in tiers] == [
        (0, "rolling", "DE"), (1, "smelting", "NO"), (2, "refining", "AU"),
        (3, "mining", "AU")]
    by_tier = {t["tier"]: Decimal(t["kg_co2e_per_kg"]) for t in tiers}
    assert by_tier[0] == Decimal("0.250000")
    # the smelter's own 5 per kg, divided by the mill's yield
    assert abs(by_tier[1] - Decimal(5) / Decimal("0.97")) <= Decimal("0.000002")
    assert sum(by_tier.values()) == sheet
    assert all(t["primary"] for t in tiers) and tiers[0]["entity"].startswith("Walz Rolling")
    # the read model both parties get, and the public one without the entities' names
    read = documents.get_document(db, x.carmaker.user, number).footprint
    assert read is not None and read.known and read.kg_co2e_per_kg == sheet
    assert read.t_co2e_total == (sheet * 500).quantize(Decimal("0.001"))
    assert sum(t.percent for t in read.tiers) == Decimal("100.00")
    assert documents.get_document(db, x.w.mill.user, number).footprint == read
    public = documents.verify_document(db, number).footprint
    assert public is not None and public.kg_co2e_per_kg == sheet
    assert [t.entity for t in public.tiers] == ["", "", "", ""]
    assert [t.kg_co2e_per_kg for t in public.tiers] == [t.kg_co2e_per_kg for t in read.tiers]
    # The document's signed credential states the same footprint, tier by tier, unnamed.
    issued = document_credentials.credential_of(db, number)
    assert issued is not None
    stated = vc.decode_jwt(issued.token).payload["credentialSubject"]["chainOfCustody"][
        "footprint"]
    assert stated["emissionsScorecard"]["carbonFootprint"] == "6.832077"
    assert stated["emissionsScorecard"]["primarySourcedRatio"] == "1.0000"
    assert [(r["tier"], r["process"], r["country"], r["kgCo2ePerKg"])
            for r in stated["tiers"]] == [
        (t["tier"], t["process"], t["country"], t["kg_co2e_per_kg"]) for t in tiers]
    assert "Walz" not in json.dumps(stated)
    _clean(db, x.w)


def test_an_entity_without_an_inventory_makes_the_footprint_unknown_with_the_reason(
        db: Session) -> None:
    x = _world(db, mill_inventory=False)
    number = _run(db, x)
    doc = db.scalars(select(CocDocument).where(CocDocument.number == number)).one()
    assert (doc.footprint_kg_co2e_per_kg, doc.footprint_primary_percent,
            doc.footprint_tiers) == (None, None, None)
    read = documents.get_document(db, x.carmaker.user, number).footprint
    assert read is not None and not read.known and read.kg_co2e_per_kg is None
    assert [(g.tier, g.process, g.kilograms) for g in read.gaps] == [(0, "rolling", 500_000)]
    assert "Walz Rolling" in read.gaps[0].reason
    assert "no emission inventory covering rolling" in read.gaps[0].reason
    # the smelter's document before it still has its footprint
    earlier = db.scalars(select(CocDocument).where(
        CocDocument.issuer_entity_id == x.w.smelter.entity_id)).one()
    assert earlier.footprint_kg_co2e_per_kg == Decimal("6.384615")
    _clean(db, x.w)


def test_unknown_upstream_stays_unknown_downstream(db: Session) -> None:
    x = _world(db)
    w = x.w
    cw.produce(db, w.smelter, "asi_aluminium", 10_000)      # its smelting: 5 per kg
    n = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 10_000)
    cw.receive(db, w.mill, n)
    stranger = cw.add_member(db, w, "Nordic Metal", "IS", ["smelting", "casthouse"])
    cw.produce(db, stranger, "asi_aluminium", 10_000)       # no inventory at all
    n = cw.ship(db, stranger, w.mill, "asi_aluminium", 10_000)
    cw.receive(db, w.mill, n)
    n = cw.ship(db, w.mill, x.carmaker, "asi_aluminium", 4_000)
    doc = documents.get_document(db, x.carmaker.user, n).footprint
    assert doc is not None and not doc.known
    assert [(g.tier, g.process, g.kilograms) for g in doc.gaps] == [(1, "smelting", 2_000)]
    assert "Nordic Metal" in doc.gaps[0].reason
    _clean(db, w)


def test_scrap_enters_burden_free_and_the_remelter_adds_its_own(db: Session) -> None:
    from stewardship.custody.schemas import ScrapIntakeCreate
    from stewardship.custody.service import inputs

    x = _world(db)
    w = x.w
    inventory(db, w.remelter, {"remelting": 500_000_000}, scope1_t="150000")   # 0.3
    inputs.record_scrap_intake(db, w.remelter.user, ScrapIntakeCreate(
        facility_id=w.remelter.facility, scrap_kind="post_consumer", kilograms=100_000,
        occurred_on=TODAY, note="DD file 7"), today=TODAY)
    cw.transform(db, w.remelter, "remelting", "eligible_scrap", 100_000, "0.9")
    n = cw.ship(db, w.remelter, w.mill, "asi_aluminium", 90_000)
    doc = db.scalars(select(CocDocument).where(CocDocument.number == n)).one()
    assert doc.footprint_kg_co2e_per_kg == Decimal("0.300000")
    _clean(db, w)


def test_cancellation_and_reversal_give_the_footprint_back_exactly(db: Session) -> None:
    x = _world(db)
    w = x.w
    cw.produce(db, w.mine, "asi_bauxite", 4_000_000)
    n = cw.ship(db, w.mine, x.refinery, "asi_bauxite", 4_000_000)
    cw.receive(db, x.refinery, n)

    def pool(material: str) -> dict[str, object]:
        db.expire_all()
        return db.scalars(select(MaterialAccount).where(
            MaterialAccount.entity_id == x.refinery.entity_id,
            MaterialAccount.material == material)).one().pool

    before = pool("asi_bauxite")
    cw.transform(db, x.refinery, "refining", "asi_bauxite", 1_000_000, "0.5")
    step = db.scalars(select(CustodyOperation).where(
        CustodyOperation.entity_id == x.refinery.entity_id,
        CustodyOperation.kind == "transformation")).one()
    shipped = cw.ship(db, x.refinery, w.smelter, "asi_alumina", 500_000)
    documents.cancel_document(db, x.refinery.user, shipped, Refusal(reason="wrong truck"),
                              today=TODAY)
    reversals.reverse_operation(db, x.refinery.user, step.id,
                                ReversalCreate(reason="Entered by mistake"), today=TODAY)
    assert pool("asi_bauxite") == before
    assert pool("asi_alumina")["footprint"] == {"known_kg": 0, "mg": [], "gaps": []}
    _clean(db, w)


def test_the_audit_names_a_footprint_changed_behind_the_platforms_back(db: Session) -> None:
    x = _world(db)
    number = _run(db, x)
    doc = db.scalars(select(CocDocument).where(CocDocument.number == number)).one()
    doc.footprint_kg_co2e_per_kg = Decimal("1.000000")
    db.flush()
    result = audit.audit(db, x.w.secretariat)
    assert not result.ok
    assert any(number in p and "footprint does not match" in p for p in result.problems)


def test_the_audit_names_an_account_whose_footprint_was_changed(db: Session) -> None:
    x = _world(db)
    cw.produce(db, x.w.mine, "asi_bauxite", 4_000)
    row = db.scalars(select(MaterialAccount).where(
        MaterialAccount.entity_id == x.w.mine.entity_id)).one()
    row.pool = {**row.pool, "footprint": {**row.pool["footprint"], "known_kg": 5_000}}
    db.flush()
    result = audit.audit(db, x.w.secretariat)
    assert any("its footprint covers 5000 kg of a 4000 kg balance" in p
               for p in result.problems), result.problems
