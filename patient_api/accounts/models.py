"""Resident accounts (WeChat identities), patients (就诊人) and the links between them."""
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..common import crypto
from ..common.clock import UtcDateTime, now
from ..common.ids import new_id
from ..extensions import db

RELATIONS = ("self", "spouse", "parent", "child", "other")


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
    phone_enc: Mapped[str | None] = mapped_column(sa.String(200))
    gender: Mapped[str] = mapped_column(sa.String(10))  # male | female
    birth_date: Mapped[date] = mapped_column(sa.Date)
    region_code: Mapped[str] = mapped_column(sa.String(6))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    @property
    def id_number(self):
        """The decrypted resident ID number (never logged or returned unmasked)."""
        return crypto.decrypt(self.id_number_enc)

    @property
    def phone(self):
        """The decrypted phone number."""
        return crypto.decrypt(self.phone_enc)


class PatientLink(db.Model):
    """An account may act for a patient (self or family proxy); one patient, many accounts."""

    __tablename__ = "patient_links"
    __table_args__ = (sa.UniqueConstraint("account_id", "patient_id"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("lnk"))
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    relation: Mapped[str] = mapped_column(sa.String(10))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    patient: Mapped[Patient] = relationship(lazy="joined")
