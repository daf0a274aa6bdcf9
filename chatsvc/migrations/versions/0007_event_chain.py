"""a hash chain over each session's events (tamper-evident exports)

Adds `events.chain_hash` and fills it for the events already stored, session by session in
sequence order, by the rules of `chatsvc/storage/chain.py`.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

from chatsvc.storage.chain import GENESIS, event_digest, link

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BATCH = 2000


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("chain_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    bind = op.get_bind()
    events = sa.table("events", sa.column("session_id"), sa.column("sequence"), sa.column("payload"), sa.column("chain_hash"))
    sessions = [row[0] for row in bind.execute(sa.select(events.c.session_id).distinct())]
    update = (
        sa.update(events)
        .where(events.c.session_id == sa.bindparam("s"), events.c.sequence == sa.bindparam("q"))
        .values(chain_hash=sa.bindparam("h"))
    )
    for session_id in sessions:
        previous, after = GENESIS, -1
        while True:
            rows = bind.execute(
                sa.select(events.c.sequence, events.c.payload)
                .where(events.c.session_id == session_id, events.c.sequence > after)
                .order_by(events.c.sequence)
                .limit(BATCH)
            ).all()
            if not rows:
                break
            changes = []
            for sequence, payload in rows:
                previous = link(previous, event_digest(bytes(payload)))
                changes.append({"s": session_id, "q": sequence, "h": previous})
            bind.execute(update, changes)
            after = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("chain_hash")
