"""Reliability: the Telegram inbox (ordering by update id), row leases for several processes, named
leases (one poller, one scheduler), group membership seen from chat_member updates, the bot's own
status in each agency group, and cards re-routed to the command centre.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 10:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ADD COLUMNs (no table copy on SQLite)
    op.add_column("inbound_messages", sa.Column("seq", sa.BigInteger(), nullable=False, server_default="0"))
    op.add_column("inbound_messages", sa.Column("lease_owner", sa.String(length=64), nullable=True))
    op.add_column("inbound_messages", sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_inbound_messages_sender_seq", "inbound_messages", ["sender", "seq"], unique=False)
    op.add_column("outbox", sa.Column("lease_owner", sa.String(length=64), nullable=True))
    op.add_column("outbox", sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("agency_groups", sa.Column("bot_status", sa.String(length=16), nullable=True))
    op.add_column("agency_groups", sa.Column("broken_reason", sa.Text(), nullable=True))
    op.add_column("agency_groups", sa.Column("broken_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("cards", sa.Column("reroute_reason", sa.Text(), nullable=True))
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    op.create_table(
        "group_members",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", "user_id", name=op.f("pk_group_members")),
    )


def downgrade() -> None:
    op.drop_table("group_members")
    op.drop_table("leases")
    op.drop_index("ix_inbound_messages_sender_seq", table_name="inbound_messages")
    with op.batch_alter_table("cards") as batch:
        batch.drop_column("reroute_reason")
    with op.batch_alter_table("agency_groups") as batch:
        batch.drop_column("broken_at")
        batch.drop_column("broken_reason")
        batch.drop_column("bot_status")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
    with op.batch_alter_table("inbound_messages") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
        batch.drop_column("seq")
