"""Paging: indexes that give one page of a mailbox's lists in order (Messages, Faxes, Deleted)
and its counts without reading the rows.

Revision ID: 0006_paging
Revises: 0005_security
Create Date: 2026-12-05 03:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006_paging"
down_revision: str | None = "0005_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_message_page": ["line_number", "folder", "kind", "heard", "received_at", "id"],
    "ix_message_any": ["line_number", "folder", "heard", "received_at", "id"],
    "ix_message_deleted": ["line_number", "folder", "deleted_at", "id"],
    "ix_message_counts": ["line_number", "folder", "kind", "heard", "urgent", "duration_seconds"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "message", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="message")
