"""Resident accounts (WeChat identities), patients (就诊人) and the links between them."""
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..common import crypto
from ..common.clock import UtcDateTime, now
from ..common.ids import new_id
from ..extensions import db

RELATIONS = ("self", "spouse", "parent", "child", "other")
# Where a patient's legal name came from; only `claim` (typed by a resident) may be replaced by a better source.
NAME_SOURCES = ("claim", "hospital", "card", "verified")


class Account(db.Model):
    """A WeChat user of the official account."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("acc"))
    openid: Mapped[str] = mapped_column(sa.String(64), unique=True)
    unionid: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    subscribed: Mapped[bool | None]  # follows the official account; None until a follow/unfollow event is seen
    subscription_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Patient(db.Model):
    """A person who receives care; ID number and phone are encrypted, found by blind index."""

    __tablename__ = "patients"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("pat"))
    name: Mapped[str] = mapped_column(sa.String(50))
    id_number_enc: Mapped[str] = mapped_column(sa.String(200))
    id_number_index: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name_source: Mapped[str] = mapped_column(sa.String(10), default="claim")
    gender: Mapped[str] = mapped_column(sa.String(10))  # male | female
    birth_date: Mapped[date] = mapped_column(sa.Date)
    region_code: Mapped[str] = mapped_column(sa.String(6))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    @property
    def id_number(self):
        """The decrypted resident ID number (never logged or returned unmasked)."""
        return crypto.decrypt(self.id_number_enc)

    @property
    def name_is_authoritative(self):
        """True once a hospital, an ID card or a verification gave the name (not only a resident's typing)."""
        return self.name_source != "claim"


class PatientLink(db.Model):
    """An account may act for a patient (self or family proxy); one patient, many accounts.

    Typing an ID number makes a `claimed` link (book and pay what this account created); clinical data
    opens only to a `verified` one. A proxy of someone who verified themselves waits `pending` for their
    consent; `declined` and `revoked` links give nothing.
    """

    __tablename__ = "patient_links"
    __table_args__ = (sa.UniqueConstraint("account_id", "patient_id"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("lnk"))
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    relation: Mapped[str] = mapped_column(sa.String(10))
    status: Mapped[str] = mapped_column(sa.String(10), default="claimed")
    claimed_name: Mapped[str] = mapped_column(sa.String(50))  # what this account typed; never the legal name
    phone_enc: Mapped[str | None] = mapped_column(sa.String(200))  # contact phone this account typed
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    verified_method: Mapped[str | None] = mapped_column(sa.String(20))
    status_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    failed_attempts: Mapped[int] = mapped_column(default=0)  # wrong binding codes in a row
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    patient: Mapped[Patient] = relationship(lazy="joined")

    @property
    def active(self):
        """Claimed, pending or verified: the account may still act for the patient."""
        return self.status in ACTIVE_LINK

    @property
    def verified(self):
        """Clinical data is open to this link."""
        return self.status == "verified"

    @property
    def phone(self):
        """The contact phone this account typed (decrypted)."""
        return crypto.decrypt(self.phone_enc)

    def move_to(self, status, instant):
        """Change state (the rules live in accounts.links)."""
        self.status, self.status_changed_at = status, instant


ACTIVE_LINK = ("claimed", "pending", "verified")
LINK_STATUSES = ACTIVE_LINK + ("declined", "revoked")
