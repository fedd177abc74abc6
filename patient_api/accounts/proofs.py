"""What verification checks against: phones the city's hospitals hold for a person, and one-time codes.

Codes are stored only as keyed hashes: a copied database yields no usable code.
"""
import hashlib
import hmac
import secrets
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column

from ..common.clock import UtcDateTime, now
from ..common.ids import new_id
from ..extensions import db


class PersonPhone(db.Model):
    """A mobile number a hospital sent with a person (FHIR telecom, HL7 PID-13, HIS pushes); never a typed one."""

    __tablename__ = "person_phones"
    __table_args__ = (sa.UniqueConstraint("person_index", "phone_index"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("phn"))
    person_index: Mapped[str] = mapped_column(sa.String(64), index=True)
    phone_enc: Mapped[str] = mapped_column(sa.String(200))
    phone_index: Mapped[str] = mapped_column(sa.String(64), index=True)
    source: Mapped[str] = mapped_column(sa.String(20))  # fhir | hl7v2 | his_admission | his_bill | demo
    hospital_id: Mapped[str | None] = mapped_column(sa.String(32))
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class VerificationCode(db.Model):
    """An SMS one-time code sent for one link to one phone on file."""

    __tablename__ = "verification_codes"
    __table_args__ = (sa.Index("ix_verification_codes_link", "link_id", "created_at"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("vfc"))
    link_id: Mapped[str] = mapped_column(sa.ForeignKey("patient_links.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(sa.String(32), index=True)
    person_index: Mapped[str] = mapped_column(sa.String(64), index=True)
    phone_index: Mapped[str] = mapped_column(sa.String(64), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, index=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class BindingCode(db.Model):
    """A one-time code issued after a kiosk read the ID card chip or counter staff checked the card."""

    __tablename__ = "binding_codes"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("bnd"))
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    person_index: Mapped[str] = mapped_column(sa.String(64), index=True)
    name: Mapped[str] = mapped_column(sa.String(50))  # the name on the card: the legal name
    issued_by_type: Mapped[str] = mapped_column(sa.String(10))  # kiosk | staff
    issued_by_id: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    used_by_link: Mapped[str | None] = mapped_column(sa.String(32))


def code_hash(*parts):
    """Keyed hash of a code (and what it is bound to); SECRET_KEY-derived so the table alone is useless."""
    key = hmac.new(current_app.config["SECRET_KEY"].encode(), b"otp:v1", hashlib.sha256).digest()
    return hmac.new(key, ":".join(parts).encode(), hashlib.sha256).hexdigest()


def random_digits(count):
    """A uniformly random string of digits from the OS CSPRNG."""
    return "".join(secrets.choice("0123456789") for _ in range(count))
