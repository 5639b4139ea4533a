"""Workshop tables (SQLAlchemy Core): classes, students, exercise attempts, join-attempt log.

Times are UNIX seconds as floats, so SQLite and PostgreSQL store and compare them alike.
The schema itself is created by the Alembic migrations in ``app/workshop/migrations/versions``;
these Table objects mirror them for queries, and ``tests/test_workshop_store.py`` checks that the
migrated database matches them.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

classes = sa.Table(
    "ws_class", metadata,
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

students = sa.Table(
    "ws_student", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("class_id", sa.Integer, sa.ForeignKey("ws_class.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("name", sa.String(40), nullable=False),
    sa.Column("name_key", sa.String(100), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False),
    sa.Column("joined_at", sa.Float, nullable=False),
    sa.Column("left_at", sa.Float),
    sa.UniqueConstraint("class_id", "name_key", name="uq_ws_student_name"),
)

attempts = sa.Table(
    "ws_attempt", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("class_id", sa.Integer, sa.ForeignKey("ws_class.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("student_id", sa.Integer, sa.ForeignKey("ws_student.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("wid", sa.String(64), nullable=False),
    sa.Column("exercise", sa.String(64), nullable=False),
    sa.Column("answer", sa.String(200), nullable=False),
    sa.Column("correct", sa.Boolean, nullable=False),
    sa.Column("hints", sa.Integer, nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)

# One row per counted event: a wrong join code ("join_fail") or a new class ("create"), by hashed client.
join_log = sa.Table(
    "ws_join_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("client", sa.String(32), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Index("ix_ws_join_log_kind_at", "kind", "at"),
    sa.Index("ix_ws_join_log_client", "client", "kind", "at"),
)
