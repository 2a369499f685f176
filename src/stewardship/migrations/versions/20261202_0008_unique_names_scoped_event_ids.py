"""unique names, scoped event ids

Organisation names become unique without case, accents or punctuation (``name_key``, with
renames of certified members kept for review in ``organization_name_changes``);
certificates keep the holder's and entity's names they were issued to; EPCIS eventIDs
become unique per capturing organisation (and an error declaration may repeat the id of
the event it corrects).

Existing organisations whose names clash: the oldest keeps the name's key; each later one
gets its key with `` ~<slug>`` appended, so the upgrade succeeds and nothing is renamed
behind anyone's back. The secretariat finds them with ``name_key LIKE '% ~%'`` and has
them renamed; that rename clears the suffix. Certificates issued before this revision get
the names their holders have at upgrade time (the best record there is).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import stewardship.core.db
from stewardship.registry.rules import name_key

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def _backfill_name_keys() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT id, slug, name FROM organizations ORDER BY created_at, slug")).all()
    taken: set[str] = set()
    for org_id, slug, name in rows:
        key = name_key(name)
        if not key or key in taken:
            key = f"{key} ~{slug}".strip()
        taken.add(key)
        bind.execute(sa.text("UPDATE organizations SET name_key = :key WHERE id = :id"),
                     {"key": key[:200], "id": org_id})


def upgrade() -> None:
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_key', sa.String(length=200), nullable=True))
    _backfill_name_keys()
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.alter_column('name_key', existing_type=sa.String(length=200),
                              nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_organizations_name_key'),
                                          ['name_key'])

    op.create_table('organization_name_changes',
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('old_name', sa.String(length=200), nullable=False),
    sa.Column('new_name', sa.String(length=200), nullable=False),
    sa.Column('new_name_key', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('requested_by', sa.String(length=120), nullable=False),
    sa.Column('requested_at', stewardship.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=120), nullable=True),
    sa.Column('decided_at', stewardship.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'approved', 'refused')",
                       name=op.f('ck_organization_name_changes_status')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                            name=op.f('fk_organization_name_changes_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organization_name_changes'))
    )
    with op.batch_alter_table('organization_name_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organization_name_changes_organization_id'),
                              ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_organization_name_changes_new_name_key'),
                              ['new_name_key'], unique=False)
        batch_op.create_index('uq_organization_name_changes_pending', ['organization_id'],
                              unique=True, sqlite_where=sa.text("status = 'pending'"),
                              postgresql_where=sa.text("status = 'pending'"))

    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('holder_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('entity_name', sa.String(length=200), nullable=True))
    op.execute("UPDATE certificates SET "
               "holder_name = (SELECT name FROM organizations "
               "WHERE organizations.id = certificates.organization_id), "
               "entity_name = (SELECT name FROM entities "
               "WHERE entities.id = certificates.entity_id)")
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.alter_column('holder_name', existing_type=sa.String(length=200),
                              nullable=False)
        batch_op.alter_column('entity_name', existing_type=sa.String(length=200),
                              nullable=False)

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
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_column('entity_name')
        batch_op.drop_column('holder_name')
    with op.batch_alter_table('organization_name_changes', schema=None) as batch_op:
        batch_op.drop_index('uq_organization_name_changes_pending')
        batch_op.drop_index(batch_op.f('ix_organization_name_changes_new_name_key'))
        batch_op.drop_index(batch_op.f('ix_organization_name_changes_organization_id'))
    op.drop_table('organization_name_changes')
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_organizations_name_key'), type_='unique')
        batch_op.drop_column('name_key')
    with op.batch_alter_table('epcis_events', schema=None) as batch_op:
        batch_op.drop_index('uq_epcis_events_secretariat_event_id')
        batch_op.drop_index('uq_epcis_events_owner_event_id')
        batch_op.drop_index(batch_op.f('ix_epcis_events_event_id'))
        batch_op.create_unique_constraint('uq_epcis_events_event_id', ['event_id'])
        batch_op.drop_column('error_declaration')
