"""indexes for slow mode and pinned messages

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_session_sender_time", ["session_id", "sender_id", "created_at"], unique=False)
        batch_op.create_index("ix_messages_session_pinned", ["session_id", "pinned_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_session_pinned")
        batch_op.drop_index("ix_messages_session_sender_time")
