"""Hospitals, departments, doctors, schedules and their tickets (号源)."""
from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..common.clock import UtcDateTime, local_dt, now
from ..common.ids import new_id
from ..extensions import db

PERIODS = ("morning", "afternoon", "evening")


class Hospital(db.Model):
    """A hospital or township health centre; booking policy can differ per hospital."""

    __tablename__ = "hospitals"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("hsp"))
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    level: Mapped[str] = mapped_column(sa.String(20))  # 三级甲等, 二级甲等, 一级 …
    address: Mapped[str | None] = mapped_column(sa.String(200))
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    release_days_ahead: Mapped[int] = mapped_column(default=7)
    release_time: Mapped[time] = mapped_column(sa.Time, default=time(7, 0))
    cancel_deadline_time: Mapped[time] = mapped_column(sa.Time, default=time(15, 0))  # on the day before
    integration_key_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    integration_key_enc: Mapped[str | None] = mapped_column(sa.String(200))
    webhook_url: Mapped[str | None] = mapped_column(sa.String(500))
    # Inpatient deposits (预交金) are capped per hospital (2025 rule); below `low_deposit_fen` wards flag the bed.
    deposit_cap_fen: Mapped[int] = mapped_column(default=1_000_000, server_default="1000000")
    low_deposit_fen: Mapped[int] = mapped_column(default=100_000, server_default="100000")


class Department(db.Model):
    """A clinical department of one hospital."""

    __tablename__ = "departments"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "code"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("dep"))
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(32))
    name: Mapped[str] = mapped_column(sa.String(60))
    category: Mapped[str | None] = mapped_column(sa.String(30))  # 内科系, 外科系 …
    description: Mapped[str | None] = mapped_column(sa.String(500))


class Doctor(db.Model):
    """A doctor who holds clinics."""

    __tablename__ = "doctors"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "code"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("doc"))
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"), index=True)
    department_id: Mapped[str] = mapped_column(sa.ForeignKey("departments.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(32))
    name: Mapped[str] = mapped_column(sa.String(40))
    title: Mapped[str] = mapped_column(sa.String(20))  # 主任医师, 副主任医师, 主治医师 …
    specialty: Mapped[str | None] = mapped_column(sa.String(200))


class Schedule(db.Model):
    """One clinic session (出诊) of a doctor; `available` is kept in step with its tickets."""

    __tablename__ = "schedules"
    __table_args__ = (
        sa.UniqueConstraint("doctor_id", "date", "period"),
        sa.CheckConstraint("available >= 0 AND available <= capacity", name="available_range"),
        sa.Index("ix_schedules_lookup", "hospital_id", "date"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("sch"))
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"))
    department_id: Mapped[str] = mapped_column(sa.ForeignKey("departments.id"), index=True)
    doctor_id: Mapped[str] = mapped_column(sa.ForeignKey("doctors.id"), index=True)
    date: Mapped[date] = mapped_column(sa.Date)
    period: Mapped[str] = mapped_column(sa.String(10))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    fee_kind: Mapped[str] = mapped_column(sa.String(20))  # 普通号, 专家号, 便民门诊
    fee_fen: Mapped[int]
    capacity: Mapped[int]
    available: Mapped[int]
    release_at: Mapped[datetime] = mapped_column(UtcDateTime)
    stopped: Mapped[bool] = mapped_column(default=False)  # 停诊
    # 号源预留: the rules its tickets were kept back by ({pool: {share, release_hours_before | release_at}}).
    reservations: Mapped[dict | None] = mapped_column(sa.JSON)

    doctor: Mapped[Doctor] = relationship(lazy="joined")

    def status_at(self, instant):
        """open | not_released | closed | stopped at that instant."""
        if self.stopped:
            return "stopped"
        if instant < self.release_at:
            return "not_released"
        if instant >= self.ends_at:
            return "closed"
        return "open"

    @property
    def status(self):
        """The status right now."""
        return self.status_at(now())

    @staticmethod
    def release_time_for(hospital, day):
        """When a session on `day` opens for booking under the hospital's policy."""
        from datetime import timedelta
        return local_dt(day - timedelta(days=hospital.release_days_ahead), hospital.release_time)


class Ticket(db.Model):
    """One bookable number (号) of a schedule, with its queue number and time window (分时段)."""

    __tablename__ = "tickets"
    __table_args__ = (
        sa.UniqueConstraint("schedule_id", "seq"),
        sa.UniqueConstraint("appointment_id"),
        sa.Index("ix_tickets_claim", "schedule_id", "status", "seq"),
        sa.Index("ix_tickets_release", "release_at", postgresql_where=sa.text("reserved_for IS NOT NULL"),
                 sqlite_where=sa.text("reserved_for IS NOT NULL")),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("tkt"))
    schedule_id: Mapped[str] = mapped_column(sa.ForeignKey("schedules.id"))
    seq: Mapped[int]  # the queue number shown to the resident
    window_start: Mapped[datetime] = mapped_column(UtcDateTime)
    window_end: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(sa.String(10), default="free")  # free | held | booked
    appointment_id: Mapped[str | None] = mapped_column(sa.String(32))
    hold_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # 号源预留 (directory/pools.py): kept for this pool until release_at, then public; the release job clears
    # reserved_for and remembers the pool in released_from.
    reserved_for: Mapped[str | None] = mapped_column(sa.String(20))
    release_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    released_from: Mapped[str | None] = mapped_column(sa.String(20))
