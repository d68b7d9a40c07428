"""Events: durable consumers' ledger, outbox age index, notification jobs by message.

Revision ID: 0002_events
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_events"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_consumed",
        sa.Column("consumer", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_event_consumed")),
    )
    with op.batch_alter_table("event_consumed", schema=None) as batch_op:
        batch_op.create_index("ix_event_consumed_at", ["consumed_at"], unique=False)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_created", ["created_at"], unique=False)
    with op.batch_alter_table("notification_job", schema=None) as batch_op:
        batch_op.create_index("ix_notification_job_message", ["message_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notification_job", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_job_message")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_created")
    with op.batch_alter_table("event_consumed", schema=None) as batch_op:
        batch_op.drop_index("ix_event_consumed_at")
    op.drop_table("event_consumed")
