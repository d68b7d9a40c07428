"""Edge: Kamailio's usrloc `location` table (registrations survive an edge restart).

Revision ID: 0002_edge
Revises: 0002_events
Create Date: 2026-11-28 19:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_edge"
down_revision: str | None = "0002_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "location",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ruid", sa.String(length=64), server_default="", nullable=False),
        sa.Column("username", sa.String(length=64), server_default="", nullable=False),
        sa.Column("domain", sa.String(length=64), nullable=True),
        sa.Column("contact", sa.String(length=512), server_default="", nullable=False),
        sa.Column("received", sa.String(length=128), nullable=True),
        sa.Column("path", sa.String(length=512), nullable=True),
        sa.Column("expires", sa.DateTime(), server_default="2030-05-28 21:32:15", nullable=False),
        sa.Column("q", sa.REAL(), server_default="1.0", nullable=False),
        sa.Column(
            "callid", sa.String(length=255), server_default="Default-Call-ID", nullable=False
        ),
        sa.Column("cseq", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "last_modified", sa.DateTime(), server_default="2000-01-01 00:00:01", nullable=False
        ),
        sa.Column("flags", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cflags", sa.Integer(), server_default="0", nullable=False),
        sa.Column("user_agent", sa.String(length=255), server_default="", nullable=False),
        sa.Column("socket", sa.String(length=64), nullable=True),
        sa.Column("methods", sa.Integer(), nullable=True),
        sa.Column("instance", sa.String(length=255), nullable=True),
        sa.Column("reg_id", sa.Integer(), server_default="0", nullable=False),
        sa.Column("server_id", sa.Integer(), server_default="0", nullable=False),
        sa.Column("connection_id", sa.Integer(), server_default="0", nullable=False),
        sa.Column("keepalive", sa.Integer(), server_default="0", nullable=False),
        sa.Column("partition", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_location")),
        sa.UniqueConstraint("ruid", name="uq_location_ruid"),
    )
    with op.batch_alter_table("location", schema=None) as batch_op:
        batch_op.create_index(
            "ix_location_account_contact", ["username", "domain", "contact"], unique=False
        )
        batch_op.create_index("ix_location_expires", ["expires"], unique=False)
        batch_op.create_index(
            "ix_location_connection", ["server_id", "connection_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("location", schema=None) as batch_op:
        batch_op.drop_index("ix_location_connection")
        batch_op.drop_index("ix_location_expires")
        batch_op.drop_index("ix_location_account_contact")
    op.drop_table("location")
