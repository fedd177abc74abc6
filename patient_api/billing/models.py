"""Bills; payments, refunds and the ledger arrive with the payments issue."""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..common.clock import UtcDateTime, now
from ..common.ids import new_id
from ..extensions import db

KINDS = ("registration", "outpatient", "inpatient_deposit", "inpatient_settlement")
STATUSES = ("unpaid", "paying", "paid", "partially_refunded", "refunded", "closed")


class Bill(db.Model):
    """Something a patient owes a hospital."""

    __tablename__ = "bills"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("bil"))
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"))
    kind: Mapped[str] = mapped_column(sa.String(30))
    status: Mapped[str] = mapped_column(sa.String(20), default="unpaid")
    total_fen: Mapped[int]
    appointment_id: Mapped[str | None] = mapped_column(sa.String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    items: Mapped[list["BillItem"]] = relationship(lazy="selectin", order_by="BillItem.id")


class BillItem(db.Model):
    """One line of a bill."""

    __tablename__ = "bill_items"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    bill_id: Mapped[str] = mapped_column(sa.ForeignKey("bills.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(100))
    category: Mapped[str] = mapped_column(sa.String(30))
    quantity: Mapped[int]
    unit_price_fen: Mapped[int]
    amount_fen: Mapped[int]
    insurance_class: Mapped[str | None] = mapped_column(sa.String(4))  # 甲 / 乙 / 丙
