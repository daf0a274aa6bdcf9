"""the Q&A queue: questions and their upvotes

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "questions",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("session_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("asker_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("asker_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("upvote_count", sa.Integer(), nullable=False),
        sa.Column("pinned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer_text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("answered_live", sa.Boolean(), nullable=False),
        sa.Column("answered_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_questions_session_created", "questions", ["session_id", "created_at"])
    op.create_table(
        "question_upvotes",
        sa.Column("question_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("session_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("question_id", "user_id"),
    )


def downgrade() -> None:
    op.drop_table("question_upvotes")
    op.drop_index("ix_questions_session_created", table_name="questions")
    op.drop_table("questions")
