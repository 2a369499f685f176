"""issued credentials: the VC-JOSE tokens the platform signed and their status bits

One row per credential (a certificate's, a CoC document's), with its log leaf, the key that
signed it and its revocation and suspension bits, which the status lists are read from.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 07:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'issued_credentials',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('subject_ref', sa.String(length=200), nullable=False),
        sa.Column('organization_id', sa.String(length=36), nullable=True),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('token', sa.Text(), nullable=False),
        sa.Column('leaf_index', sa.BigInteger(), nullable=False),
        sa.Column('key_id', sa.String(length=8), nullable=False),
        sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked', sa.Boolean(), nullable=False),
        sa.Column('suspended', sa.Boolean(), nullable=False),
        sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_issued_credentials')))
    op.create_index(op.f('ix_issued_credentials_subject_ref'), 'issued_credentials',
                    ['subject_ref'], unique=False)
    op.create_index(op.f('ix_issued_credentials_organization_id'), 'issued_credentials',
                    ['organization_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_issued_credentials_organization_id'),
                  table_name='issued_credentials')
    op.drop_index(op.f('ix_issued_credentials_subject_ref'), table_name='issued_credentials')
    op.drop_table('issued_credentials')
