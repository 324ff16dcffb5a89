"""Privacy and abuse (issue 12): anonymous and confidential complaints, blocked citizens, erased
citizens. Re-encoding the photos already stored is a data step of ``sikesal migrate`` (it needs the media
directory), like the clocks of issue 11.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 17:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ADD COLUMNs (no table copy on SQLite)
    op.add_column("citizens", sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("citizens", sa.Column("blocked_reason", sa.Text(), nullable=True))
    op.add_column("citizens", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    # floods (issue 12): the blocked citizen's one notice, the message rate, the daily complaint count
    op.add_column("citizens", sa.Column("block_noticed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("citizens", sa.Column("rate_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("citizens", sa.Column("rate_count", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("citizens", sa.Column("rate_previous", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("citizens", sa.Column("rate_group", sa.String(length=64), nullable=True))
    op.add_column("citizens", sa.Column("rate_group_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("citizens", sa.Column("rate_warned", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("citizens", sa.Column("filed_day", sa.String(length=10), nullable=True))
    op.add_column("citizens", sa.Column("filed_count", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("complaints", sa.Column("privacy", sa.String(length=8), nullable=False, server_default=""))
    # photos (issue 12): files stored before are re-encoded by `sikesal migrate` (bot.services.photos), which
    # marks them; every file stored from now on is re-encoded already (the model's default)
    op.add_column("media_files", sa.Column("reencoded", sa.Boolean(), nullable=False, server_default=sa.false()))
    # retention (issue 12): when a stored message's content was purged (privacy.messages_days)
    op.add_column("outbox", sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("inbound_messages", sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
    # an Anonim complaint's own alias (random, handlers.privacy): never derived from the citizen
    op.add_column("complaints", sa.Column("anon_alias", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("media_files") as batch:
        batch.drop_column("reencoded")
    with op.batch_alter_table("inbound_messages") as batch:
        batch.drop_column("purged_at")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("purged_at")
    with op.batch_alter_table("complaints") as batch:
        batch.drop_column("anon_alias")
        batch.drop_column("privacy")
    with op.batch_alter_table("citizens") as batch:
        for column in ("filed_count", "filed_day", "rate_warned", "rate_group_at", "rate_group", "rate_previous",
                       "rate_count", "rate_at", "block_noticed_at"):
            batch.drop_column(column)
        batch.drop_column("erased_at")
        batch.drop_column("blocked_reason")
        batch.drop_column("blocked_at")
