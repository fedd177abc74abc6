"""Appointments and the rules of their life cycle."""
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from ..common.clock import UtcDateTime, now
from ..common.ids import new_id
from ..extensions import db

ACTIVE = ("pending_payment", "booked", "checked_in")
STATUSES = ACTIVE + ("cancelled", "expired", "no_show", "completed")


class Appointment(db.Model):
    """A patient's claim on one ticket; the partial unique index allows one active per department per day."""

    __tablename__ = "appointments"
    __table_args__ = (
        sa.Index("uq_appointments_one_active_per_department_day", "patient_id", "department_id", "visit_date",
                 unique=True,
                 postgresql_where=sa.text("status IN ('pending_payment', 'booked', 'checked_in')"),
                 sqlite_where=sa.text("status IN ('pending_payment', 'booked', 'checked_in')")),
        sa.Index("ix_appointments_patient_status", "patient_id", "status"),
        sa.Index("ix_appointments_hold_sweep", "status", "hold_expires_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("apt"))
    account_id: Mapped[str | None] = mapped_column(sa.ForeignKey("accounts.id"), index=True)  # None at a kiosk
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"))
    booked_via: Mapped[str] = mapped_column(sa.String(40), default="wechat", server_default="wechat")  # or kiosk:<id>
    schedule_id: Mapped[str] = mapped_column(sa.ForeignKey("schedules.id"), index=True)
    ticket_id: Mapped[str] = mapped_column(sa.ForeignKey("tickets.id"), index=True)
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"))
    department_id: Mapped[str] = mapped_column(sa.ForeignKey("departments.id"))
    visit_date: Mapped[date] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(20))
    queue_no: Mapped[int]
    visit_start: Mapped[datetime] = mapped_column(UtcDateTime)
    visit_end: Mapped[datetime] = mapped_column(UtcDateTime)
    fee_fen: Mapped[int]
    bill_id: Mapped[str | None] = mapped_column(sa.String(32))
    hold_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    checked_in_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # visit.reminder queued (once, in the DB)
    free_revisit_of: Mapped[str | None] = mapped_column(sa.String(32))  # 一次挂号三日免费: the paid visit it rides on
    pool: Mapped[str | None] = mapped_column(sa.String(20))  # 号源预留: the pool its ticket was kept for, if any
    # 代预约 at a registration window or on the phone: the number the hospital calls back (no WeChat to tell).
    contact_phone_enc: Mapped[str | None] = mapped_column(sa.String(200))

    # For the names a resident reads; lists load them with with_names() (one query per relation, not per row).
    hospital = relationship("Hospital", viewonly=True)
    department = relationship("Department", viewonly=True)
    schedule = relationship("Schedule", viewonly=True)  # its doctor comes joined

    @property
    def is_active(self):
        """Holds a ticket: pending payment, booked or checked in."""
        return self.status in ACTIVE

    def hold_expired(self, instant):
        """An unpaid hold whose time ran out."""
        return self.status == "pending_payment" and self.hold_expires_at is not None and self.hold_expires_at <= instant

    def check_in_window(self, opens_minutes, late_minutes):
        """(opens, closes): check-in opens before the ticket's window and closes when the resident is too late."""
        return (self.visit_start - timedelta(minutes=opens_minutes),
                self.visit_start + timedelta(minutes=late_minutes))


def with_names():
    """Loader options for a list's hospital, department and doctor names (built at query time, when every model
    is mapped)."""
    return selectinload(Appointment.hospital), selectinload(Appointment.department), selectinload(Appointment.schedule)


WAITLIST_OPEN = ("waiting", "offered")
WAITLIST_STATUSES = WAITLIST_OPEN + ("booked", "expired", "lapsed", "cancelled", "closed")


class WaitlistEntry(db.Model):
    """候补: a patient waiting for a ticket of a sold-out schedule; freed tickets are offered in join order."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        sa.Index("uq_waitlist_one_open", "schedule_id", "patient_id", unique=True,
                 postgresql_where=sa.text("status IN ('waiting', 'offered')"),
                 sqlite_where=sa.text("status IN ('waiting', 'offered')")),
        sa.Index("ix_waitlist_queue", "schedule_id", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("wl"))
    schedule_id: Mapped[str] = mapped_column(sa.ForeignKey("schedules.id"))
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(12), default="waiting")
    appointment_id: Mapped[str | None] = mapped_column(sa.String(32))  # the hold offered to this waiter
    reason: Mapped[str | None] = mapped_column(sa.String(40))  # why an offer could not be made (lapsed)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    offered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
