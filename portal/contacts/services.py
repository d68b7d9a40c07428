"""What the contacts page lists: the account's contacts with their numbers and addresses."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from store.models import Contact, ContactGroup
from store.session import Store


@dataclass(frozen=True)
class ContactRow:
    id: int
    name: str
    company: str
    phones: tuple[str, ...]
    email: str


def contact_rows(store: Store, account_id: int) -> tuple[list[ContactRow], int]:
    """The account's contacts by last then first name, and how many groups it has."""
    with store.read() as s:
        contacts = s.scalars(
            select(Contact)
            .where(Contact.account_id == account_id)
            .order_by(func.lower(Contact.last_name), func.lower(Contact.first_name), Contact.id)
        ).all()
        groups = s.scalar(
            select(func.count())
            .select_from(ContactGroup)
            .where(ContactGroup.account_id == account_id)
        )
        rows = [
            ContactRow(
                id=c.id,
                name=" ".join(p for p in (c.first_name, c.last_name) if p) or c.nickname,
                company=c.company,
                phones=tuple(
                    p for p in (c.business_phone, c.mobile_phone, c.home_phone, c.other_phone) if p
                ),
                email=c.email,
            )
            for c in contacts
        ]
    return rows, int(groups or 0)
