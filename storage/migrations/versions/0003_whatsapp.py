"""WhatsApp (Twilio) channel: the inbound inbox, delivery receipts, the 24-hour window and
undeliverable-notice marks.

* ``citizens.last_inbound_at``: when the citizen last wrote (WhatsApp's customer-service window);
* ``complaints.citizen_notice_error``: why the latest notice to the citizen was not delivered;
* ``inbound_messages``: the webhook's inbox (store the form, answer 200, process later);
* ``message_receipts``: delivery status per channel message (Twilio status callbacks).

Types are spelled out (``sa.DateTime(timezone=True)``, not ``UTCDateTime``) so this file never
changes when the models do; tests/storage/test_storage_db.py compares the result with the models.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("citizens") as batch:
        batch.add_column(sa.Column("last_inbound_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("complaints") as batch:
        batch.add_column(sa.Column("citizen_notice_error", sa.Text(), nullable=True))

    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=96), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
        sa.UniqueConstraint("key", name=op.f("uq_inbound_messages_key")),
    )
    op.create_index(
        "ix_inbound_messages_due", "inbound_messages", ["status", "next_attempt_at"], unique=False
    )
    op.create_index(op.f("ix_inbound_messages_sender"), "inbound_messages", ["sender"], unique=False)

    op.create_table(
        "message_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("complaint_id", sa.Integer(), nullable=True),
        sa.Column("chat_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
            name=op.f("fk_message_receipts_complaint_id_complaints"),
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["outbox.id"],
            name=op.f("fk_message_receipts_outbox_id_outbox"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_receipts")),
        sa.UniqueConstraint("channel", "message_id", name=op.f("uq_message_receipts_channel")),
    )
    op.create_index(
        op.f("ix_message_receipts_complaint_id"), "message_receipts", ["complaint_id"], unique=False
    )
    op.create_index(op.f("ix_message_receipts_outbox_id"), "message_receipts", ["outbox_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_message_receipts_outbox_id"), table_name="message_receipts")
    op.drop_index(op.f("ix_message_receipts_complaint_id"), table_name="message_receipts")
    op.drop_table("message_receipts")

    op.drop_index(op.f("ix_inbound_messages_sender"), table_name="inbound_messages")
    op.drop_index("ix_inbound_messages_due", table_name="inbound_messages")
    op.drop_table("inbound_messages")

    with op.batch_alter_table("complaints") as batch:
        batch.drop_column("citizen_notice_error")
    with op.batch_alter_table("citizens") as batch:
        batch.drop_column("last_inbound_at")
