"""certificate lifecycle: superseded certificates, imported certificates, plan notes

A certificate replaced by a later one for the same scope becomes ``superseded``. A
certificate issued before the platform existed can be imported: it then has no platform
audit (``audit_id`` empty, ``audit_reference`` naming the old audit) and may have no
platform scope; ``imported_at`` marks it. The secretariat's note on how an audit plan
reached it is kept beside the day it arrived.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 00:13:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import stewardship.core.db

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

OLD_STATUSES = "status IN ('active', 'suspended', 'withdrawn', 'expired')"
NEW_STATUSES = "status IN ('active', 'suspended', 'withdrawn', 'expired', 'superseded')"


def upgrade() -> None:
    with op.batch_alter_table('audits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('plan_note', sa.Text(), nullable=False,
                                      server_default=''))
    with op.batch_alter_table('audits', schema=None) as batch_op:
        batch_op.alter_column('plan_note', existing_type=sa.Text(), server_default=None)

    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_certificates_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_certificates_status'), NEW_STATUSES)
        batch_op.alter_column('scope_id', existing_type=sa.Uuid(), nullable=True)
        batch_op.alter_column('audit_id', existing_type=sa.Uuid(), nullable=True)
        batch_op.add_column(sa.Column('audit_reference', sa.String(length=100),
                                      nullable=True))
        batch_op.add_column(sa.Column('imported_at',
                                      stewardship.core.db.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.create_index(batch_op.f('ix_certificates_scope_id'), ['scope_id'],
                              unique=False)


def downgrade() -> None:
    bind = op.get_bind()
    # Nothing a certificate rests on is deleted: the older schema has no place for an
    # imported certificate, so the downgrade stops while one exists.
    imported = bind.execute(sa.text(
        "SELECT count(*) FROM certificates WHERE audit_id IS NULL OR scope_id IS NULL"
    )).scalar_one()
    if imported:
        raise RuntimeError(f"{imported} imported certificate(s) exist; the schema before "
                           "revision 0013 cannot hold them, so it is not downgraded")
    # The older schema knew no superseded state; a replaced certificate was left active.
    bind.execute(sa.text("UPDATE certificates SET status = 'active' "
                         "WHERE status = 'superseded'"))
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificates_scope_id'))
        batch_op.drop_column('imported_at')
        batch_op.drop_column('audit_reference')
        batch_op.alter_column('audit_id', existing_type=sa.Uuid(), nullable=False)
        batch_op.alter_column('scope_id', existing_type=sa.Uuid(), nullable=False)
        batch_op.drop_constraint(batch_op.f('ck_certificates_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_certificates_status'), OLD_STATUSES)

    with op.batch_alter_table('audits', schema=None) as batch_op:
        batch_op.drop_column('plan_note')
