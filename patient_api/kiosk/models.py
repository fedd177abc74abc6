"""Registered kiosk devices."""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..common.clock import UtcDateTime, now
from ..common.ids import new_id
from ..extensions import db


class KioskDevice(db.Model):
    """A kiosk in a hospital hall; its secret signs every request (kept encrypted: we must recompute HMACs)."""

    __tablename__ = "kiosk_devices"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("ksk"))
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    secret_enc: Mapped[str] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
