"""custody reversals

A journal entry may be reversed by an entry of its own (kind ``reversal``) naming it
(``reverses_id``, at most one reversal per entry); every entry keeps the origins it moved
(``composition``), which is what a reversal gives back. Entries written before this
revision carry no composition.

``custody_operations`` is append-only (triggers) and referenced by the movements, so on
SQLite it is not rebuilt: the columns are added in place and the kind's CHECK constraint
is widened in the stored schema, as SQLite documents for changing a CHECK constraint.
Widening cannot invalidate an existing row.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_OLD = ("kind IN ('production', 'scrap_intake', 'non_coc_input', 'transformation', "
        "'issue', 'receipt', 'rejection', 'cancellation', 'period_close')")
_NEW = ("kind IN ('production', 'scrap_intake', 'non_coc_input', 'transformation', "
        "'issue', 'receipt', 'rejection', 'cancellation', 'period_close', 'reversal')")
_CHECK = "ck_custody_operations_kind"
_FK = "fk_custody_operations_reverses_id_custody_operations"


def _sqlite_check(old: str, new: str) -> None:
    bind = op.get_bind()
    sql = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' "
                               "AND name = 'custody_operations'")).scalar_one()
    if old not in sql:
        raise RuntimeError(f"custody_operations has no CHECK ({old})")
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' "
                         "AND name = 'custody_operations'"),
                 {"sql": sql.replace(old, new)})
    bind.execute(sa.text(f"PRAGMA schema_version = {int(version) + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE custody_operations ADD COLUMN reverses_id CHAR(32) "
                   f"CONSTRAINT {_FK} REFERENCES custody_operations (id)")
        op.execute("ALTER TABLE custody_operations ADD COLUMN composition JSON")
        _sqlite_check(_OLD, _NEW)
    else:
        op.add_column('custody_operations', sa.Column('reverses_id', sa.Uuid(), nullable=True))
        op.add_column('custody_operations', sa.Column('composition', sa.JSON(), nullable=True))
        op.create_foreign_key(op.f(_FK), 'custody_operations', 'custody_operations',
                              ['reverses_id'], ['id'])
        op.drop_constraint(op.f(_CHECK), 'custody_operations', type_='check')
        op.create_check_constraint(op.f(_CHECK), 'custody_operations', _NEW)
    op.create_index('uq_custody_operations_reverses_id', 'custody_operations',
                    ['reverses_id'], unique=True)


def downgrade() -> None:
    # Reversals are history like every journal row: a downgrade with reversals in the
    # journal is refused rather than dropping them.
    count = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM custody_operations WHERE kind = 'reversal'")).scalar_one()
    if count:
        raise RuntimeError(f"{count} reversal(s) in the journal; they cannot be downgraded")
    op.drop_index('uq_custody_operations_reverses_id', table_name='custody_operations')
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_check(_NEW, _OLD)
        op.execute("ALTER TABLE custody_operations DROP COLUMN composition")
        op.execute("ALTER TABLE custody_operations DROP COLUMN reverses_id")
    else:
        op.drop_constraint(op.f(_CHECK), 'custody_operations', type_='check')
        op.create_check_constraint(op.f(_CHECK), 'custody_operations', _OLD)
        op.drop_constraint(op.f(_FK), 'custody_operations', type_='foreignkey')
        op.drop_column('custody_operations', 'composition')
        op.drop_column('custody_operations', 'reverses_id')
