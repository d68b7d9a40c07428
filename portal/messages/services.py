"""What the messages page shows of a mailbox: counts by kind and folder, and the audio held."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from store import repository
from store.models import Message
from store.session import Store


@dataclass(frozen=True)
class MailboxSummary:
    counts: repository.Counts
    deleted: int

    @property
    def voice_total(self) -> int:
        return self.counts.voice_new + self.counts.voice_old

    @property
    def fax_total(self) -> int:
        return self.counts.fax_new + self.counts.fax_old


def summary(store: Store, number: str) -> MailboxSummary:
    with store.read() as s:
        counts = repository.mailbox_counts(s, number)
        deleted = s.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.line_number == number, Message.folder == "deleted")
        )
    return MailboxSummary(counts=counts, deleted=int(deleted or 0))
