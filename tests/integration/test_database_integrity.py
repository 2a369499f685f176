"""The whole database against the event log (``stewardship verify``), on a committed
database (SQLite and PostgreSQL): one row of one trust table at a time is edited, deleted
or inserted behind the platform's back with raw SQL, and the check names the table, the
row's key and the entry it contradicts (or that no entry records it). An untouched world
verifies clean.

Certificates, their status history, audits' decisions and issued credentials here; the
custody tables and the log itself (entries, stored tree nodes, checkpoints, cosignatures)
in ``test_database_integrity_log.py``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from stewardship.assurance.models import Certificate, CertificateEvent
from stewardship.core import credentials as vc
from stewardship.core.integrity import Problem, Report
from stewardship.core.issuance import IssuedCredential
from tests.conftest import BACKENDS
from tests.integrity_world import Template, World, clone, template_database


@pytest.fixture(scope="module", params=BACKENDS)
def template(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    yield from template_database(str(request.param), tmp_path_factory.mktemp("integrity"))


@pytest.fixture
def world(template: Template, tmp_path: Path) -> Iterator[World]:
    yield from clone(template, tmp_path)


def named(report: Report, table: str, key: str = "") -> list[Problem]:
    return [p for p in report.problems if p.table == table and key in p.key]


def only(report: Report, table: str, key: str) -> Problem:
    """The one problem of ``table`` about ``key``; no other table has one."""
    found = named(report, table, key)
    assert len(found) == 1, report.problems
    assert {p.table for p in report.problems} == {table}, report.problems
    return found[0]


def _hex(value: uuid.UUID) -> str:
    """An id as raw SQL writes it on both databases (SQLite keeps 32 hex digits)."""
    return value.hex


def _certificate(w: World) -> Certificate:
    with Session(w.engine) as db:
        row = db.scalars(select(Certificate).where(Certificate.number == w.t.certificate)).one()
        db.expunge(row)
        return row


def _events(w: World) -> list[CertificateEvent]:
    with Session(w.engine) as db:
        cid = db.scalars(select(Certificate.id).where(
            Certificate.number == w.t.certificate)).one()
        rows = list(db.scalars(select(CertificateEvent).where(
            CertificateEvent.certificate_id == cid).order_by(CertificateEvent.at)))
        db.expunge_all()
        return rows


def _credential(w: World) -> IssuedCredential:
    with Session(w.engine) as db:
        row = db.scalars(select(IssuedCredential).where(
            IssuedCredential.subject_ref == f"certificate:{w.t.certificate}")).one()
        db.expunge(row)
        return row


def test_an_untouched_world_verifies_clean_with_every_table_counted(world: World) -> None:
    report = world.check()
    assert report.ok, [str(p) for p in report.problems]
    counts = report.counts
    for table in ("event_log", "event_log_nodes", "event_log_checkpoints",
                  "event_log_cosignatures", "issued_credentials", "certificates",
                  "certificate_events", "audits", "coc_documents", "custody_operations",
                  "custody_movements", "material_accounts"):
        assert counts.get(table, 0) > 0, (table, counts)
    assert counts["event_log_cosignatures"] == 1
    assert counts["event_log"] == report.entries


# --- certificates -----------------------------------------------------------------------


def test_a_certificate_edited_is_named_with_its_issue_entry(world: World) -> None:
    number = world.t.certificate
    issued = world.entry("assurance.certificate.issued", f"certificate:{number}")
    row = _certificate(world)
    later = row.valid_until.replace(year=row.valid_until.year + 5)
    world.tamper(f"UPDATE certificates SET valid_until = '{later.isoformat()}', "
                 f"holder_name = 'Someone Else' WHERE number = '{number}'")
    problem = only(world.check(), "certificates", number)
    assert problem.entry == issued
    assert f"valid_until {later.isoformat()} (the event log recorded " \
           f"{row.valid_until.isoformat()})" in problem.problem
    assert "holder_name Someone Else" in problem.problem


def test_a_certificate_reinstated_behind_the_log_is_named_with_its_suspension(
        world: World) -> None:
    number = world.t.certificate
    suspended = world.entry("assurance.certificate.suspended", f"certificate:{number}")
    world.tamper(f"UPDATE certificates SET status = 'active' WHERE number = '{number}'")
    problem = only(world.check(), "certificates", number)
    assert (problem.entry, problem.problem) == (
        suspended, "status active but the event log recorded suspended")


def test_a_certificate_deleted_or_inserted_is_named(world: World) -> None:
    number = world.t.certificate
    issued = world.entry("assurance.certificate.issued", f"certificate:{number}")
    row = _certificate(world)
    forged = "STW-P-2099-FORGED"
    # A copy under a new number (its coverage rows too), then the real one removed.
    world.tamper(
        "INSERT INTO certificates (id, number, organization_id, entity_id, holder_name, "
        "entity_name, scope_id, audit_id, version_id, standard_kind, certificate_type, "
        "maturity, valid_from, valid_until, status, created_at, updated_at) SELECT "
        f"'{_hex(uuid.uuid4())}', '{forged}', organization_id, entity_id, holder_name, "
        "entity_name, scope_id, audit_id, version_id, standard_kind, certificate_type, "
        "maturity, valid_from, valid_until, 'active', created_at, updated_at FROM certificates "
        f"WHERE number = '{number}'",
        f"DELETE FROM certificate_activities WHERE certificate_id = '{_hex(row.id)}'",
        f"DELETE FROM certificate_countries WHERE certificate_id = '{_hex(row.id)}'",
        f"DELETE FROM certificate_events WHERE certificate_id = '{_hex(row.id)}'",
        f"DELETE FROM certificates WHERE number = '{number}'")
    report = world.check()
    inserted = named(report, "certificates", forged)
    assert [(p.entry, p.where) for p in inserted] == [(None, "no entry records it")], (
        report.problems)
    deleted = named(report, "certificates", number)
    assert [(p.entry, p.problem) for p in deleted] == [
        (issued, "the event log recorded its issue but there is no such row")]
    assert len(named(report, "certificate_events", number)) == 2  # its history, gone too


def test_a_certificate_activity_added_is_named(world: World) -> None:
    number = world.t.certificate
    issued = world.entry("assurance.certificate.issued", f"certificate:{number}")
    row = _certificate(world)
    world.tamper("INSERT INTO certificate_activities (certificate_id, activity) "
                 f"VALUES ('{_hex(row.id)}', 'bauxite_mining')")
    problem = only(world.check(), "certificate_activities", number)
    assert problem.entry == issued
    assert "activities bauxite_mining, casthouse, smelting but the event log recorded " \
           "casthouse, smelting" in problem.problem


# --- the status history -----------------------------------------------------------------


def test_a_status_history_row_edited_deleted_or_inserted_is_named(world: World) -> None:
    number = world.t.certificate
    issued, suspension = _events(world)
    suspended = world.entry("assurance.certificate.suspended", f"certificate:{number}")
    world.tamper(f"UPDATE certificate_events SET reason = 'Routine' "
                 f"WHERE id = '{_hex(suspension.id)}'")
    problem = only(world.check(), "certificate_events", str(suspension.id))
    assert problem.entry == suspended and number in problem.key
    assert "reason 'Routine' (the event log recorded 'Complaint upheld')" in problem.problem

    world.tamper(f"DELETE FROM certificate_events WHERE id = '{_hex(suspension.id)}'")
    problem = only(world.check(), "certificate_events", str(suspension.id))
    assert (problem.entry, problem.problem) == (
        suspended, "the event log recorded this change (active to suspended) but there is "
        "no such row")

    forged = uuid.uuid4()
    world.tamper(
        "INSERT INTO certificate_events (id, certificate_id, from_status, to_status, reason, "
        "at, actor) SELECT "
        f"'{_hex(forged)}', certificate_id, 'suspended', 'active', 'Lifted', at, actor "
        f"FROM certificate_events WHERE id = '{_hex(issued.id)}'")
    report = world.check()
    assert [(p.entry, p.where) for p in named(report, "certificate_events", str(forged))] == [
        (None, "no entry records it")], report.problems


# --- audits' decisions ------------------------------------------------------------------


def test_an_audit_decision_edited_is_named_with_the_decision_entry(world: World) -> None:
    audit = world.t.audit
    decided = world.entry("assurance.audit.decided", f"audit:{audit}")
    world.tamper(f"UPDATE audits SET outcome = 'refused', maturity = 'low' "
                 f"WHERE id = '{_hex(audit)}'")
    problem = only(world.check(), "audits", str(audit))
    assert problem.entry == decided
    assert "outcome refused (the event log recorded certified)" in problem.problem
    assert "maturity low" in problem.problem


def test_a_submitted_report_or_its_review_changed_is_named(world: World) -> None:
    audit = world.t.audit
    submitted = world.entry("assurance.audit.submitted", f"audit:{audit}")
    reviewed = world.entry("assurance.audit.reviewed", f"audit:{audit}")
    world.tamper(f"UPDATE audits SET proposed_maturity = 'low' WHERE id = '{_hex(audit)}'")
    problem = only(world.check(), "audits", str(audit))
    assert problem.entry == submitted and "proposed maturity low" in problem.problem
    world.tamper(f"UPDATE audits SET proposed_maturity = 'high', "
                 f"reviewed_by = 'user:{uuid.uuid4()}' WHERE id = '{_hex(audit)}'")
    problem = only(world.check(), "audits", str(audit))
    assert problem.entry == reviewed and "reviewed by" in problem.problem


def test_an_audit_decided_behind_the_log_or_deleted_or_inserted_is_named(
        world: World) -> None:
    audit = world.t.audit
    planned = world.entry("assurance.audit.planned", f"audit:{audit}")
    decided = world.entry("assurance.audit.decided", f"audit:{audit}")
    world.tamper(f"UPDATE audits SET status = 'cancelled' WHERE id = '{_hex(audit)}'")
    problem = only(world.check(), "audits", str(audit))
    assert problem.entry == decided
    assert problem.problem.startswith("status cancelled but the event log recorded decided")

    forged = uuid.uuid4()
    world.tamper(
        f"UPDATE audits SET status = 'decided' WHERE id = '{_hex(audit)}'",
        "INSERT INTO audits (id, organization_id, scope_id, audit_firm_id, lead_auditor_id, "
        "audit_type, start_on, end_on, plan, plan_note, status, public_summary, "
        "decision_note, outcome, maturity, created_at, updated_at) SELECT "
        f"'{_hex(forged)}', organization_id, scope_id, audit_firm_id, lead_auditor_id, "
        "audit_type, start_on, end_on, plan, plan_note, 'decided', public_summary, "
        "decision_note, 'certified', 'high', created_at, updated_at FROM audits "
        f"WHERE id = '{_hex(audit)}'",
        f"UPDATE certificates SET audit_id = NULL WHERE audit_id = '{_hex(audit)}'",
        f"DELETE FROM audit_ratings WHERE audit_id = '{_hex(audit)}'",
        f"DELETE FROM findings WHERE audit_id = '{_hex(audit)}'",
        f"DELETE FROM audits WHERE id = '{_hex(audit)}'")
    report = world.check()
    assert [(p.entry, p.problem) for p in named(report, "audits", str(audit))] == [
        (planned, "the event log recorded it but there is no such row")], report.problems
    assert [p.where for p in named(report, "audits", str(forged))] == ["no entry records it"]


# --- issued credentials -----------------------------------------------------------------


def test_a_credential_token_swapped_is_named_with_its_issue_entry(world: World) -> None:
    row = _credential(world)
    with Session(world.engine) as db:
        other = db.scalars(select(IssuedCredential.token).where(
            IssuedCredential.id != row.id).limit(1)).one()
    world.tamper(f"UPDATE issued_credentials SET token = '{other}' WHERE id = {row.id}")
    problem = only(world.check(), "issued_credentials", f"{row.id} (")
    assert problem.entry == row.leaf_index + 1
    assert "the token's subject is not the one the event log recorded" in problem.problem
    # A token re-signed by someone else's key: the signature does not verify.
    token = vc.decode_jwt(row.token)
    forged = vc.sign_jwt(token.payload, Ed25519PrivateKey.generate(), token.header["kid"])
    world.tamper(f"UPDATE issued_credentials SET token = '{forged}' WHERE id = {row.id}")
    problem = only(world.check(), "issued_credentials", f"{row.id} (")
    assert "the token's signature does not verify" in problem.problem


def test_a_credential_status_bit_cleared_is_named_with_the_status_entry(
        world: World) -> None:
    row = _credential(world)
    assert row.suspended
    changed = world.entry("credential.status.changed", f"credential:{row.id}", last=True)
    world.tamper(f"UPDATE issued_credentials SET suspended = "
                 f"{'0' if world.t.backend == 'sqlite' else 'false'} WHERE id = {row.id}")
    problem = only(world.check(), "issued_credentials", f"{row.id} (")
    assert problem.entry == changed
    assert problem.problem == ("status bits suspended=False, revoked=False, but the event log "
                               "recorded suspended=True, revoked=False")


def test_a_credential_deleted_or_inserted_is_named(world: World) -> None:
    row = _credential(world)
    world.tamper(f"DELETE FROM issued_credentials WHERE id = {row.id}")
    report = world.check()
    problem = only(report, "issued_credentials", f"of entry {row.leaf_index + 1}")
    assert problem.entry == row.leaf_index + 1
    assert problem.problem == "the event log recorded its issue but there is no such row"
    # A row naming an entry that issued nothing: no entry records it.
    world.tamper(
        "INSERT INTO issued_credentials (id, subject_ref, organization_id, kind, token, "
        "leaf_index, key_id, issued_at, revoked, suspended) SELECT "
        f"{row.id}, 'certificate:STW-P-2099-FORGED', organization_id, kind, token, 0, "
        f"key_id, issued_at, revoked, suspended FROM issued_credentials WHERE id = "
        f"(SELECT MIN(id) FROM issued_credentials)")
    report = world.check()
    inserted = named(report, "issued_credentials", "STW-P-2099-FORGED")
    assert [p.where for p in inserted] == ["no entry records it"], report.problems
    assert "entry 1, which it names, records no credential's issue" in inserted[0].problem

