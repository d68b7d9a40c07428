"""Answer confirmation: ring_entry.confirm_answer and call_log.not_accepted.

Revision ID: 0003_confirm
Revises: 0002_edge
Create Date: 2026-12-05 03:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_confirm"
down_revision: str | None = "0002_edge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ring_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirm_answer", sa.Boolean(), nullable=True))
    with op.batch_alter_table("call_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("not_accepted", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_log", schema=None) as batch_op:
        batch_op.drop_column("not_accepted")
    with op.batch_alter_table("ring_entry", schema=None) as batch_op:
        batch_op.drop_column("confirm_answer")
