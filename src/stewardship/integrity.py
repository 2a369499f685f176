"""The whole database held against the event log, and the log against its signed
checkpoints: what ``stewardship verify`` prints and the secretariat's integrity page
shows.

One walk of the hash chain feeds every context's reader of the log (core's for issued
credentials, assurance's, custody's); the Merkle tree is then rebuilt from the entries and
held against the stored subtrees, checkpoints and cosignatures; then each context checks
its own tables against what its reader gathered. Core imports no context, and no context
imports another's service for this, so the gathering lives here, beside the CLI, where
both the CLI and the web layer import it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from stewardship.assurance.service import integrity as assurance_integrity
from stewardship.core import eventlog, integrity_runs, tlog
from stewardship.core import integrity as core_integrity
from stewardship.core.auth import Actor, Role, require
from stewardship.core.config import Settings, get_settings
from stewardship.core.integrity import Problem, Report
from stewardship.core.integrity_runs import IntegrityRun
from stewardship.core.keys import log_signer, verifiers
from stewardship.custody.service import integrity as custody_integrity

__all__ = ["STAGES", "IntegrityRun", "Problem", "Report", "check_database", "last_run",
           "run_check", "run_problems"]

Progress = Callable[[str, int, int], None]
STAGES = ("event log", "Merkle tree", "records")
"""The stages ``progress`` hears of, in order: (stage, done, total)."""


def _quiet(_stage: str, _done: int, _total: int) -> None:
    return None


def check_database(db: Session, actor: Actor | None, *, settings: Settings | None = None,
                   progress: Progress = _quiet) -> Report:
    """Check every trust row against the log and the log against its checkpoints (the
    secretariat, or the platform from the CLI). Reads; writes nothing."""
    actor = require(actor, Role.SECRETARIAT, action="check the database's integrity")
    settings = settings or get_settings()
    signer = log_signer(settings)
    keys = verifiers(settings, signer)
    report = Report()
    total = eventlog.count_entries(db)
    credentials = core_integrity.CredentialLog()
    assurance = assurance_integrity.AssuranceLog()
    custody = custody_integrity.LogReader()

    def visit(entry: Any) -> None:
        credentials.visit(entry)
        assurance.visit(entry)
        custody.visit(entry)

    progress("event log", 0, total)
    chain = eventlog.verify_chain(db, visit=visit,
                                  progress=lambda n: progress("event log", n, total))
    core_integrity.add_chain(report, chain)
    progress("event log", total, total)
    progress("Merkle tree", 0, total)
    tree = tlog.verify_tree(db, keys, progress=lambda n: progress("Merkle tree", n, total))
    core_integrity.add_tree(report, tree)
    progress("Merkle tree", total, total)
    progress("records", 0, 3)
    # Certificates, audits and credentials are held against their whole history in the
    # log: with the chain broken, the history after the break vouches for nothing, and a
    # row checked against the part before it would be wrongly accused. (The custody
    # records are also held against each other, which the custody audit still does.)
    if report.chain_ok:
        core_integrity.check_credentials(db, credentials, keys, report)
    progress("records", 1, 3)
    if report.chain_ok:
        assurance_integrity.check(db, assurance, report)
    progress("records", 2, 3)
    custody_integrity.check(db, actor, (chain, custody), report)
    progress("records", 3, 3)
    return report


def run_check(db: Session, actor: Actor | None, *, settings: Settings | None = None
              ) -> IntegrityRun:
    """Run the check now and keep its result as the latest run (the secretariat)."""
    actor = require(actor, Role.SECRETARIAT, action="check the database's integrity")
    report = check_database(db, actor, settings=settings)
    return integrity_runs.store(db, actor, report)


def last_run(db: Session, actor: Actor | None) -> IntegrityRun | None:
    """The latest run kept, or None when no check has run yet (the secretariat)."""
    require(actor, Role.SECRETARIAT, action="check the database's integrity")
    return integrity_runs.latest(db)


def run_problems(db: Session, actor: Actor | None, run: IntegrityRun, *, table: str = "",
                 offset: int = 0, limit: int = 50) -> tuple[list[Problem], int]:
    """One page of a kept run's problems, of one table when named, and how many there
    are (the secretariat)."""
    require(actor, Role.SECRETARIAT, action="check the database's integrity")
    return integrity_runs.problems(db, run, table=table, offset=offset, limit=limit)
