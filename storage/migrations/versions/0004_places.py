"""Places and duplicates: complaints.kecamatan/kelurahan, duplicate_of, the nearby-lookup index, and the
citizens who follow a complaint they also reported.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 03:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ADD COLUMNs: no table copy on SQLite, and offline SQL works
    op.add_column("complaints", sa.Column("kecamatan", sa.String(length=64), nullable=True))
    op.add_column("complaints", sa.Column("kelurahan", sa.String(length=64), nullable=True))
    # no FOREIGN KEY: SQLite cannot add one without copying the table (and offline SQL could not do
    # that); the repository only ever writes ids it has just read
    op.add_column("complaints", sa.Column("duplicate_of", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_complaints_kecamatan"), "complaints", ["kecamatan"], unique=False)
    op.create_index("ix_complaints_nearby", "complaints", ["category", "latitude", "longitude"], unique=False)
    op.create_table(
        "complaint_followers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"], ["complaints.id"], name=op.f("fk_complaint_followers_complaint_id_complaints")
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_complaint_followers_citizen_id_citizens")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_followers")),
        sa.UniqueConstraint("complaint_id", "citizen_id", name=op.f("uq_complaint_followers_complaint_id")),
    )
    op.create_index(
        op.f("ix_complaint_followers_complaint_id"), "complaint_followers", ["complaint_id"], unique=False
    )
    op.create_index(op.f("ix_complaint_followers_citizen_id"), "complaint_followers", ["citizen_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_complaint_followers_citizen_id"), table_name="complaint_followers")
    op.drop_index(op.f("ix_complaint_followers_complaint_id"), table_name="complaint_followers")
    op.drop_table("complaint_followers")
    op.drop_index("ix_complaints_nearby", table_name="complaints")
    op.drop_index(op.f("ix_complaints_kecamatan"), table_name="complaints")
    with op.batch_alter_table("complaints") as batch:
        batch.drop_column("duplicate_of")
        batch.drop_column("kelurahan")
        batch.drop_column("kecamatan")
