"""carbon inventories: the smelter's commissioning year and the inventory's revision

The smelter threshold applies from the start to smelters commissioned from 2020 and by 2030
to older ones, so an inventory with smelting says when its smelter was commissioned. A
correction edits the inventory in place and counts up its revision; the event log keeps
what changed.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE (no batch copy): on SQLite a copy would drop the table, and the
    # processes' ON DELETE CASCADE would take their rows with it.
    op.add_column('carbon_inventories',
                  sa.Column('commissioned_year', sa.Integer(), nullable=True))
    op.add_column('carbon_inventories',
                  sa.Column('revision', sa.Integer(), server_default='1', nullable=False))


def downgrade() -> None:
    op.drop_column('carbon_inventories', 'revision')
    op.drop_column('carbon_inventories', 'commissioned_year')
