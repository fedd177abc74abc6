"""What the booking rules need to know of a patient, read in one statement under the patient's lock.

A booking used to send five reads of the patient's appointments, one after another: lapsed holds, the no-shows of
the restriction window, a same-day booking of the department, the count of active bookings, and a paid visit that
makes this one a free revisit.
Each rule's condition is still its own SQL expression; they are labelled columns of one SELECT of the few rows any
of them matches, and the rules are judged on those rows.
"""
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, or_, select

from ..common.clock import to_local
from ..errors import Conflict, Forbidden
from ..extensions import db
from . import lifecycle, revisit
from .models import ACTIVE, Appointment


def judge(patient_id, schedule, instant):
    """Expire the patient's lapsed holds, then refuse as the rules say (403 booking_restricted, 409 already_booked,
    409 too_many_bookings); returns the id of the paid visit that covers a free revisit, or None."""
    rows = _read(patient_id, schedule, instant)
    lapsed = [row.id for row in rows if row.lapsed]
    expired = [lifecycle.expire_hold(appointment_id, instant) for appointment_id in lapsed]
    if all(expired):
        rows = [row for row in rows if not row.lapsed]  # expired now: neither active nor a covering visit
    else:  # paid or cancelled meanwhile: what is active is read again
        rows = _read(patient_id, schedule, instant)
    _check_restriction(sorted(row.visit_date for row in rows if row.no_show), instant)
    active = [row for row in rows if row.active]
    if any(row.department_id == schedule.department_id and row.visit_date == schedule.date for row in active):
        raise Conflict("该就诊人当天已预约该科室", code="already_booked")
    if len(active) >= current_app.config["MAX_ACTIVE_BOOKINGS"]:
        raise Conflict("该就诊人待就诊的预约已达上限", code="too_many_bookings")
    covering = max((row for row in rows if row.covers), key=lambda row: row.visit_date, default=None)
    return covering.id if covering is not None else None


def _read(patient_id, schedule, instant):
    """The patient's appointments any rule looks at, each labelled with the rules it matters to."""
    config = current_app.config
    since = to_local(instant).date() - timedelta(days=config["NO_SHOW_WINDOW_DAYS"] + config["NO_SHOW_BLOCK_DAYS"])
    lapsed = and_(Appointment.status == "pending_payment", Appointment.hold_expires_at <= instant)
    no_show = and_(Appointment.status == "no_show", Appointment.visit_date >= since)
    active = Appointment.status.in_(ACTIVE)
    covers = revisit.covering(schedule)
    return db.session.execute(
        select(Appointment.id, Appointment.visit_date, Appointment.department_id, lapsed.label("lapsed"),
               no_show.label("no_show"), active.label("active"), covers.label("covers"))
        .where(Appointment.patient_id == patient_id, or_(active, no_show, covers))).all()


def _check_restriction(no_show_dates, instant):
    """403 booking_restricted while the no-show rule applies (N no-shows within the window), saying until when."""
    config = current_app.config
    limit, window, block = config["NO_SHOW_LIMIT"], config["NO_SHOW_WINDOW_DAYS"], config["NO_SHOW_BLOCK_DAYS"]
    today, until = to_local(instant).date(), None
    for i in range(len(no_show_dates) - limit + 1):
        first, last = no_show_dates[i], no_show_dates[i + limit - 1]
        if (last - first).days < window:
            until = max(until or last, last + timedelta(days=block))
    if until and until > today:
        raise Forbidden(f"因{window}天内爽约{limit}次，预约功能暂停至{until.isoformat()}（含）",
                        code="booking_restricted")
