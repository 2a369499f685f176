"""epcis: the index keeps numbers, field rows and canonical Digital Links

The narrow index of events (``epcis_event_terms``) gains a ``number`` column, so that
the SimpleEventQuery field parameters (quantities, sensor values, error declaration
times, ILMD and extension fields) compare in SQL; events captured before are indexed
here: each EPC's canonical GS1 Digital Link (kind + 20) and each field row.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 13:30:00
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from stewardship.interop import rules
from stewardship.interop.epcis import fields

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

BATCH = 500


def upgrade() -> None:
    op.add_column('epcis_event_terms',
                  sa.Column('number', sa.Float(precision=53), nullable=True))
    bind = op.get_bind()
    terms = sa.table('epcis_event_terms', sa.column('event_pk'), sa.column('kind'),
                     sa.column('value'), sa.column('number'))
    contexts = {int(i): rules.context_prefixes(json.loads(body)) for i, body in
                bind.execute(sa.text('SELECT id, body FROM epcis_contexts'))}
    last = 0
    while True:
        batch = list(bind.execute(sa.text(
            'SELECT id, body, context_id FROM epcis_events WHERE id > :last '
            'ORDER BY id LIMIT :n'), {'last': last, 'n': BATCH}))
        if not batch:
            break
        rows = []
        for pk, body, context_id in batch:
            event = json.loads(body)
            prefixes = contexts.get(context_id, rules.DEFAULT_PREFIXES)
            rows += [{'event_pk': pk, 'kind': kind, 'value': value, 'number': None}
                     for kind, value in rules.index_terms(event)
                     if kind > rules.CANONICAL_OFFSET]
            rows += [{'event_pk': pk, 'kind': kind, 'value': value, 'number': number}
                     for kind, value, number in fields.field_terms(event, prefixes)]
        if rows:
            bind.execute(sa.insert(terms), rows)
        last = int(batch[-1][0])


def downgrade() -> None:
    op.execute(f'DELETE FROM epcis_event_terms WHERE kind > {rules.CANONICAL_OFFSET}')
    with op.batch_alter_table('epcis_event_terms') as batch_op:
        batch_op.drop_column('number')
