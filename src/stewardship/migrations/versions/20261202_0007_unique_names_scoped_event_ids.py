"""unique names, scoped event ids

EPCIS eventIDs become unique per capturing organisation (and error declarations may repeat
the id of the event they correct).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 00:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('epcis_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error_declaration', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.drop_constraint('uq_epcis_events_event_id', type_='unique')
        batch_op.create_index(batch_op.f('ix_epcis_events_event_id'), ['event_id'],
                              unique=False)
        batch_op.create_index('uq_epcis_events_owner_event_id',
                              ['organization_id', 'event_id', 'error_declaration'],
                              unique=True)
        batch_op.create_index('uq_epcis_events_secretariat_event_id',
                              ['event_id', 'error_declaration'], unique=True,
                              sqlite_where=sa.text('organization_id IS NULL'),
                              postgresql_where=sa.text('organization_id IS NULL'))
    # Events captured before carry the flag their body says.
    op.execute("UPDATE epcis_events SET error_declaration = "
               + ("true" if op.get_bind().dialect.name == "postgresql" else "1")
               + " WHERE body LIKE '%\"errorDeclaration\"%'")


def downgrade() -> None:
    with op.batch_alter_table('epcis_events', schema=None) as batch_op:
        batch_op.drop_index('uq_epcis_events_secretariat_event_id')
        batch_op.drop_index('uq_epcis_events_owner_event_id')
        batch_op.drop_index(batch_op.f('ix_epcis_events_event_id'))
        batch_op.create_unique_constraint('uq_epcis_events_event_id', ['event_id'])
        batch_op.drop_column('error_declaration')
