"""EPCIS named queries, their webhook subscriptions and the delivery log

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import stewardship.core.db

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

_TIME = stewardship.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('epcis_named_queries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('query', sa.JSON(), nullable=False),
    sa.Column('created_at', _TIME, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_epcis_named_queries')))
    op.create_index('uq_epcis_named_queries_owner_name', 'epcis_named_queries',
                    ['owner', 'name'], unique=True)
    op.create_table('epcis_subscriptions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('query_id', sa.Uuid(), nullable=False),
    sa.Column('actor', sa.JSON(), nullable=False),
    sa.Column('dest', sa.String(length=2000), nullable=False),
    sa.Column('secret', sa.String(length=500), nullable=True),
    sa.Column('stream', sa.Boolean(), nullable=False),
    sa.Column('schedule', sa.JSON(), nullable=True),
    sa.Column('report_if_empty', sa.Boolean(), nullable=False),
    sa.Column('cursor', sa.BigInteger(), nullable=False),
    sa.Column('next_at', _TIME, nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_until', _TIME, nullable=True),
    sa.Column('created_at', _TIME, nullable=False),
    sa.Column('last_notified_at', _TIME, nullable=True),
    sa.ForeignKeyConstraint(['query_id'], ['epcis_named_queries.id'],
                            name=op.f('fk_epcis_subscriptions_query_id_epcis_named_queries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_epcis_subscriptions')))
    op.create_index(op.f('ix_epcis_subscriptions_query_id'), 'epcis_subscriptions',
                    ['query_id'], unique=False)
    op.create_index(op.f('ix_epcis_subscriptions_next_at'), 'epcis_subscriptions',
                    ['next_at'], unique=False)
    op.create_table('epcis_deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('subscription_id', sa.Uuid(), nullable=False),
    sa.Column('at', _TIME, nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('event_count', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['subscription_id'], ['epcis_subscriptions.id'],
                            name=op.f('fk_epcis_deliveries_subscription_id_epcis_subscriptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_epcis_deliveries')))
    op.create_index(op.f('ix_epcis_deliveries_subscription_id'), 'epcis_deliveries',
                    ['subscription_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_epcis_deliveries_subscription_id'), table_name='epcis_deliveries')
    op.drop_table('epcis_deliveries')
    op.drop_index(op.f('ix_epcis_subscriptions_next_at'), table_name='epcis_subscriptions')
    op.drop_index(op.f('ix_epcis_subscriptions_query_id'), table_name='epcis_subscriptions')
    op.drop_table('epcis_subscriptions')
    op.drop_index('uq_epcis_named_queries_owner_name', table_name='epcis_named_queries')
    op.drop_table('epcis_named_queries')
