"""The sandbox provider's inbox: messages "sent" in development and tests, read with `flask sms inbox PHONE`."""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..common.clock import UtcDateTime, now
from ..common.ids import new_id
from ..extensions import db


class SandboxSms(db.Model):
    """One message the sandbox provider accepted (never used in production, which refuses the sandbox)."""

    __tablename__ = "sms_sandbox"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("sms"))
    phone_index: Mapped[str] = mapped_column(sa.String(64), index=True)
    text: Mapped[str] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
