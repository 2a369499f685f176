"""The conservation audit on a real database: an operation whose legs do not sum to zero
is named, even when every account's balance still agrees with its own movements."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from stewardship.custody.service import audit
from tests import custody_world as cw


def test_the_audit_names_an_operation_whose_legs_do_not_sum_to_zero(db: Session) -> None:
    w = cw.build(db)
    cw.produce(db, w.smelter, "asi_aluminium", 5_000)
    assert audit.audit(db, w.secretariat).ok
    # A third leg on a system account (no material account) of the production: every
    # account's stored balance still equals the sum of its movements, so only the
    # per-operation check can see that 7 kg came from nowhere.
    correlation = db.execute(text(
        "SELECT correlation_id FROM custody_movements WHERE account_id IS NOT NULL")).scalar_one()
    db.execute(text(
        "INSERT INTO custody_movements (correlation_id, operation_id, organization_id, "
        "system_account, kilograms, recorded_at) "
        "SELECT correlation_id, operation_id, organization_id, 'origin', 7, recorded_at "
        "FROM custody_movements WHERE account_id IS NOT NULL"))
    found = audit.audit(db, w.secretariat)
    assert not found.ok
    # The journal check also sees the leg its row does not call for; the per-operation
    # check must still name the sum itself.
    sums = [p for p in found.problems if p.endswith(": its legs sum to 7 kg, not 0")]
    assert len(sums) == 1
    assert sums[0].startswith("custody_movements operation ")
    operation = db.execute(text("SELECT operation_id FROM custody_movements "
                                "WHERE account_id IS NOT NULL")).scalar_one()
    assert all(str(operation).replace("-", "") in p.replace("-", "") for p in found.problems)
    assert correlation is not None
