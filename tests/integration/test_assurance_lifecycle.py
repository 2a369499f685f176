"""The certificate lifecycle through the services: supersession within a scope (and what
the chain of custody makes of a superseded certificate), the refusal's words for a
certificate that lapsed, rescheduled audits and their plan notice, and imported
certificates counting for custody."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from stewardship.assurance.rules import AuditType
from stewardship.assurance.schemas import (
    AuditReschedule,
    CertificateImportRow,
    Note,
    PlanSubmit,
    StatusChange,
)
from stewardship.assurance.service import audits, certificates, decisions, imports
from stewardship.core.errors import Conflict, Forbidden, InvalidInput
from tests import assurance_world as aw
from tests import custody_world as cw
from tests.today import TODAY


def test_a_superseded_certificate_still_counts_for_days_before_it_was_replaced(
        db: Session) -> None:
    w = aw.build(db)
    s = aw.scope(db, w)
    first = aw.plan(db, w, s.id)
    aw.start(db, w, first)
    aw.rate_all(db, w, first, s, majors=1)
    aw.submit_and_review(db, w, first)
    old = decisions.decide_audit(db, w.secretariat, first, Note(),
                                 today=TODAY - timedelta(days=10))  # provisional
    assert old.certificate is not None
    audit_id = aw.plan(db, w, s.id, audit_type=AuditType.CERTIFICATION)
    aw.start(db, w, audit_id)
    aw.rate_all(db, w, audit_id, s)
    aw.submit_and_review(db, w, audit_id)
    new = decisions.decide_audit(db, w.secretariat, audit_id, Note())
    assert new.certificate is not None and new.superseded == [old.certificate.number]
    held = certificates.holdings_on
    assert held(db, w.entity_id, TODAY - timedelta(days=5))["performance"] == \
        old.certificate.number
    assert held(db, w.entity_id, TODAY)["performance"] == new.certificate.number
    assert held(db, w.entity_id, TODAY - timedelta(days=11))["performance"] is None
    read = certificates.get_certificate(db, old.certificate.number)
    assert [h.to_status for h in read.history] == ["active", "superseded"]


def test_the_words_for_a_lapsed_certificate(db: Session) -> None:
    chain = cw.build(db)
    entity = chain.smelter.entity_id
    coc = chain.smelter.certificates["chain_of_custody"]
    day = TODAY - timedelta(days=5)
    assert certificates.lapse_on(db, entity, "chain_of_custody", day) is None
    certificates.withdraw(db, chain.secretariat, coc, StatusChange(reason="Sold the site"))
    assert certificates.lapse_on(db, entity, "chain_of_custody", day) == (
        f"its Chain of Custody certificate {coc} was valid on {day} but was withdrawn on "
        f"{TODAY}")
    assert certificates.lapse_on(db, entity, "chain_of_custody", TODAY) == (
        f"its Chain of Custody certificate {coc} was withdrawn on {TODAY}")
    with pytest.raises(Conflict) as refused:  # one lapsed, the other never held
        cw.produce(db, chain.smelter, "asi_aluminium", 100, on=day)
    assert "was withdrawn on" in refused.value.message
    future = cw.certify(db, chain, chain.trader, "performance",
                        valid_from=TODAY + timedelta(days=10))
    assert certificates.lapse_on(db, chain.trader.entity_id, "performance", TODAY) == (
        f"it held no valid Performance certificate on {TODAY}: its certificate {future} is "
        f"valid only from {TODAY + timedelta(days=10)}")


def test_a_rescheduled_smelter_audit_counts_its_plan_notice_from_the_new_start(
        db: Session) -> None:
    w = aw.build(db)
    s = aw.scope(db, w)
    audit_id = aw.plan(db, w, s.id, start_on=TODAY + timedelta(days=10))
    audits.submit_plan(db, w.admin, audit_id, PlanSubmit(plan="Four days, both sites."))
    late = audits.get_audit(db, w.admin, audit_id)
    assert late.plan_due_by == TODAY + timedelta(days=10 - 42)
    start = TODAY + timedelta(days=50)
    data = AuditReschedule(start_on=start, end_on=start + timedelta(days=3),
                           reason="The smelter asked for a later date")
    with pytest.raises(Forbidden):
        audits.reschedule_audit(db, w.admin, audit_id, data)
    moved = audits.reschedule_audit(db, w.secretariat, audit_id, data)
    assert moved.plan_due_by == start - timedelta(days=42)
    assert audits.start_audit(db, w.auditor, audit_id, today=start).status == "in_progress"
    with pytest.raises(Conflict):  # only a planned audit moves
        audits.reschedule_audit(db, w.secretariat, audit_id, data, today=start)


def test_imported_certificates_count_for_the_chain_of_custody(db: Session) -> None:
    chain = cw.build(db, certified=False)
    trader = chain.trader
    from stewardship.registry import repository as registry_repo

    entity = registry_repo.entity_by_id(db, trader.entity_id)
    assert entity is not None
    rows = [CertificateImportRow.model_validate({
        "number": f"OLD-{kind[:3].upper()}-1", "organization": trader.slug,
        "entity": entity.name.upper(), "standard": standard, "version": version,
        "certificate_type": "full", "maturity": "medium",
        "valid_from": TODAY - timedelta(days=100), "valid_until": TODAY + timedelta(days=500),
        "audit_reference": f"old audit {kind}", "activities": ["other_manufacturing"],
        "countries": ["DE"]}) for kind, standard, version in (
            ("performance", "performance", 3), ("chain_of_custody", "chain-of-custody", 2))]
    with pytest.raises(Forbidden):
        imports.import_certificates(db, trader.admin, rows)
    report = imports.import_certificates(db, chain.secretariat, rows)
    assert [c.number for c in report.certificates] == ["OLD-PER-1", "OLD-CHA-1"]
    assert certificates.holdings_on(db, trader.entity_id, TODAY) == {
        "performance": "OLD-PER-1", "chain_of_custody": "OLD-CHA-1"}
    with pytest.raises(InvalidInput) as again:
        imports.import_certificates(db, chain.secretariat, rows)
    assert isinstance(again.value, imports.ImportRefused)
    assert [r.ok for r in again.value.rows] == [False, False]


def test_a_csv_file_is_checked_row_by_row(db: Session) -> None:
    w = aw.build(db)
    header = ",".join(imports.CSV_COLUMNS)
    good = (f"PS-OLD-1,{w.org},Fjord Aluminium AS missing,performance,3,full,high,"
            f"{TODAY - timedelta(days=10)},{TODAY + timedelta(days=300)},,AUD-1,,smelting,NO,")
    bad = f"PS-OLD-2,{w.org},x,performance,three,golden,high,,,,AUD-2,,smelting,NO,"
    with pytest.raises(imports.ImportRefused) as refused:
        imports.import_csv(db, w.secretariat, f"{header}\n{good}\n{bad}\n".encode())
    first, second = refused.value.rows
    assert first.number == "PS-OLD-1" and first.problems[0].startswith("entity: ")
    assert second.number == "PS-OLD-2"
    assert {p.split(":")[0] for p in second.problems} == {
        "version", "certificate_type", "valid_from", "valid_until"}
    with pytest.raises(InvalidInput) as wrong_header:
        imports.import_csv(db, w.secretariat, b"number,colour\nX,blue\n")
    assert "unknown column(s) colour" in wrong_header.value.message
    assert wrong_header.value.details[0]["field"] == "file"
