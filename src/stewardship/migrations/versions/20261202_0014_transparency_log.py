"""the event log as a Merkle tree: stored subtree hashes, checkpoints, witnesses

Every complete subtree of the log's RFC 6962 tree keeps its hash (``event_log_nodes``), so
proofs and tiles read a few rows. Entries written before this revision get their nodes here,
computed from the stored entries. Signed checkpoints, witnesses' cosignatures and the
registered witnesses each get a table; nodes, checkpoints and cosignatures are append-only.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

APPEND_ONLY = ('event_log_nodes', 'event_log_checkpoints', 'event_log_cosignatures')


def upgrade() -> None:
    op.create_table(
        'event_log_nodes',
        sa.Column('level', sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint('level', 'idx', name=op.f('pk_event_log_nodes')))
    op.create_table(
        'event_log_checkpoints',
        sa.Column('size', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('root_hash', sa.LargeBinary(length=32), nullable=False),
        sa.Column('origin', sa.String(length=200), nullable=False),
        sa.Column('key_id', sa.String(length=8), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('size', name=op.f('pk_event_log_checkpoints')))
    op.create_table(
        'event_log_witnesses',
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('vkey', sa.Text(), nullable=False),
        sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('registered_by', sa.String(length=120), nullable=False),
        sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_event_log_witnesses')))
    op.create_table(
        'event_log_cosignatures',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('checkpoint_size', sa.BigInteger(), nullable=False),
        sa.Column('witness', sa.String(length=200), nullable=False),
        sa.Column('key_id', sa.String(length=8), nullable=False),
        sa.Column('cosigned_at', sa.BigInteger(), nullable=False),
        sa.Column('line', sa.Text(), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['checkpoint_size'], ['event_log_checkpoints.size'],
                                name=op.f('fk_event_log_cosignatures_checkpoint_size_event_log_checkpoints')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_event_log_cosignatures')),
        sa.UniqueConstraint('checkpoint_size', 'witness', 'key_id',
                            name=op.f('uq_event_log_cosignatures_checkpoint_size_witness_key_id')))
    op.create_index(op.f('ix_event_log_cosignatures_checkpoint_size'),
                    'event_log_cosignatures', ['checkpoint_size'], unique=False)
    _backfill()
    _append_only()


def _backfill() -> None:
    from stewardship.core import merkle
    from stewardship.core.eventlog import entry_body

    bind = op.get_bind()
    entries = sa.table('event_log', sa.column('sequence'), sa.column('recorded_at'),
                       sa.column('actor'), sa.column('kind'), sa.column('subject'),
                       sa.column('payload_digest'), sa.column('prev_hash'))
    nodes = sa.table('event_log_nodes', sa.column('level'), sa.column('idx'),
                     sa.column('hash'))
    made: dict[tuple[int, int], bytes] = {}
    last = 0
    while True:
        rows = bind.execute(sa.select(entries).where(entries.c.sequence > last)
                            .order_by(entries.c.sequence).limit(5000)).all()
        if not rows:
            break
        batch = []
        for r in rows:
            recorded = r.recorded_at
            if isinstance(recorded, str):  # SQLite hands back text under a plain table()
                from datetime import datetime
                recorded = datetime.fromisoformat(recorded)
            if recorded.tzinfo is None:
                from datetime import UTC
                recorded = recorded.replace(tzinfo=UTC)
            leaf = merkle.leaf_hash(entry_body(r.sequence, recorded, r.actor, r.kind,
                                               r.subject, r.payload_digest, r.prev_hash))
            for level, idx, h in merkle.completed_nodes(r.sequence - 1, leaf,
                                                        lambda lv, i: made[(lv, i)]):
                made[(level, idx)] = h
                batch.append({'level': level, 'idx': idx, 'hash': h})
        bind.execute(sa.insert(nodes), batch)
        last = rows[-1].sequence


def _append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$ BEGIN "
                f"RAISE EXCEPTION '{table} is append-only'; END; $$ LANGUAGE plpgsql")
            op.execute(
                f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()")
    else:
        for table in APPEND_ONLY:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
    op.drop_index(op.f('ix_event_log_cosignatures_checkpoint_size'),
                  table_name='event_log_cosignatures')
    op.drop_table('event_log_cosignatures')
    op.drop_table('event_log_witnesses')
    op.drop_table('event_log_checkpoints')
    op.drop_table('event_log_nodes')
