"""epcis: master data from capture headers, and each capture job's ledger effects

A capture document's ``epcisHeader`` master data (locations, parties) is kept per
capturer, so the top-level resources show it and a location can name a facility; a
capture job records what each event did to the custody ledger.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'epcis_master_data',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('organization_id', sa.Uuid(), nullable=True),
        sa.Column('vocabulary', sa.String(length=300), nullable=False),
        sa.Column('element_id', sa.String(length=512), nullable=False),
        sa.Column('attributes', sa.JSON(), nullable=False),
        sa.Column('children', sa.JSON(), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                                name=op.f('fk_epcis_master_data_organization_id_organizations')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_epcis_master_data')),
    )
    op.create_index('uq_epcis_master_data_owner_element', 'epcis_master_data',
                    ['organization_id', 'vocabulary', 'element_id'], unique=True)
    op.create_index('ix_epcis_master_data_element', 'epcis_master_data',
                    ['element_id', 'vocabulary'])
    op.create_index(op.f('ix_epcis_master_data_organization_id'), 'epcis_master_data',
                    ['organization_id'])
    op.add_column('epcis_capture_jobs', sa.Column('ledger', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('epcis_capture_jobs') as batch_op:
        batch_op.drop_column('ledger')
    op.drop_index(op.f('ix_epcis_master_data_organization_id'), table_name='epcis_master_data')
    op.drop_index('ix_epcis_master_data_element', table_name='epcis_master_data')
    op.drop_index('uq_epcis_master_data_owner_element', table_name='epcis_master_data')
    op.drop_table('epcis_master_data')
