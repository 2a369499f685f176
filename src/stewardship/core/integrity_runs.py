"""The integrity check's runs as stored: when a check ran, who ran it, what it counted and
every problem it found, so that the secretariat's page shows the last run without
walking the whole database again on every load and every page of problems.

A run is written once, when it ends, and never changed; a new check is a new run.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from stewardship.core.auth import Actor
from stewardship.core.db import Base, IdMixin, UTCDateTime, utcnow
from stewardship.core.integrity import Problem, Report


class IntegrityRun(IdMixin, Base):
    """One run of the whole-database check."""

    __tablename__ = "integrity_runs"

    ran_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    ran_by: Mapped[str] = mapped_column(String(120))
    """How the event log names who ran it (``user:…``, ``system:cli``)."""
    ran_by_name: Mapped[str] = mapped_column(String(200))
    entries: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    chain_ok: Mapped[bool] = mapped_column(Boolean)
    problem_count: Mapped[int] = mapped_column(Integer)
    tables: Mapped[list[Any]] = mapped_column(JSON)
    """``[table, rows checked, problems]`` for every table checked or with a problem."""
    flags: Mapped[list[Any]] = mapped_column(JSON)

    @property
    def ok(self) -> bool:
        return self.problem_count == 0


class IntegrityProblem(Base):
    """One problem a run found, in the order the check found them."""

    __tablename__ = "integrity_problems"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("integrity_runs.id"), index=True)
    table_name: Mapped[str] = mapped_column(String(64))
    row_key: Mapped[str] = mapped_column(Text)
    entry: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    problem: Mapped[str] = mapped_column(Text)

    def as_problem(self) -> Problem:
        return Problem(self.table_name, self.row_key, self.entry, self.problem)


def store(db: Session, actor: Actor, report: Report) -> IntegrityRun:
    """The report kept as a new run (the caller owns the transaction)."""
    run = IntegrityRun(ran_at=utcnow(), ran_by=actor.ref, ran_by_name=actor.name,
                       entries=report.entries, head_hash=report.head_hash,
                       chain_ok=report.chain_ok, problem_count=len(report.problems),
                       tables=[list(t) for t in report.tables()], flags=list(report.flags))
    db.add(run)
    db.flush()
    db.add_all(IntegrityProblem(run_id=run.id, table_name=p.table, row_key=p.key,
                                entry=p.entry, problem=p.problem) for p in report.problems)
    db.flush()
    return run


def latest(db: Session) -> IntegrityRun | None:
    """The last run stored, or None before any."""
    found: IntegrityRun | None = db.scalars(
        select(IntegrityRun).order_by(IntegrityRun.ran_at.desc(), IntegrityRun.id)
        .limit(1)).first()
    return found


def problems(db: Session, run: IntegrityRun, *, table: str = "", offset: int = 0,
             limit: int = 50) -> tuple[list[Problem], int]:
    """One page of a run's problems (of one table, when named) and how many there are."""
    where = [IntegrityProblem.run_id == run.id]
    if table:
        where.append(IntegrityProblem.table_name == table)
    total = db.scalar(select(func.count()).select_from(IntegrityProblem).where(*where)) or 0
    rows = db.scalars(select(IntegrityProblem).where(*where).order_by(IntegrityProblem.id)
                      .offset(offset).limit(limit))
    return [row.as_problem() for row in rows], int(total)
