"""custody: each CoC document keeps its origin levels

A document's origins in two levels (smelter or remelter, then refinery and mine, each
with its kilograms and percent share), without names, kept beside the document with the
digest of the composition text they were computed from and of their own
text (`custody.origins.stored`), so
that the chain trace shows any document's origins without computing them. Issuing writes
them from now on; the documents already issued get theirs here.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-02 17:40:00
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from stewardship.custody.origins import stored

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    op.add_column('coc_documents', sa.Column('origin_levels', sa.JSON(), nullable=True))
    op.add_column('coc_documents',
                  sa.Column('origin_levels_of', sa.String(length=32), nullable=True))
    bind = op.get_bind()
    docs = sa.table('coc_documents', sa.column('id', sa.Uuid()),
                    sa.column('composition', sa.Text()),
                    sa.column('origin_levels', sa.JSON()),
                    sa.column('origin_levels_of', sa.String()))
    # The composition as stored (its text: the digest names that very text).
    read = sa.select(docs.c.id, sa.cast(docs.c.composition, sa.Text)).order_by(docs.c.id)
    write = (sa.update(docs).where(docs.c.id == sa.bindparam('b_id'))
             .values(origin_levels=sa.bindparam('b_levels'),
                     origin_levels_of=sa.bindparam('b_of')))
    last = None
    while True:
        query = read if last is None else read.where(docs.c.id > last)
        batch = list(bind.execute(query.limit(BATCH)))
        if not batch:
            break
        rows = []
        for doc_id, text in batch:
            levels = stored.levels_to_data(stored.levels_of(json.loads(text)))
            rows.append({'b_id': doc_id, 'b_levels': levels,
                         'b_of': stored.digest(text, stored.composition_text(levels))})
        bind.execute(write, rows)
        last = batch[-1][0]


def downgrade() -> None:
    op.drop_column('coc_documents', 'origin_levels_of')
    op.drop_column('coc_documents', 'origin_levels')
