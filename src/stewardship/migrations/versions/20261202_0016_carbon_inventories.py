"""carbon inventories and their processes; CoC documents carry a footprint

An inventory holds one entity's (or installation's) emissions for a period beside its
output per process; a CoC document states the footprint of the metal it covers, the share
of it that is primary data and how it was built up. Documents issued before this revision
carry none (NULL).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

TONNES = sa.Numeric(precision=16, scale=3)


def upgrade() -> None:
    op.create_table(
        'carbon_inventories',
        sa.Column('organization_id', sa.Uuid(), nullable=False),
        sa.Column('entity_id', sa.Uuid(), nullable=False),
        sa.Column('facility_id', sa.Uuid(), nullable=True),
        sa.Column('period_start', sa.Date(), nullable=False),
        sa.Column('period_end', sa.Date(), nullable=False),
        sa.Column('scope1_t', TONNES, nullable=False),
        sa.Column('pfc_t', TONNES, nullable=False),
        sa.Column('pfc_method', sa.String(length=12), nullable=True),
        sa.Column('anodes_consumed_t', TONNES, nullable=True),
        sa.Column('electricity_mwh', TONNES, nullable=False),
        sa.Column('electricity_factor_t_per_mwh', sa.Numeric(precision=10, scale=6),
                  nullable=False),
        sa.Column('electricity_factor_source', sa.String(length=200), nullable=False),
        sa.Column('scope3_cat1_t', TONNES, nullable=False),
        sa.Column('scope3_cat3_t', TONNES, nullable=False),
        sa.Column('scope3_cat4_t', TONNES, nullable=False),
        sa.Column('allocation', sa.String(length=12), nullable=False),
        sa.Column('method', sa.String(length=200), nullable=False),
        sa.Column('verification', sa.String(length=24), nullable=False),
        sa.Column('recorded_by', sa.String(length=120), nullable=False),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('period_end >= period_start',
                           name=op.f('ck_carbon_inventories_period')),
        sa.CheckConstraint('scope1_t >= 0 AND pfc_t >= 0 AND electricity_mwh >= 0 '
                           'AND electricity_factor_t_per_mwh >= 0 AND scope3_cat1_t >= 0 '
                           'AND scope3_cat3_t >= 0 AND scope3_cat4_t >= 0',
                           name=op.f('ck_carbon_inventories_not_negative')),
        sa.CheckConstraint("pfc_method IS NULL OR pfc_method IN ('slope', 'overvoltage')",
                           name=op.f('ck_carbon_inventories_pfc_method')),
        sa.CheckConstraint("allocation IN ('mass', 'declared')",
                           name=op.f('ck_carbon_inventories_allocation')),
        sa.CheckConstraint("verification IN ('self_declared', 'third_party_verified')",
                           name=op.f('ck_carbon_inventories_verification')),
        sa.ForeignKeyConstraint(['entity_id'], ['entities.id'],
                                name=op.f('fk_carbon_inventories_entity_id_entities')),
        sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'],
                                name=op.f('fk_carbon_inventories_facility_id_facilities')),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                                name=op.f('fk_carbon_inventories_organization_id_organizations')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_carbon_inventories')),
        sa.UniqueConstraint('entity_id', 'facility_id', 'period_start',
                            name=op.f('uq_carbon_inventories_entity_id_facility_id_period_start')))
    op.create_index('ix_carbon_inventories_entity_period', 'carbon_inventories',
                    ['entity_id', 'period_start'], unique=False)
    op.create_index(op.f('ix_carbon_inventories_organization_id'), 'carbon_inventories',
                    ['organization_id'], unique=False)
    op.create_index(op.f('ix_carbon_inventories_facility_id'), 'carbon_inventories',
                    ['facility_id'], unique=False)
    op.create_table(
        'carbon_inventory_processes',
        sa.Column('inventory_id', sa.Uuid(), nullable=False),
        sa.Column('process', sa.String(length=20), nullable=False),
        sa.Column('output_kg', sa.BigInteger(), nullable=False),
        sa.Column('declared_t', TONNES, nullable=True),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.CheckConstraint('output_kg > 0', name=op.f('ck_carbon_inventory_processes_output')),
        sa.CheckConstraint('declared_t IS NULL OR declared_t >= 0',
                           name=op.f('ck_carbon_inventory_processes_declared')),
        sa.ForeignKeyConstraint(
            ['inventory_id'], ['carbon_inventories.id'], ondelete='CASCADE',
            name=op.f('fk_carbon_inventory_processes_inventory_id_carbon_inventories')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_carbon_inventory_processes')),
        sa.UniqueConstraint('inventory_id', 'process',
                            name=op.f('uq_carbon_inventory_processes_inventory_id_process')))
    op.create_index(op.f('ix_carbon_inventory_processes_inventory_id'),
                    'carbon_inventory_processes', ['inventory_id'], unique=False)
    # Plain ALTER TABLE (no batch copy), so the documents keep their triggers.
    op.add_column('coc_documents', sa.Column('footprint_kg_co2e_per_kg',
                                             sa.Numeric(precision=12, scale=6), nullable=True))
    op.add_column('coc_documents', sa.Column('footprint_primary_percent',
                                             sa.Numeric(precision=5, scale=2), nullable=True))
    op.add_column('coc_documents', sa.Column('footprint_tiers', sa.JSON(), nullable=True))


def downgrade() -> None:
    for column in ('footprint_tiers', 'footprint_primary_percent', 'footprint_kg_co2e_per_kg'):
        op.drop_column('coc_documents', column)
    op.drop_index(op.f('ix_carbon_inventory_processes_inventory_id'),
                  table_name='carbon_inventory_processes')
    op.drop_table('carbon_inventory_processes')
    op.drop_index(op.f('ix_carbon_inventories_facility_id'), table_name='carbon_inventories')
    op.drop_index(op.f('ix_carbon_inventories_organization_id'),
                  table_name='carbon_inventories')
    op.drop_index('ix_carbon_inventories_entity_period', table_name='carbon_inventories')
    op.drop_table('carbon_inventories')
