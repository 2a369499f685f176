"""facility time zones

Each facility keeps the IANA zone it is in (``facilities.time_zone``): a date recorded
without a time (a production's, a shipment's) is judged against the day at the site.
Facilities registered before this revision get their country's main zone
(core/timezones.py); their owners change it where the site keeps another.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stewardship.core.timezones import default_zone

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))
    bind = op.get_bind()
    for (country,) in bind.execute(sa.text("SELECT DISTINCT country FROM facilities")).all():
        bind.execute(sa.text("UPDATE facilities SET time_zone = :zone WHERE country = :country"),
                     {"zone": default_zone(country), "country": country})
    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.alter_column('time_zone', existing_type=sa.String(length=64), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.drop_column('time_zone')
