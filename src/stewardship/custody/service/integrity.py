"""The custody context's part of ``stewardship verify``: the conservation audit's record
checks (CoC documents, movement legs, the journal, material accounts, each against the
others and against the event log), reported in the integrity check's terms."""

from __future__ import annotations

from sqlalchemy.orm import Session

from stewardship.core.auth import Actor
from stewardship.core.eventlog import ChainReport
from stewardship.core.integrity import Report
from stewardship.custody import repository as repo
from stewardship.custody.service import audit, audit_records

LogReader = audit_records.LogReader


def check(db: Session, actor: Actor, walked: tuple[ChainReport, LogReader],
          report: Report) -> None:
    result = audit.audit(db, actor, walked=walked)
    report.checked("coc_documents", result.documents)
    report.checked("custody_operations", repo.operation_count(db))
    report.checked("custody_movements", result.movements)
    report.checked("material_accounts", result.accounts)
    for b in result.breaks:
        if b.table == "event_log":
            continue  # the chain's own break is reported once, by the log's check
        where = ", ".join(part for part in (b.entity, b.period) if part)
        if b.table == "material_accounts":  # an account is named by its owner and period
            report.fail(b.table, f"{b.record} of {where}", b.entry, b.problem)
        else:
            report.fail(b.table, b.record, b.entry,
                        b.problem + (f" ({where})" if where else ""))
    # What the network-wide sums say, beyond the records named above.
    for sentence in result.problems[len(result.breaks):]:
        report.fail("coc_documents", "network", None, sentence)
    report.flags += [f"{f.kind}: {audit.flag_sentence(f)}" for f in result.flags]
