"""What happens to an appointment after booking: hold expiry, cancel, check-in, no-show."""
import logging
from datetime import time, timedelta

from flask import current_app
from sqlalchemy import select, update

from ..billing.models import Payment
from ..billing.refunds import request_refund
from ..billing.services import close_unpaid_bill
from ..common import events
from ..common.clock import local_dt, now
from ..directory.models import Hospital, Schedule
from ..errors import Conflict
from ..extensions import db
from . import tickets
from .models import Appointment

log = logging.getLogger(__name__)


def expire_hold(appointment_id, instant, skip_locked=False):
    """End one unpaid hold whose time ran out and free its ticket; True only for the call that did it."""
    ticket = tickets.lock_for(appointment_id, skip_locked=skip_locked)
    if ticket is None:  # already freed, or another transaction is on it right now
        return False
    ended = db.session.execute(
        update(Appointment).where(Appointment.id == appointment_id, Appointment.status == "pending_payment",
                                  Appointment.hold_expires_at <= instant)
        .values(status="expired").returning(Appointment.bill_id)).all()
    if not ended:
        return False
    tickets.release(ticket, appointment_id)
    close_unpaid_bill(ended[0][0])
    return True


def confirm_paid(appointment_id, instant):
    """The fee arrived: pending_payment → booked, ticket held → booked; returns the booked appointment, or None if
    the ticket is gone (whoever keeps the answer keeps the appointment in the session: booker_of reads it there).

    A hold that lapsed but whose ticket nobody took yet is honoured: the resident paid for it.
    Lock order is ticket → appointment, as everywhere, so this never deadlocks with the sweeper.
    """
    if not tickets.book_for(appointment_id):
        return None
    booked = db.session.scalars(update(Appointment).where(Appointment.id == appointment_id,
                                                          Appointment.status == "pending_payment")
                                .values(status="booked", hold_expires_at=None).returning(Appointment),
                                execution_options={"populate_existing": True}).first()
    if booked is not None:  # the usual case: the UPDATE returned the row, nothing to read back
        return booked
    appointment = db.session.get(Appointment, appointment_id, populate_existing=True)  # booked already?
    return appointment if appointment.status in ("booked", "checked_in") else None


def sweep_expired_holds(instant=None, batch=500):
    """Worker job: expire lapsed holds, one short transaction each; returns how many this run freed."""
    instant = instant or now()
    ids = db.session.scalars(select(Appointment.id).where(
        Appointment.status == "pending_payment", Appointment.hold_expires_at <= instant).limit(batch)).all()
    db.session.rollback()
    freed = 0
    for appointment_id in ids:
        try:
            freed += expire_hold(appointment_id, instant, skip_locked=True)
            db.session.commit()
        except Exception:  # one bad row must not stop the sweep; it is retried next run
            db.session.rollback()
            log.exception("hold expiry failed for %s", appointment_id)
    return freed


def cancel_deadline(appointment, hospital):
    """Cancel until the hospital's deadline (default 15:00) on the day before the visit."""
    return local_dt(appointment.visit_date - timedelta(days=1), hospital.cancel_deadline_time or time(15, 0))


def cancel(appointment, instant=None, cause="resident"):
    """Cancel and give the ticket back; paid fees are refunded by billing once payments exist.

    Publishes `appointment.cancelled` (appointment_id, patient_id, booked_via, cause, instant) in the same
    transaction; `cause` says who cancelled: resident (the H5 app), staff (代预约 at the window) or the feature that
    booked it (referral), so a subscriber can tell its own cancellations from others'.
    """
    instant = instant or now()
    if appointment.status not in ("pending_payment", "booked"):
        raise Conflict("该预约当前状态不能取消", code="appointment_not_cancellable")
    hospital = db.session.get(Hospital, appointment.hospital_id)
    if appointment.status == "booked" and instant > cancel_deadline(appointment, hospital):
        raise Conflict("已过取消截止时间（就诊前一日15:00）", code="cancel_deadline_passed")
    ticket = tickets.lock_for(appointment.id)
    done = db.session.execute(
        update(Appointment).where(Appointment.id == appointment.id,
                                  Appointment.status.in_(("pending_payment", "booked")))
        .values(status="cancelled", cancelled_at=instant)).rowcount
    if done != 1:
        raise Conflict("该预约当前状态不能取消", code="appointment_not_cancellable")
    if ticket is not None:
        tickets.release(ticket, appointment.id)
    if not close_unpaid_bill(appointment.bill_id) and appointment.bill_id:
        refund_registration(appointment, instant)
    db.session.refresh(appointment)
    events.publish("appointment.cancelled", appointment_id=appointment.id, patient_id=appointment.patient_id,
                   booked_via=appointment.booked_via, cause=cause, instant=instant)
    return appointment


def refund_registration(appointment, instant):
    """A paid fee goes back in full when the resident cancels in time."""
    payment = db.session.scalars(select(Payment).where(Payment.bill_id == appointment.bill_id,
                                                       Payment.status == "paid")).first()
    if payment is not None and payment.amount_fen > payment.refunded_fen:
        request_refund(payment.id, payment.amount_fen - payment.refunded_fen, "CXL" + appointment.id,
                       "取消预约退款", instant)


def check_in(appointment, instant=None):
    """报到: from an hour before the ticket's window until 30 minutes after it starts."""
    instant = instant or now()
    if appointment.status == "checked_in":
        return appointment
    if appointment.status == "pending_payment":
        raise Conflict("请先支付挂号费", code="payment_required")
    if appointment.status != "booked":
        raise Conflict("该预约当前状态不能报到", code="appointment_not_active")
    config = current_app.config
    opens, closes = appointment.check_in_window(config["CHECKIN_OPENS_MINUTES"], config["CHECKIN_LATE_MINUTES"])
    if instant < opens:
        raise Conflict("还未到报到时间", code="check_in_not_open")
    if instant > closes:
        raise Conflict("已超过报到时间（就诊时段开始后30分钟），请重新预约", code="check_in_closed")
    db.session.execute(update(Appointment).where(Appointment.id == appointment.id, Appointment.status == "booked")
                       .values(status="checked_in", checked_in_at=instant))
    db.session.refresh(appointment)
    return appointment


def mark_no_shows(instant=None):
    """Worker job: booked but never checked in once the session has ended → no_show."""
    instant = instant or now()
    ended = select(Schedule.id).where(Schedule.ends_at <= instant)
    result = db.session.execute(update(Appointment).where(Appointment.status == "booked",
                                                          Appointment.schedule_id.in_(ended))
                                .values(status="no_show").execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount


def effective_status(appointment, instant):
    """The status a resident should see: a lapsed hold reads as expired even before the sweep."""
    return "expired" if appointment.hold_expired(instant) else appointment.status
