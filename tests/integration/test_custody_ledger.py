"""The custody ledger through its services on a real database: production to can sheet,
certificates on the shipment date, balances that cannot over-claim, receipts at most once
by the named recipient, cancellation and rejection, provenance, period close, the audit."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from stewardship.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from stewardship.core.pagination import PageParams
from stewardship.custody.schemas import (
    DocumentCreate,
    NonCocInputCreate,
    PeriodClose,
    ProductionCreate,
    Receipt,
    Refusal,
    ScrapIntakeCreate,
    SettingsUpdate,
)
from stewardship.custody.service import audit, chain, documents, inputs, periods, reads
from tests import custody_world as cw
from tests.today import TODAY

ALL = PageParams(1, 100)


def _balance(db: Session, m: cw.Member, material: str) -> int:
    page = reads.list_accounts(db, m.user, ALL, entity_id=m.entity_id)
    return sum(a.balance_kg for a in page.items if a.material.value == material
               and a.status == "open")


def _upstream(db: Session, w: cw.Chain) -> str:
    """Bauxite -> alumina -> aluminium at the smelter, shipped to the mill; returns the
    document number."""
    cw.produce(db, w.mine, "asi_bauxite", 4_000_000)
    cw.transform(db, w.mine, "refining", "asi_bauxite", 4_000_000, "0.5")
    number = cw.ship(db, w.mine, w.smelter, "asi_alumina", 2_000_000)
    cw.receive(db, w.smelter, number)
    cw.transform(db, w.smelter, "smelting", "asi_alumina", 2_000_000, "0.52")
    return cw.ship(db, w.smelter, w.mill, "asi_aluminium", 1_000_000)


def test_material_flows_from_mine_to_mill_with_its_origins(db: Session) -> None:
    w = cw.build(db)
    number = _upstream(db, w)
    assert _balance(db, w.mine, "asi_bauxite") == 0
    assert _balance(db, w.mine, "asi_alumina") == 0
    assert _balance(db, w.smelter, "asi_aluminium") == 40_000
    cw.receive(db, w.mill, number)
    assert _balance(db, w.mill, "asi_aluminium") == 1_000_000
    doc = documents.get_document(db, w.mill.user, number)
    assert doc.status == "received" and doc.received_on == TODAY
    assert doc.issuer.coc_certificate == w.smelter.certificates["chain_of_custody"]
    assert doc.recipient.performance_certificate == w.mill.certificates["performance"]
    origins = doc.composition.origins
    # The smelter first; where its alumina was refined and its bauxite mined second.
    assert [(o.facility_id, o.country, o.route, o.stage) for o in origins] == [
        (w.smelter.facility, "NO", "primary", "smelter")]
    assert origins[0].kilograms == 1_000_000 and origins[0].percent == Decimal("100.00")
    assert [([(s.stage, s.facility_id, s.country) for s in u.sites], u.percent)
            for u in origins[0].upstream] == [
        ([("refinery", w.mine.facility, "AU"), ("bauxite_mine", w.mine.facility, "AU")],
         Decimal("100.00"))]
    assert audit.audit(db, w.secretariat).problems == []


def test_recycled_and_primary_mix_in_proportion(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 600_000)
    inputs.record_scrap_intake(db, w.remelter.user, ScrapIntakeCreate(
        facility_id=w.remelter.facility, scrap_kind="post_consumer", kilograms=500_000,
        occurred_on=TODAY, note="Due diligence file DD-12"))
    cw.transform(db, w.remelter, "remelting", "eligible_scrap", 500_000, "0.8")
    n1 = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 600_000)
    n2 = cw.ship(db, w.remelter, w.mill, "asi_aluminium", 400_000)
    cw.receive(db, w.mill, n1)
    cw.receive(db, w.mill, n2)
    cw.transform(db, w.mill, "rolling", "asi_aluminium", 1_000_000, "0.97")
    can = cw.ship(db, w.mill, w.canmaker, "asi_aluminium", 500_000, quantity=800_000)
    doc = documents.get_document(db, w.canmaker.user, can)
    comp = doc.composition
    assert comp.kilograms == 500_000
    by_route = {o.route: o.kilograms for o in comp.origins}
    assert by_route == {"primary": 300_000, "recycled": 200_000}
    assert comp.recycled_percent == Decimal("40.00")
    assert "60% " in comp.summary and "(NO)" in comp.summary and "40% recycled" in comp.summary
    # what remains at the mill keeps the same mix
    left = reads.list_accounts(db, w.mill.user, ALL, entity_id=w.mill.entity_id).items
    metal = next(a for a in left if a.material.value == "asi_aluminium")
    assert metal.balance_kg == 470_000 and metal.composition.kilograms == 470_000
    assert metal.composition.recycled_percent == Decimal("40.00")


def test_issue_is_refused_beyond_the_balance_and_nothing_moves(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 1_000)
    with pytest.raises(Conflict) as refused:
        cw.ship(db, w.smelter, w.mill, "asi_aluminium", 1_001)
    assert "exceeds the available balance of 1000 kg" in refused.value.message
    assert refused.value.details[0]["field"] == "coc_quantity_kg"
    assert _balance(db, w.smelter, "asi_aluminium") == 1_000
    assert documents.list_documents(db, w.smelter.user, ALL).total == 0


def test_issue_needs_both_certificates_on_the_shipment_date(db: Session) -> None:
    w = cw.build(db, certified=False)
    cw.certify(db, w, w.smelter, "performance")
    cw.certify(db, w, w.smelter, "chain_of_custody",
               valid_from=TODAY - timedelta(days=10))
    with pytest.raises(Conflict) as refused:  # production needs them too
        cw.produce(db, w.smelter, "asi_aluminium", 5_000, on=TODAY - timedelta(days=20))
    assert "Chain of Custody" in refused.value.message
    # Produced and shipped on one day: one accounting period, even on 2 January.
    cw.produce(db, w.smelter, "asi_aluminium", 5_000, on=TODAY - timedelta(days=3))
    with pytest.raises(Conflict) as refused:
        cw.ship(db, w.smelter, w.mill, "asi_aluminium", 100, on=TODAY - timedelta(days=11))
    assert "no valid Chain of Custody certificate" in refused.value.message
    assert refused.value.details[0]["field"] == "shipment_date"
    assert cw.ship(db, w.smelter, w.mill, "asi_aluminium", 100, on=TODAY - timedelta(days=3))


def test_a_suspended_certificate_stops_issuing(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 5_000)
    db.execute(text("UPDATE certificates SET status = 'suspended' WHERE number = :n"),
               {"n": w.smelter.certificates["performance"]})
    number = w.smelter.certificates["performance"]
    with pytest.raises(Conflict, match=f"its Performance certificate {number} is suspended"):
        cw.ship(db, w.smelter, w.mill, "asi_aluminium", 100)


def test_receipt_only_by_the_named_recipient_and_at_most_once(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 5_000)
    number = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 2_000)
    with pytest.raises(NotFound):
        documents.receive_document(db, w.canmaker.admin, number, Receipt())
    with pytest.raises(Forbidden, match="only the recipient"):
        documents.receive_document(db, w.smelter.admin, number, Receipt())
    cw.receive(db, w.mill, number)
    with pytest.raises(Conflict, match="already received"):
        cw.receive(db, w.mill, number)
    assert _balance(db, w.mill, "asi_aluminium") == 2_000


def test_receipt_dates_are_checked(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 5_000, on=TODAY - timedelta(days=3))
    number = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 2_000,
                     on=TODAY - timedelta(days=2))
    with pytest.raises(InvalidInput, match="before the shipment date"):
        cw.receive(db, w.mill, number, on=TODAY - timedelta(days=3))
    with pytest.raises(InvalidInput, match="in the future"):
        cw.receive(db, w.mill, number, on=TODAY + timedelta(days=1))


def test_cancel_and_reject_return_the_balance_to_the_issuer(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 5_000)
    first = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 2_000)
    second = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 3_000)
    assert _balance(db, w.smelter, "asi_aluminium") == 0
    with pytest.raises(Forbidden):
        documents.cancel_document(db, w.mill.user, first, Refusal(reason="not ours"))
    documents.cancel_document(db, w.smelter.user, first, Refusal(reason="wrong truck"))
    documents.reject_document(db, w.mill.user, second, Refusal(reason="not ordered"))
    assert _balance(db, w.smelter, "asi_aluminium") == 5_000
    with pytest.raises(Conflict, match="already cancelled"):
        cw.receive(db, w.mill, first)
    with pytest.raises(Conflict, match="already rejected"):
        documents.cancel_document(db, w.smelter.user, second, Refusal(reason="again"))
    assert audit.audit(db, w.secretariat).ok


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"recipient_entity_id": "self"}, "recipient_entity_id", "not to its issuer"),
    ({"shipment_date": TODAY + timedelta(days=1)}, "shipment_date", "in the future"),
    ({"coc_quantity_kg": 11, "quantity_kg": 10}, "coc_quantity_kg", "exceeds the shipped"),
    ({"period_start": date(2001, 1, 1)}, "shipment_date", "outside the accounting period"),
    ({"period_start": date(TODAY.year, 2, 3)}, "period_start", "not the start"),
])
def test_bad_documents_are_refused_naming_the_field(db: Session, change: dict[str, object],
                                                    field: str, message: str) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 5_000, on=TODAY - timedelta(days=1))
    values: dict[str, object] = {"recipient_entity_id": w.mill.entity_id,
                                 "material": "asi_aluminium", "quantity_kg": 10,
                                 "coc_quantity_kg": 10,
                                 "shipment_date": TODAY - timedelta(days=1)}
    values.update(change)
    if values["recipient_entity_id"] == "self":
        values["recipient_entity_id"] = w.smelter.entity_id
    with pytest.raises((InvalidInput, Conflict)) as refused:
        documents.issue_document(db, w.smelter.user, DocumentCreate.model_validate(values),
                                 today=TODAY)
    assert message in refused.value.message
    assert refused.value.details[0]["field"] == field
    assert _balance(db, w.smelter, "asi_aluminium") == 5_000


def test_yields_beyond_physics_and_wrong_steps_are_refused(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.mine, "asi_bauxite", 10_000)
    with pytest.raises(InvalidInput, match=r"exceeds the physical limit of 0\.85") as refused:
        cw.transform(db, w.mine, "refining", "asi_bauxite", 1_000, "0.9")
    assert refused.value.details[0]["field"] == "declared_yield"
    assert "typical" in refused.value.message
    with pytest.raises(InvalidInput, match="takes ASI Bauxite as input"):
        cw.transform(db, w.mine, "refining", "asi_alumina", 1_000, "0.5")
    with pytest.raises(InvalidInput, match="Alumina refining"):  # a mill does not refine
        cw.transform(db, w.mill, "refining", "asi_bauxite", 1_000, "0.5")
    with pytest.raises(Conflict, match="exceeds the available balance"):
        cw.transform(db, w.mine, "refining", "asi_bauxite", 10_001, "0.5")
    assert _balance(db, w.mine, "asi_bauxite") == 10_000


def test_production_needs_an_origin_facility_of_the_entity(db: Session) -> None:
    w = cw.build(db)
    with pytest.raises(InvalidInput, match="the Bauxite mining activity"):
        cw.produce(db, w.smelter, "asi_bauxite", 100)
    with pytest.raises(InvalidInput, match="scrap intake"):
        cw.produce(db, w.remelter, "eligible_scrap", 100)
    with pytest.raises(InvalidInput, match="not one of"):
        inputs.record_production(db, w.smelter.user, ProductionCreate(
            facility_id=w.mine.facility, material="asi_bauxite", kilograms=100,
            occurred_on=TODAY))


def test_non_coc_inputs_set_the_input_percentage(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 300)
    inputs.record_non_coc_input(db, w.smelter.user, NonCocInputCreate(
        material="asi_aluminium", kilograms=700, occurred_on=TODAY))
    account = reads.list_accounts(db, w.smelter.user, ALL).items[0]
    assert account.input_percentage == Decimal("30.00")
    assert account.balance_kg == 300 and account.non_coc_in == 700


def test_accounts_are_private_to_their_organisation(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 300)
    assert reads.list_accounts(db, w.mill.admin, ALL).total == 0
    mine = reads.list_accounts(db, w.smelter.user, ALL).items[0]
    with pytest.raises(NotFound):
        reads.get_account(db, w.mill.admin, mine.id)
    with pytest.raises(NotFound):
        reads.list_accounts(db, w.mill.admin, ALL, entity_id=w.smelter.entity_id)
    assert reads.list_accounts(db, w.secretariat, ALL).total >= 1


def test_closing_a_period_carries_the_balance_and_its_origins(db: Session) -> None:
    w = cw.build(db)
    last_year = date(TODAY.year - 1, 6, 1)
    cw.produce(db, w.smelter, "asi_aluminium", 9_000, on=last_year)
    cw.ship(db, w.smelter, w.mill, "asi_aluminium", 4_000, on=last_year)
    start = date(TODAY.year - 1, 1, 1)
    with pytest.raises(Conflict, match="has not ended"):
        periods.close_period(db, w.smelter.user, PeriodClose(period_start=date(TODAY.year, 1, 1)))
    result = periods.close_period(db, w.smelter.user, PeriodClose(period_start=start))
    assert result.carried == {"asi_aluminium": 5_000} and result.expired == {"asi_aluminium": 0}
    with pytest.raises(Conflict, match="already closed"):
        periods.close_period(db, w.smelter.user, PeriodClose(period_start=start))
    with pytest.raises(Conflict, match="is closed"):
        cw.produce(db, w.smelter, "asi_aluminium", 1, on=last_year)
    assert _balance(db, w.smelter, "asi_aluminium") == 5_000
    now = next(a for a in reads.list_accounts(db, w.smelter.user, ALL).items
               if a.status == "open")
    assert now.carried_in == 5_000 and now.composition.origins[0].facility_id == w.smelter.facility
    cw.ship(db, w.smelter, w.mill, "asi_aluminium", 5_000)
    assert audit.audit(db, w.secretariat).ok


def test_carry_over_cap_expires_the_rest(db: Session) -> None:
    w = cw.build(db)
    periods.update_settings(db, w.smelter.admin, w.smelter.entity_id,
                            SettingsUpdate(period_months=3, carry_over_cap=1_000))
    day = date(TODAY.year - 1, 2, 10)
    cw.produce(db, w.smelter, "asi_aluminium", 2_500, on=day)
    with pytest.raises(Conflict, match="fixed once accounts exist"):
        periods.update_settings(db, w.smelter.admin, w.smelter.entity_id,
                                SettingsUpdate(period_months=12))
    result = periods.close_period(db, w.smelter.user,
                                  PeriodClose(period_start=date(TODAY.year - 1, 1, 1)))
    assert result.carried == {"asi_aluminium": 1_000}
    assert result.expired == {"asi_aluminium": 1_500}
    assert audit.audit(db, w.secretariat).ok


def test_chain_view_walks_back_tier_by_tier(db: Session) -> None:
    w = cw.build(db)
    first = _upstream(db, w)
    cw.receive(db, w.mill, first)
    can = cw.ship(db, w.mill, w.canmaker, "asi_aluminium", 500_000)
    view = chain.chain(db, w.canmaker.admin, can)
    assert [[d.number for d in t.documents] for t in view.tiers][:2] == [[can], [first]]
    assert view.tiers[2].documents[0].material == "asi_alumina"
    assert view.tiers[1].documents[0].fed == [can]
    with pytest.raises(NotFound):
        chain.chain(db, w.remelter.admin, can)


def test_unmatched_documents_are_listed_per_pair(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 5_000, on=TODAY - timedelta(days=60))
    old = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 1_000, on=TODAY - timedelta(days=45))
    # In early January the recent shipment falls in a new accounting period: its material
    # is produced there, not carried from the old one.
    cw.produce(db, w.smelter, "asi_aluminium", 1_000, on=TODAY - timedelta(days=2))
    cw.ship(db, w.smelter, w.mill, "asi_aluminium", 1_000, on=TODAY - timedelta(days=2))
    result = chain.unmatched(db, w.mill.admin, ALL, days=30, today=TODAY)
    assert [d.number for d in result.documents.items] == [old]
    assert result.pairs[0].documents == 1 and result.pairs[0].days_waiting == 45
    assert chain.unmatched(db, w.canmaker.admin, ALL, days=30, today=TODAY).documents.total == 0
    assert chain.unmatched(db, w.secretariat, ALL, days=0, today=TODAY).documents.total == 2


def test_public_verification_shows_certificates_at_shipment(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 5_000)
    number = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 1_000)
    seen = documents.verify_document(db, number.lower())
    assert seen.issuer.organization == w.smelter.slug
    assert {c.kind for c in seen.certificates} == {"performance", "chain_of_custody"}
    assert all(c.valid_on_shipment for c in seen.certificates)
    assert seen.composition.origins[0].country == "NO"
    with pytest.raises(NotFound):
        documents.verify_document(db, "COC-2026-NOPE")


def test_the_audit_names_where_a_balance_was_tampered_with(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 5_000)
    db.execute(text("UPDATE material_accounts SET balance_kg = 6000, produced = 6000"))
    found = audit.audit(db, w.secretariat)
    assert not found.ok
    assert any("Fjell Aluminium" in p and "movements sum to 5000 kg" in p
               for p in found.problems)


def test_movements_are_append_only(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 5_000)
    with pytest.raises(Exception, match="append-only"), db.begin_nested():
        db.execute(text("UPDATE custody_movements SET kilograms = 1"))
    with pytest.raises(Exception, match="append-only"), db.begin_nested():
        db.execute(text("DELETE FROM custody_operations"))


def test_operations_are_journalled_with_typical_yields(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.mine, "asi_bauxite", 1_000)
    cw.transform(db, w.mine, "refining", "asi_bauxite", 1_000, "0.45")
    journal = reads.list_operations(db, w.mine.user, w.mine.entity_id, ALL)
    assert [o.kind for o in journal.items] == ["transformation", "production"]
    step = journal.items[0]
    assert step.kilograms == 450 and step.input_kg == 1_000
    assert step.typical_yield == "0.3 to 0.5 kg/kg (indicative)"
    kinds = [k for (k,) in db.execute(text(
        "SELECT kind FROM event_log WHERE kind LIKE 'custody.%' ORDER BY sequence"))]
    assert kinds == ["custody.production.recorded", "custody.transformation.recorded"]


def test_chain_view_follows_every_branch_with_its_own_window(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 5_000)
    inputs.record_scrap_intake(db, w.remelter.user, ScrapIntakeCreate(
        facility_id=w.remelter.facility, scrap_kind="pre_consumer", kilograms=4_000,
        occurred_on=TODAY))
    cw.transform(db, w.remelter, "remelting", "eligible_scrap", 4_000, "0.9")
    primary = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 3_000)
    recycled = cw.ship(db, w.remelter, w.mill, "asi_aluminium", 2_000)
    for number in (primary, recycled):
        cw.receive(db, w.mill, number)
    sheet = cw.ship(db, w.mill, w.canmaker, "asi_aluminium", 4_000)
    cw.receive(db, w.canmaker, sheet)
    can = cw.ship(db, w.canmaker, w.trader, "asi_aluminium", 1_000)
    view = chain.chain(db, w.canmaker.admin, can)
    assert [[d.number for d in t.documents] for t in view.tiers] == [
        [can], [sheet], [primary, recycled]]
    assert view.tiers[2].documents[1].fed == [sheet] and view.tiers[2].more == 0
    assert not view.truncated
    shallow = chain.chain(db, w.canmaker.admin, can, depth=1)
    assert shallow.truncated and len(shallow.tiers) == 2
    with pytest.raises(InvalidInput):
        chain.chain(db, w.canmaker.admin, can, depth=0)


def test_periods_of_different_lengths_do_not_confuse_the_audit(db: Session) -> None:
    w = cw.build(db)
    periods.update_settings(db, w.mill.admin, w.mill.entity_id,
                            SettingsUpdate(period_months=3))
    day = date(TODAY.year - 1, 2, 10)
    cw.produce(db, w.smelter, "asi_aluminium", 5_000, on=day)
    number = cw.ship(db, w.smelter, w.mill, "asi_aluminium", 4_000, on=day)
    cw.receive(db, w.mill, number, on=day + timedelta(days=3))
    found = audit.audit(db, w.secretariat)
    assert found.problems == []
