"""Certificates after the decision: provisional and refused outcomes, the secretariat's
status changes, expiry by date, surveillance, due dates, the public register, claims and
the member's good standing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from stewardship.assurance.rules import AuditType, ClaimKind, Outcome
from stewardship.assurance.schemas import (
    CertificateQuery,
    ClaimCreate,
    FindingQuery,
    Note,
    Reason,
    StatusChange,
)
from stewardship.assurance.service import certificates, claims, dues, register
from stewardship.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from stewardship.core.pagination import PageParams
from stewardship.registry.rules import add_years
from stewardship.registry.service import organizations
from tests import assurance_world as aw
from tests import factories
from tests.today import TODAY

PAGE = PageParams(1, 50)


def _numbers(page: object) -> list[str]:
    return [c.number for c in page.items]  # type: ignore[attr-defined]


def test_provisional_then_refused_withdraws_the_certificate(db: Session) -> None:
    w = aw.build(db)
    s = aw.scope(db, w)
    first = aw.certify(db, w, s, majors=2, minors=1)
    assert first.outcome is Outcome.PROVISIONAL and first.certificate is not None
    provisional = first.certificate
    assert provisional.certificate_type == "provisional"
    assert provisional.valid_until == add_years(TODAY, 1) - timedelta(days=1)
    assert provisional.surveillance_due_on is None
    assert organizations.get_organization(db, None, w.org).standing == "certified"

    second = aw.certify(db, w, s, majors=4, audit_type=AuditType.RECERTIFICATION)
    assert second.outcome is Outcome.REFUSED and second.certificate is None
    assert second.withdrawn == [provisional.number]
    read = certificates.get_certificate(db, provisional.number)
    assert read.status == "withdrawn"
    assert [(h.from_status, h.to_status) for h in read.history] == [
        (None, "active"), ("active", "withdrawn")]
    assert "4 major" in read.history[-1].reason
    assert organizations.get_organization(db, None, w.org).standing == "overdue"
    overdue = dues.overdue_members(db, w.secretariat)
    assert w.org in [m.organization.slug for m in overdue]
    entry = next(m for m in overdue if m.organization.slug == w.org)
    deadline = add_years(factories.JOINED_ON, 2)
    assert entry.deadline == deadline and entry.days_overdue == (TODAY - deadline).days

    # the public record of the refused audit
    public = register.list_findings(db, PAGE, FindingQuery(rating="major"))
    assert public.counts["major"] == 6 and public.total == 6
    assert register.list_findings(db, PAGE, FindingQuery(principle=1)).counts == {
        "major": 6, "minor": 1}
    assert register.list_findings(db, PAGE, FindingQuery(principle=2)).total == 0
    assert register.list_findings(db, PAGE, FindingQuery(criterion="1.1")).counts == {
        "major": 2, "minor": 0}
    rows = register.export_findings(db, FindingQuery(rating="minor"))
    assert rows[0][5:8] == ["criterion", "principle", "rating"]
    assert [r[5:8] for r in rows[1:]] == [["1.3", "1", "minor"]]
    with pytest.raises(InvalidInput):
        register.list_findings(db, PAGE, FindingQuery(principle=2, criterion="1.1"))
    stats = register.register_stats(db)
    year = (TODAY - timedelta(days=16)).year
    assert [(r.year, r.principle, r.majors, r.minors)
            for r in stats.nonconformities_by_principle] == [(year, 1, 6, 1)]
    assert stats.certificates_by_country == []  # the only certificate was withdrawn


def test_status_changes_expiry_and_the_register(db: Session) -> None:
    w = aw.build(db)
    s = aw.scope(db, w)
    decision = aw.certify(db, w, s)
    assert decision.outcome is Outcome.CERTIFIED and decision.certificate is not None
    number = decision.certificate.number
    assert decision.surveillance_due == decision.certificate.surveillance_due_on is not None

    reason = StatusChange(reason="Complaint upheld: water permit breached", complaint="C-7")
    with pytest.raises(Forbidden):
        certificates.suspend(db, w.admin, number, reason)
    with pytest.raises(Conflict):
        certificates.reinstate(db, w.secretariat, number, StatusChange(reason="nothing"))
    suspended = certificates.suspend(db, w.secretariat, number, reason)
    assert suspended.status == "suspended"
    assert organizations.get_organization(db, None, w.org).standing == "overdue"
    assert _numbers(certificates.list_certificates(
        db, PAGE, CertificateQuery(status="suspended"))) == [number]
    assert _numbers(certificates.list_certificates(
        db, PAGE, CertificateQuery(status="active"))) == []
    reinstated = certificates.reinstate(db, w.secretariat, number,
                                        StatusChange(reason="Permit restored"))
    assert reinstated.status == "active"
    history = [(h.from_status, h.to_status, h.by) for h in reinstated.history]
    assert history == [(None, "active", "secretariat"), ("active", "suspended", "secretariat"),
                       ("suspended", "active", "secretariat")]
    assert "(complaint C-7)" in reinstated.history[1].reason

    # the register's filters
    for query, expected in [
        (CertificateQuery(kind="performance"), [number]),
        (CertificateQuery(kind="chain_of_custody"), []),
        (CertificateQuery(standard="performance", version=3), [number]),
        (CertificateQuery(activity="smelting"), [number]),
        (CertificateQuery(activity="semi_fabrication"), []),
        (CertificateQuery(country="de"), [number]),
        (CertificateQuery(country="FR"), []),
        (CertificateQuery(organization=w.org), [number]),
        (CertificateQuery(q="fjord aluminium as"), [number]),
        (CertificateQuery(q=number.lower()), [number]),
        (CertificateQuery(q="nothing like it"), []),
    ]:
        assert _numbers(certificates.list_certificates(db, PAGE, query)) == expected, query
    for query, field in [(CertificateQuery(kind="gold"), "kind"),
                         (CertificateQuery(country="XX"), "country"),
                         (CertificateQuery(status="sleeping"), "status"),
                         (CertificateQuery(version=3), "standard"),
                         (CertificateQuery(standard="performance", version=8), "version"),
                         (CertificateQuery(activity="knitting"), "activity")]:
        with pytest.raises(InvalidInput) as bad:
            certificates.list_certificates(db, PAGE, query)
        assert bad.value.details[0]["field"] == field
    rows = certificates.export_rows(db, CertificateQuery(country="NO"))
    assert rows[0][:3] == ["number", "status", "type"]
    assert rows[1][:3] == [number, "active", "full"] and len(rows) == 2
    stats = register.register_stats(db)
    assert {(r.key, r.count) for r in stats.certificates_by_activity} == {
        ("casthouse", 1), ("smelting", 1)}
    assert {r.label for r in stats.certificates_by_country} == {"Germany", "Norway"}
    with pytest.raises(NotFound):
        certificates.get_certificate(db, "STW-PS-1999-0001")

    # due dates: surveillance and re-certification, flagged once overdue
    cert = decision.certificate
    due = {d.kind: d for d in dues.due_dates(db, w.admin)}
    assert due["surveillance_audit"].due_on == cert.surveillance_due_on
    assert due["recertification"].due_on == cert.valid_until
    assert not due["surveillance_audit"].overdue
    assert cert.surveillance_due_on is not None
    later = cert.surveillance_due_on + timedelta(days=1)
    overdue = dues.due_dates(db, w.secretariat, overdue_only=True, today=later)
    assert [(d.kind, d.certificate_number, d.days_left) for d in overdue] == [
        ("surveillance_audit", number, -1)]
    assert dues.due_dates(db, w.other_admin) == []

    # a surveillance audit keeps the certificate and clears its surveillance
    surveillance = aw.certify(db, w, s, minors=1, audit_type=AuditType.SURVEILLANCE)
    assert surveillance.certificate is not None
    assert surveillance.certificate.number == number
    assert surveillance.certificate.surveillance_due_on is None
    assert certificates.list_certificates(db, PAGE).total == 1

    # expiry happens by date
    after_end = cert.valid_until + timedelta(days=1)
    expired = certificates.get_certificate(db, number, today=after_end)
    assert expired.status == "expired"
    assert expired.history[-1].to_status == "expired" and expired.history[-1].by == "platform"
    assert certificates.certificate_document(db, number, today=after_end).status == "expired"
    assert _numbers(certificates.list_certificates(
        db, PAGE, CertificateQuery(status="expired"), today=after_end)) == [number]
    assert _numbers(certificates.list_certificates(
        db, PAGE, CertificateQuery(status="expired"))) == []
    with pytest.raises(Conflict) as too_late:
        certificates.suspend(db, w.secretariat, number, reason, today=after_end)
    assert str(cert.valid_until) in too_late.value.message
    recert = dues.due_dates(db, w.admin, today=after_end)
    assert sorted((d.kind, d.overdue) for d in recert) == [
        ("corrective_plan", True), ("finding_closure", True), ("recertification", True)]

    withdrawn = certificates.withdraw(db, w.secretariat, number,
                                      StatusChange(reason="Entity sold its smelter"))
    assert withdrawn.status == "withdrawn"
    with pytest.raises(Conflict):
        certificates.reinstate(db, w.secretariat, number, StatusChange(reason="undo"))
    assert sorted(d.kind for d in dues.due_dates(db, w.admin)) == [
        "corrective_plan", "finding_closure"]


def test_claims(db: Session) -> None:
    w = aw.build(db)
    aw.load_standard(db, "chain-of-custody-v2.yaml")
    s = aw.scope(db, w)
    performance = aw.certify(db, w, s).certificate
    assert performance is not None
    on_product = ClaimCreate(certificate=performance.number, kind=ClaimKind.ON_PRODUCT,
                             uses_logo=True, wording="Made with certified aluminium",
                             percentage="42.50")  # type: ignore[arg-type]
    with pytest.raises(Conflict) as needs_coc:
        claims.request_claim(db, w.admin, on_product)
    assert "Chain of Custody" in needs_coc.value.message
    off_product = claims.request_claim(db, w.admin, ClaimCreate(
        certificate=performance.number, kind=ClaimKind.OFF_PRODUCT,
        wording="Our smelter is certified against the Performance Standard"))
    assert off_product.status == "requested" and off_product.coc_certificate_number is None
    with pytest.raises(Forbidden):
        claims.request_claim(db, w.member_user, on_product)
    with pytest.raises(InvalidInput) as not_ours:
        claims.request_claim(db, w.other_admin, on_product)
    assert not_ours.value.details[0]["field"] == "certificate"

    coc_scope = aw.scope(db, w, standard="chain-of-custody", version=2)
    assert coc_scope.standard.kind == "chain_of_custody"
    coc = aw.certify(db, w, coc_scope).certificate
    assert coc is not None and coc.number.startswith(f"STW-COC-{TODAY.year}-")
    requested = claims.request_claim(db, w.admin, on_product)
    assert requested.coc_certificate_number == coc.number
    assert str(requested.percentage) == "42.50"

    with pytest.raises(Forbidden):
        claims.approve_claim(db, w.admin, requested.id, Note())
    certificates.suspend(db, w.secretariat, coc.number, StatusChange(reason="Audit overdue"))
    with pytest.raises(Conflict) as lapsed:
        claims.approve_claim(db, w.secretariat, requested.id, Note())
    assert "Chain of Custody" in lapsed.value.message
    certificates.reinstate(db, w.secretariat, coc.number, StatusChange(reason="Audited"))
    approved = claims.approve_claim(db, w.secretariat, requested.id, Note(note="fine"))
    assert (approved.status, approved.decision_reason) == ("approved", "fine")
    rejected = claims.reject_claim(db, w.secretariat, off_product.id,
                                   Reason(reason="Wording overstates the scope"))
    assert rejected.status == "rejected"
    with pytest.raises(Conflict):
        claims.approve_claim(db, w.secretariat, off_product.id, Note())

    public = claims.list_public_claims(db, PAGE)
    assert [(c.id, c.certificate.number) for c in public.items] == [
        (requested.id, performance.number)]
    own = claims.list_claim_requests(db, w.admin, PAGE)
    assert {c.status for c in own.items} == {"approved", "rejected"}
    assert claims.list_claim_requests(db, w.other_admin, PAGE).total == 0
    with pytest.raises(NotFound):
        claims.get_claim(db, w.other_admin, requested.id)
    certificates.withdraw(db, w.secretariat, performance.number,
                          StatusChange(reason="Refused at re-certification"))
    assert claims.list_public_claims(db, PAGE).total == 0
    assert claims.list_public_claims(db, PAGE, include_lapsed=True).total == 1
