"""Initial schema: every entity of SPEC S2.

Revision ID: 0001
Revises:
Create Date: 2026-11-28 18:05:57.262911
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("services_pin_hash", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("allow_international", sa.Boolean(), nullable=False),
        sa.Column("ucn_enabled", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("language IN ('fr', 'en')", name=op.f("ck_account_language")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_pending", ["sent_at", "id"], unique=False)

    op.create_table(
        "contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("first_name", sa.String(length=80), nullable=False),
        sa.Column("last_name", sa.String(length=80), nullable=False),
        sa.Column("nickname", sa.String(length=80), nullable=False),
        sa.Column("company", sa.String(length=120), nullable=False),
        sa.Column("business_phone", sa.String(length=32), nullable=False),
        sa.Column("home_phone", sa.String(length=32), nullable=False),
        sa.Column("mobile_phone", sa.String(length=32), nullable=False),
        sa.Column("fax", sa.String(length=32), nullable=False),
        sa.Column("other_phone", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("email2", sa.String(length=254), nullable=False),
        sa.Column("email3", sa.String(length=254), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_contact_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact")),
    )
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.create_index(
            "ix_contact_account_name", ["account_id", "last_name", "first_name"], unique=False
        )

    op.create_table(
        "contact_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("phone_code", sa.String(length=10), nullable=False),
        sa.CheckConstraint(
            "length(phone_code) BETWEEN 1 AND 10", name=op.f("ck_contact_group_phone_code")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_contact_group_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_group")),
        sa.UniqueConstraint("account_id", "phone_code", name="uq_group_phone_code"),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("line_number", sa.String(length=10), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_feedback_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )
    op.create_table(
        "line",
        sa.Column("number", sa.String(length=10), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("length(number) = 10", name=op.f("ck_line_number_length")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_line_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_line")),
    )
    with op.batch_alter_table("line", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_line_account_id"), ["account_id"], unique=False)
        batch_op.create_index(
            "uq_line_primary_per_account",
            ["account_id"],
            unique=True,
            sqlite_where=sa.text("is_primary"),
            postgresql_where=sa.text("is_primary"),
        )

    op.create_table(
        "portal_session",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_portal_session_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_portal_session")),
    )
    with op.batch_alter_table("portal_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_portal_session_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "call_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_number", sa.String(length=10), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("caller_number", sa.String(length=32), nullable=True),
        sa.Column("caller_name", sa.String(length=120), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("disposition", sa.String(length=10), nullable=False),
        sa.Column("call_id", sa.String(length=255), nullable=True),
        sa.CheckConstraint(
            "direction IN ('received', 'missed')", name=op.f("ck_call_log_direction")
        ),
        sa.CheckConstraint(
            "disposition IN ('answered', 'voicemail', 'abandoned', 'rejected', 'forwarded')",
            name=op.f("ck_call_log_disposition"),
        ),
        sa.ForeignKeyConstraint(
            ["line_number"],
            ["line.number"],
            name=op.f("fk_call_log_line_number_line"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_log")),
    )
    with op.batch_alter_table("call_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_call_log_line", ["line_number", "direction", "started_at"], unique=False
        )

    op.create_table(
        "call_settings",
        sa.Column("line_number", sa.String(length=10), nullable=False),
        sa.Column("phone_state", sa.String(length=10), nullable=False),
        sa.Column("incoming_mode", sa.String(length=14), nullable=False),
        sa.Column("forward_all_to", sa.String(length=20), nullable=True),
        sa.Column("no_answer_action", sa.String(length=10), nullable=False),
        sa.Column("no_answer_to", sa.String(length=20), nullable=True),
        sa.Column("no_answer_timeout", sa.Integer(), nullable=False),
        sa.Column("busy_action", sa.String(length=10), nullable=False),
        sa.Column("busy_to", sa.String(length=20), nullable=True),
        sa.Column("unavailable_forwarding", sa.Boolean(), nullable=False),
        sa.Column("unavailable_to", sa.String(length=20), nullable=True),
        sa.Column("selective_forwarding", sa.Boolean(), nullable=False),
        sa.Column("selective_forward_to", sa.String(length=20), nullable=True),
        sa.Column("selective_rejection", sa.Boolean(), nullable=False),
        sa.Column("anonymous_rejection", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "busy_action IN ('voicemail', 'number')", name=op.f("ck_call_settings_busy_action")
        ),
        sa.CheckConstraint(
            "incoming_mode IN ('ring_account', 'forward_all', 'sequential', 'simultaneous')",
            name=op.f("ck_call_settings_incoming_mode"),
        ),
        sa.CheckConstraint(
            "no_answer_action IN ('voicemail', 'number')",
            name=op.f("ck_call_settings_no_answer_action"),
        ),
        sa.CheckConstraint(
            "phone_state IN ('available', 'dnd')", name=op.f("ck_call_settings_phone_state")
        ),
        sa.CheckConstraint(
            "no_answer_timeout BETWEEN 5 AND 120", name=op.f("ck_call_settings_no_answer_timeout")
        ),
        sa.ForeignKeyConstraint(
            ["line_number"],
            ["line.number"],
            name=op.f("fk_call_settings_line_number_line"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("line_number", name=op.f("pk_call_settings")),
    )
    op.create_table(
        "device",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_number", sa.String(length=10), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("domain", sa.String(length=128), nullable=False),
        sa.Column("ha1", sa.String(length=32), nullable=False),
        sa.Column("ha1b", sa.String(length=32), nullable=False),
        sa.Column("contact_uri", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_number"],
            ["line.number"],
            name=op.f("fk_device_line_number_line"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device")),
        sa.UniqueConstraint("username", "domain", name="uq_device_username_domain"),
    )
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_line_number"), ["line_number"], unique=False)

    op.create_table(
        "forwarding_number",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_number", sa.String(length=10), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=60), nullable=False),
        sa.Column("temporary", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_number"],
            ["line.number"],
            name=op.f("fk_forwarding_number_line_number_line"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forwarding_number")),
        sa.UniqueConstraint("line_number", "number", name="uq_forwarding_number"),
    )
    with op.batch_alter_table("forwarding_number", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_forwarding_number_line_number"), ["line_number"], unique=False
        )

    op.create_table(
        "greeting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_number", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("file_path", sa.String(length=255), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('personal', 'busy', 'no_answer', 'extended_absence', 'name')",
            name=op.f("ck_greeting_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["line_number"],
            ["line.number"],
            name=op.f("fk_greeting_line_number_line"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_greeting")),
        sa.UniqueConstraint("line_number", "kind", name="uq_greeting_line_kind"),
    )
    op.create_table(
        "group_member",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contact.id"],
            name=op.f("fk_group_member_contact_id_contact"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["contact_group.id"],
            name=op.f("fk_group_member_group_id_contact_group"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "contact_id", name=op.f("pk_group_member")),
    )
    op.create_table(
        "mailbox",
        sa.Column("line_number", sa.String(length=10), nullable=False),
        sa.Column("pin_hash", sa.String(length=200), nullable=False),
        sa.Column("quota_seconds", sa.Integer(), nullable=False),
        sa.Column("max_message_seconds", sa.Integer(), nullable=False),
        sa.Column("min_message_seconds", sa.Float(), nullable=False),
        sa.Column("greeting", sa.String(length=16), nullable=False),
        sa.Column("busy_greeting_enabled", sa.Boolean(), nullable=False),
        sa.Column("no_answer_greeting_enabled", sa.Boolean(), nullable=False),
        sa.Column("extended_absence_enabled", sa.Boolean(), nullable=False),
        sa.Column("envelope_mode", sa.String(length=8), nullable=False),
        sa.Column("skip_pin", sa.Boolean(), nullable=False),
        sa.Column("quick_login", sa.Boolean(), nullable=False),
        sa.Column("autoplay_voice", sa.Boolean(), nullable=False),
        sa.Column("autoplay_fax", sa.Boolean(), nullable=False),
        sa.Column("forward_to_email", sa.Boolean(), nullable=False),
        sa.Column("forward_emails", sa.JSON(), nullable=False),
        sa.Column("keep_original", sa.Boolean(), nullable=False),
        sa.Column("pin_failures", sa.Integer(), nullable=False),
        sa.Column("pin_locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.CheckConstraint(
            "envelope_mode IN ('envelope', 'message', 'both')",
            name=op.f("ck_mailbox_envelope_mode"),
        ),
        sa.CheckConstraint(
            "greeting IN ('system', 'system_number', 'system_name', 'personal')",
            name=op.f("ck_mailbox_greeting"),
        ),
        sa.CheckConstraint("language IN ('fr', 'en')", name=op.f("ck_mailbox_language")),
        sa.CheckConstraint("quota_seconds > 0", name=op.f("ck_mailbox_quota_positive")),
        sa.ForeignKeyConstraint(
            ["line_number"],
            ["line.number"],
            name=op.f("fk_mailbox_line_number_line"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("line_number", name=op.f("pk_mailbox")),
    )
    op.create_table(
        "message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_number", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=5), nullable=False),
        sa.Column("folder", sa.String(length=7), nullable=False),
        sa.Column("heard", sa.Boolean(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("caller_number", sa.String(length=32), nullable=True),
        sa.Column("caller_name", sa.String(length=120), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("file_path", sa.String(length=255), nullable=False),
        sa.Column("origin", sa.String(length=9), nullable=False),
        sa.Column("original_message_id", sa.Integer(), nullable=True),
        sa.Column("call_id", sa.String(length=255), nullable=True),
        sa.Column("heard_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("folder IN ('inbox', 'deleted')", name=op.f("ck_message_folder")),
        sa.CheckConstraint("kind IN ('voice', 'fax')", name=op.f("ck_message_kind")),
        sa.CheckConstraint(
            "origin IN ('call', 'forwarded', 'portal', 'reply')", name=op.f("ck_message_origin")
        ),
        sa.CheckConstraint("duration_seconds >= 0", name=op.f("ck_message_duration")),
        sa.ForeignKeyConstraint(
            ["line_number"],
            ["line.number"],
            name=op.f("fk_message_line_number_line"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["original_message_id"],
            ["message.id"],
            name=op.f("fk_message_original_message_id_message"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message")),
    )
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.create_index(
            "ix_message_mailbox", ["line_number", "folder", "kind", "received_at"], unique=False
        )

    op.create_table(
        "notification_settings",
        sa.Column("line_number", sa.String(length=10), nullable=False),
        sa.Column("mwi_enabled", sa.Boolean(), nullable=False),
        sa.Column("email_enabled", sa.Boolean(), nullable=False),
        sa.Column("pager_enabled", sa.Boolean(), nullable=False),
        sa.Column("pager_schedule", sa.JSON(), nullable=False),
        sa.Column("pager_address", sa.String(length=254), nullable=False),
        sa.Column("pager_number", sa.String(length=20), nullable=False),
        sa.Column("pager_callback_number", sa.String(length=20), nullable=False),
        sa.Column("pager_types", sa.JSON(), nullable=False),
        sa.Column("outdial_enabled", sa.Boolean(), nullable=False),
        sa.Column("outdial_schedule", sa.JSON(), nullable=False),
        sa.Column("outdial_number", sa.String(length=20), nullable=False),
        sa.Column("outdial_types", sa.JSON(), nullable=False),
        sa.Column("outdial_delay_normal_minutes", sa.Integer(), nullable=False),
        sa.Column("outdial_delay_urgent_minutes", sa.Integer(), nullable=False),
        sa.Column("outdial_max_attempts", sa.Integer(), nullable=False),
        sa.Column("outdial_retry_minutes", sa.Integer(), nullable=False),
        sa.Column("outdial_stop_on_answer", sa.Boolean(), nullable=False),
        sa.Column("outdial_stop_on_access", sa.Boolean(), nullable=False),
        sa.Column("override_enabled", sa.Boolean(), nullable=False),
        sa.Column("override_schedule", sa.JSON(), nullable=False),
        sa.Column("override_end_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("override_number", sa.String(length=20), nullable=False),
        sa.Column("override_types", sa.JSON(), nullable=False),
        sa.Column("override_delay_normal_minutes", sa.Integer(), nullable=False),
        sa.Column("override_delay_urgent_minutes", sa.Integer(), nullable=False),
        sa.Column("override_max_attempts", sa.Integer(), nullable=False),
        sa.Column("override_retry_minutes", sa.Integer(), nullable=False),
        sa.Column("override_stop_on_answer", sa.Boolean(), nullable=False),
        sa.Column("override_stop_on_access", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_number"],
            ["line.number"],
            name=op.f("fk_notification_settings_line_number_line"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("line_number", name=op.f("pk_notification_settings")),
    )
    op.create_table(
        "notification_target",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_number", sa.String(length=10), nullable=False),
        sa.Column("channel", sa.String(length=5), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("types", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "channel IN ('mwi', 'email')", name=op.f("ck_notification_target_channel")
        ),
        sa.ForeignKeyConstraint(
            ["line_number"],
            ["line.number"],
            name=op.f("fk_notification_target_line_number_line"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_target")),
        sa.UniqueConstraint("line_number", "channel", "address", name="uq_notification_target"),
    )
    with op.batch_alter_table("notification_target", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_target_line_number"), ["line_number"], unique=False
        )

    op.create_table(
        "ring_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_number", sa.String(length=10), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("cells", sa.JSON(), nullable=False),
        sa.Column("allow_remote_forwarding", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_number"],
            ["line.number"],
            name=op.f("fk_ring_entry_line_number_line"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ring_entry")),
        sa.UniqueConstraint("line_number", "number", name="uq_ring_entry_number"),
        sa.UniqueConstraint("line_number", "position", name="uq_ring_entry_position"),
    )
    with op.batch_alter_table("ring_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ring_entry_line_number"), ["line_number"], unique=False
        )

    op.create_table(
        "screening_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_number", sa.String(length=10), nullable=False),
        sa.Column("list", sa.String(length=8), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.CheckConstraint("list IN ('forward', 'reject')", name=op.f("ck_screening_entry_list")),
        sa.ForeignKeyConstraint(
            ["line_number"],
            ["line.number"],
            name=op.f("fk_screening_entry_line_number_line"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_entry")),
        sa.UniqueConstraint("line_number", "list", "number", name="uq_screening_entry"),
    )
    op.create_table(
        "notification_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("line_number", sa.String(length=10), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("target", sa.String(length=254), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('pending', 'sending', 'done', 'failed', 'cancelled')",
            name=op.f("ck_notification_job_state"),
        ),
        sa.ForeignKeyConstraint(
            ["line_number"],
            ["line.number"],
            name=op.f("fk_notification_job_line_number_line"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["message.id"],
            name=op.f("fk_notification_job_message_id_message"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_job")),
        sa.UniqueConstraint("event_id", "kind", "target", name="uq_notification_job_once"),
    )
    with op.batch_alter_table("notification_job", schema=None) as batch_op:
        batch_op.create_index("ix_notification_job_due", ["state", "next_attempt_at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("notification_job", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_job_due")

    op.drop_table("notification_job")
    op.drop_table("screening_entry")
    with op.batch_alter_table("ring_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ring_entry_line_number"))

    op.drop_table("ring_entry")
    with op.batch_alter_table("notification_target", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_target_line_number"))

    op.drop_table("notification_target")
    op.drop_table("notification_settings")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_mailbox")

    op.drop_table("message")
    op.drop_table("mailbox")
    op.drop_table("group_member")
    op.drop_table("greeting")
    with op.batch_alter_table("forwarding_number", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_forwarding_number_line_number"))

    op.drop_table("forwarding_number")
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_line_number"))

    op.drop_table("device")
    op.drop_table("call_settings")
    with op.batch_alter_table("call_log", schema=None) as batch_op:
        batch_op.drop_index("ix_call_log_line")

    op.drop_table("call_log")
    with op.batch_alter_table("portal_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_session_account_id"))

    op.drop_table("portal_session")
    with op.batch_alter_table("line", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_line_primary_per_account",
            sqlite_where=sa.text("is_primary"),
            postgresql_where=sa.text("is_primary"),
        )
        batch_op.drop_index(batch_op.f("ix_line_account_id"))

    op.drop_table("line")
    op.drop_table("feedback")
    op.drop_table("contact_group")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_account_name")

    op.drop_table("contact")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_pending")

    op.drop_table("outbox")
    op.drop_table("account")
