"""Tables shared by every feature: idempotency keys."""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .clock import UtcDateTime, now


class IdempotencyKey(db.Model):
    """The first response to a (caller, endpoint, Idempotency-Key); the unique key enforces once."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    scope: Mapped[str] = mapped_column(sa.String(160))
    key: Mapped[str] = mapped_column(sa.String(255))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, index=True)
