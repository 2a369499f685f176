"""epcis: the media type a subscription's deliveries are sent in

A webhook subscription may ask for its EPCISQueryDocuments in XML (or JSON-LD) rather
than JSON; existing subscriptions keep JSON.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('epcis_subscriptions',
                  sa.Column('media_type', sa.String(length=40),
                            server_default='application/json', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('epcis_subscriptions') as batch_op:
        batch_op.drop_column('media_type')
