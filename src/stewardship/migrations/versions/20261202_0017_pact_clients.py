"""PACT client credentials and the outbox of events sent to buyers

A member gives each buyer that pulls product footprints through the PACT API a client id
and secret (the secret kept as a digest); answers to a buyer's requests wait in an outbox
until the server's sender delivers them.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'pact_clients',
        sa.Column('organization_id', sa.Uuid(), nullable=False),
        sa.Column('buyer_organization_id', sa.Uuid(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('client_id', sa.String(length=40), nullable=False),
        sa.Column('secret_digest', sa.String(length=64), nullable=False),
        sa.Column('events_base_url', sa.String(length=300), nullable=False),
        sa.Column('events_client_id', sa.String(length=200), nullable=False),
        sa.Column('events_client_secret', sa.Text(), nullable=False),
        sa.Column('created_by', sa.String(length=120), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.CheckConstraint('organization_id <> buyer_organization_id',
                           name=op.f('ck_pact_clients_two_parties')),
        sa.ForeignKeyConstraint(['buyer_organization_id'], ['organizations.id'],
                                name=op.f('fk_pact_clients_buyer_organization_id_organizations')),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                                name=op.f('fk_pact_clients_organization_id_organizations')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pact_clients')),
        sa.UniqueConstraint('client_id', name=op.f('uq_pact_clients_client_id')))
    op.create_index(op.f('ix_pact_clients_organization_id'), 'pact_clients',
                    ['organization_id'], unique=False)
    op.create_index(op.f('ix_pact_clients_buyer_organization_id'), 'pact_clients',
                    ['buyer_organization_id'], unique=False)
    op.create_table(
        'pact_outbound_events',
        sa.Column('client_pk', sa.Uuid(), nullable=False),
        sa.Column('target_url', sa.String(length=400), nullable=False),
        sa.Column('body', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')",
                           name=op.f('ck_pact_outbound_events_status')),
        sa.ForeignKeyConstraint(['client_pk'], ['pact_clients.id'],
                                name=op.f('fk_pact_outbound_events_client_pk_pact_clients')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pact_outbound_events')))
    op.create_index(op.f('ix_pact_outbound_events_client_pk'), 'pact_outbound_events',
                    ['client_pk'], unique=False)
    op.create_index('ix_pact_outbound_events_due', 'pact_outbound_events',
                    ['status', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_pact_outbound_events_due', table_name='pact_outbound_events')
    op.drop_index(op.f('ix_pact_outbound_events_client_pk'), table_name='pact_outbound_events')
    op.drop_table('pact_outbound_events')
    op.drop_index(op.f('ix_pact_clients_buyer_organization_id'), table_name='pact_clients')
    op.drop_index(op.f('ix_pact_clients_organization_id'), table_name='pact_clients')
    op.drop_table('pact_clients')
