"""Floods in an agency group (issue 14): the digest messages listing complaints whose cards still wait.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 23:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "group_digests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("complaint_ids", sa.JSON(), nullable=False),
        sa.Column("shown_done", sa.JSON(), nullable=False),
        sa.Column("shown_lines", sa.Integer(), nullable=False),
        sa.Column("edit_outbox_id", sa.Integer(), nullable=True),
        sa.Column("end_outbox_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"], name=op.f("fk_group_digests_outbox_id_outbox")),
    )
    op.create_index("ix_group_digests_chat_open", "group_digests", ["chat_id", "closed"])


def downgrade() -> None:
    op.drop_index("ix_group_digests_chat_open", table_name="group_digests")
    op.drop_table("group_digests")
