"""Workshop tables: classes, students, attempts, join log.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ws_class",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("join_code", sa.String(12), nullable=False),
        sa.Column("teacher_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("follow_wid", sa.String(64)),
        sa.Column("follow_section", sa.String(64)),
        sa.Column("follow_query", sa.String(1000)),
        sa.Column("follow_at", sa.Float),
        sa.UniqueConstraint("join_code", name="uq_ws_class_join_code"),
    )
    op.create_table(
        "ws_student",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("class_id", sa.Integer, sa.ForeignKey("ws_class.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("name_key", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("joined_at", sa.Float, nullable=False),
        sa.Column("left_at", sa.Float),
        sa.UniqueConstraint("class_id", "name_key", name="uq_ws_student_name"),
    )
    op.create_index("ix_ws_student_class_id", "ws_student", ["class_id"])
    op.create_table(
        "ws_attempt",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("class_id", sa.Integer, sa.ForeignKey("ws_class.id", ondelete="CASCADE"), nullable=False),
        sa.Column("student_id", sa.Integer, sa.ForeignKey("ws_student.id", ondelete="CASCADE"), nullable=False),
        sa.Column("wid", sa.String(64), nullable=False),
        sa.Column("exercise", sa.String(64), nullable=False),
        sa.Column("answer", sa.String(200), nullable=False),
        sa.Column("correct", sa.Boolean, nullable=False),
        sa.Column("hints", sa.Integer, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_ws_attempt_class_id", "ws_attempt", ["class_id"])
    op.create_index("ix_ws_attempt_student_id", "ws_attempt", ["student_id"])
    op.create_table(
        "ws_join_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("client", sa.String(32), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_ws_join_log_kind_at", "ws_join_log", ["kind", "at"])
    op.create_index("ix_ws_join_log_client", "ws_join_log", ["client", "kind", "at"])


def downgrade() -> None:
    op.drop_table("ws_join_log")
    op.drop_table("ws_attempt")
    op.drop_table("ws_student")
    op.drop_table("ws_class")
