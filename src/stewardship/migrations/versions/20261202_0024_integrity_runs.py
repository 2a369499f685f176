"""integrity check runs: each run of the whole-database check kept with its problems

The secretariat's integrity page shows the last run stored (when, by whom, the tables
counted, the problems page by page); a new check runs only when asked for.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02 13:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'integrity_runs',
        sa.Column('ran_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ran_by', sa.String(length=120), nullable=False),
        sa.Column('ran_by_name', sa.String(length=200), nullable=False),
        sa.Column('entries', sa.BigInteger(), nullable=False),
        sa.Column('head_hash', sa.String(length=64), nullable=False),
        sa.Column('chain_ok', sa.Boolean(), nullable=False),
        sa.Column('problem_count', sa.Integer(), nullable=False),
        sa.Column('tables', sa.JSON(), nullable=False),
        sa.Column('flags', sa.JSON(), nullable=False),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_integrity_runs')))
    op.create_index(op.f('ix_integrity_runs_ran_at'), 'integrity_runs', ['ran_at'],
                    unique=False)
    op.create_table(
        'integrity_problems',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('run_id', sa.Uuid(), nullable=False),
        sa.Column('table_name', sa.String(length=64), nullable=False),
        sa.Column('row_key', sa.Text(), nullable=False),
        sa.Column('entry', sa.BigInteger(), nullable=True),
        sa.Column('problem', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['integrity_runs.id'],
                                name=op.f('fk_integrity_problems_run_id_integrity_runs')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_integrity_problems')))
    op.create_index(op.f('ix_integrity_problems_run_id'), 'integrity_problems', ['run_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_integrity_problems_run_id'), table_name='integrity_problems')
    op.drop_table('integrity_problems')
    op.drop_index(op.f('ix_integrity_runs_ran_at'), table_name='integrity_runs')
    op.drop_table('integrity_runs')
