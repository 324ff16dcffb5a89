"""Accountability (issue 11): the accept and resolve clocks of each complaint, timers the scheduler fires
once (reminders, overdue notices, escalations, digests, closing unanswered resolution questions), the
clerk's proof of fix, the citizen's confirmation, rating and appeal, and a new status ``dibuka_kembali``
(a plain string: no schema change).

The clocks of complaints already stored are filled by ``sikesal migrate`` right after this revision,
from config.yaml (see bot.services.clocks.fill_missing_clocks): a migration cannot read the city's config.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 17:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

def _complaint_columns() -> list[sa.Column[object]]:
    """Fresh objects each time (a Column belongs to one table once it is used)."""
    return [
        sa.Column("accept_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accept_round", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("resolve_round", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("reopen_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("proof_note", sa.Text(), nullable=True),
        sa.Column("confirmation", sa.String(length=8), nullable=True),
        sa.Column("confirm_asked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("rating_comment", sa.Text(), nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("appeal_reason", sa.Text(), nullable=True),
        sa.Column("appealed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("appeal_outcome", sa.String(length=16), nullable=True),
    ]


def upgrade() -> None:
    # plain ADD COLUMNs (no table copy on SQLite)
    for column in _complaint_columns():
        op.add_column("complaints", column)
    op.add_column(
        "complaint_photos", sa.Column("kind", sa.String(length=8), nullable=False, server_default="report")
    )
    op.add_column("audit_log", sa.Column("media_sha256", sa.String(length=64), nullable=True))
    op.create_table(
        "timers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaints.id"], name=op.f("fk_timers_complaint_id_complaints")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timers")),
        sa.UniqueConstraint("kind", "subject", "level", "round", name=op.f("uq_timers_kind")),
    )
    op.create_index(op.f("ix_timers_complaint_id"), "timers", ["complaint_id"], unique=False)
    op.create_index(
        "ix_timers_due", "timers", ["due_at"], unique=False,
        sqlite_where=sa.text("fired_at IS NULL"), postgresql_where=sa.text("fired_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_timers_due", table_name="timers")
    op.drop_index(op.f("ix_timers_complaint_id"), table_name="timers")
    op.drop_table("timers")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("media_sha256")
    with op.batch_alter_table("complaint_photos") as batch:
        batch.drop_column("kind")
    with op.batch_alter_table("complaints") as batch:
        for column in reversed(_complaint_columns()):
            batch.drop_column(column.name)
