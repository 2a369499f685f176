"""body seats held in one's own right, and seats ended before their term

A seat on the standard-setting body may be held by a person without an organisation or an
account (``user_id`` null, ``email`` their contact), and may end before its term
(``ended_on``, the first day it no longer counts, with ``end_reason``). Existing seats are
users' seats that run to their term's end.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('body_members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('ended_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('end_reason', sa.Text(), nullable=True))
        batch_op.alter_column('user_id', existing_type=sa.Uuid(), nullable=True)
        batch_op.create_index(batch_op.f('ix_body_members_email'), ['email'], unique=False)
        batch_op.create_check_constraint(
            'holder', 'user_id IS NOT NULL OR email IS NOT NULL')
        batch_op.create_check_constraint(
            'end_reason', '(ended_on IS NULL) = (end_reason IS NULL)')


def downgrade() -> None:
    # Seats without an account have no place in the older schema.
    op.execute("DELETE FROM ballots WHERE member_id IN "
               "(SELECT id FROM body_members WHERE user_id IS NULL)")
    op.execute("DELETE FROM body_members WHERE user_id IS NULL")
    with op.batch_alter_table('body_members', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_body_members_end_reason'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_body_members_holder'), type_='check')
        batch_op.drop_index(batch_op.f('ix_body_members_email'))
        batch_op.alter_column('user_id', existing_type=sa.Uuid(), nullable=False)
        batch_op.drop_column('end_reason')
        batch_op.drop_column('ended_on')
        batch_op.drop_column('email')
