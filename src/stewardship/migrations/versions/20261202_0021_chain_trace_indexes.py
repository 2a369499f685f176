"""custody: indexes for the chain trace

A tier of a chain trace asks, for each document of the tier, what its issuer received
into the periods its balance could come from by its shipment date: how many (counted
from ``ix_coc_documents_recipient``, which now also holds the receipt day, so the count
reads the index alone) and the largest ten (read from ``ix_coc_documents_chain``
in quantity order, largest first, stopping at the tenth: only equal quantities are
sorted by number).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 13:30:00
"""

from __future__ import annotations

from alembic import op


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_coc_documents_recipient', table_name='coc_documents')
    op.create_index('ix_coc_documents_recipient', 'coc_documents',
                    ['recipient_entity_id', 'status', 'receipt_period_start', 'received_on'])
    op.create_index('ix_coc_documents_chain', 'coc_documents',
                    ['recipient_entity_id', 'status', 'coc_quantity_kg', 'number',
                     'receipt_period_start', 'received_on', 'id'])


def downgrade() -> None:
    op.drop_index('ix_coc_documents_chain', table_name='coc_documents')
    op.drop_index('ix_coc_documents_recipient', table_name='coc_documents')
    op.create_index('ix_coc_documents_recipient', 'coc_documents',
                    ['recipient_entity_id', 'status', 'receipt_period_start'])
