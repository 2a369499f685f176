"""transformation totals, capacities per activity, capacity overrides

A transformation records what physically happened: its total input and total output
beside the CoC input (``input_kg``) and CoC output (``kilograms``) it already had. Rows
written before this revision took CoC input only: their totals stay NULL (the journal is
append-only) and read as their CoC figures.
Each activity of a facility may carry an annual capacity in kilograms, and a journal row
the reason the secretariat gave for recording output beyond that capacity.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-10 00:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE (no batch copy), so the journal keeps its append-only triggers.
    op.add_column('custody_operations', sa.Column('total_input_kg', sa.BigInteger(),
                                                  nullable=True))
    op.add_column('custody_operations', sa.Column('total_output_kg', sa.BigInteger(),
                                                  nullable=True))
    op.add_column('custody_operations', sa.Column('capacity_override', sa.Text(),
                                                  nullable=True))
    op.add_column('facility_activities', sa.Column('annual_capacity_kg', sa.BigInteger(),
                                                   nullable=True))


def downgrade() -> None:
    op.drop_column('facility_activities', 'annual_capacity_kg')
    for column in ('capacity_override', 'total_output_kg', 'total_input_kg'):
        op.drop_column('custody_operations', column)
