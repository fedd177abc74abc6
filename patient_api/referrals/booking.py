"""An up-referral's ticket: booked from the pool kept for referrals through booking's hook, cancelled through
booking's own cancel (so the ticket goes back to its pool). Only booking's public functions are used.

签约居民 priority: a patient whose contract in force is with a family-doctor team of the referring clinic may have a
public ticket when the referral pool is empty (family.contracts.signed_team, family's public hook).
"""
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from ..booking import lifecycle
from ..booking import tickets as booking_tickets
from ..booking.models import ACTIVE, Appointment
from ..booking.pools import book_from_pool
from ..common import audit, events
from ..common.clock import now, to_local
from ..directory import pools as directory_pools
from ..errors import Conflict
from ..extensions import db
from ..family.contracts import signed_team
from . import states
from .models import Referral

POOL = "referral"
CANCELLED_NOTE = "预约已取消"


def tickets_gone():
    """409: no ticket is kept for referrals any more (taken by other referrals, or released to the public)."""
    return Conflict("该排班的转诊预留号源已用完，请选择其他排班", code="referral_tickets_gone")


def priority(patient_id, from_hospital_id, instant=None):
    """"signed" when the patient's contract in force is with a family-doctor team of the referring clinic, else None."""
    signed = signed_team(patient_id, to_local(instant or now()).date())
    return "signed" if signed is not None and signed["hospital_id"] == from_hospital_id else None


def book(referral_id, patient_id, schedule_id, slot_start=None, instant=None, priority=None):
    """Book a ticket kept for referrals for the patient; returns the appointment. Only with `priority` "signed" may
    a public ticket be taken when none is kept any more; otherwise 409 referral_tickets_gone.

    Every rule of public booking applies (booking raises its own errors). The referred patient may have no WeChat:
    as with 代预约 paid later, the fee is paid at a kiosk or window on arrival, so the hold lasts until check-in
    closes instead of 15 minutes.
    """
    instant = instant or now()
    fallback = priority == "signed"
    try:
        appointment = book_from_pool(POOL, patient_id, schedule_id, via=f"referral:{referral_id}",
                                     slot_start=slot_start, instant=instant, fallback=fallback)
    except Conflict as refused:
        # With the fallback a refusal means the public tickets are gone too: booking's own answer says so.
        if not fallback and (refused.code == "sold_out"
                             or (refused.code == "slot_full" and not kept(schedule_id, instant))):
            raise tickets_gone() from None
        raise
    if appointment.status == "pending_payment":
        until = appointment.visit_start + timedelta(minutes=current_app.config["CHECKIN_LATE_MINUTES"])
        booking_tickets.extend_hold(appointment.id, until)
        appointment.hold_expires_at = until
        db.session.flush()
    return appointment


def kept(schedule_id, instant=None):
    """Free tickets of the schedule still kept for referrals."""
    return directory_pools.kept_by_schedule([schedule_id], instant)[schedule_id].get(POOL, 0)


@events.subscribe("appointment.cancelled")
def appointment_cancelled(appointment_id, booked_via, cause, instant=None, **_):
    """An up-referral's appointment cancelled other than by the referral itself (the resident in the app): the
    referral goes back to `sent` (appointment cleared, history 预约已取消) so the referrer can book again."""
    if cause == POOL or not (booked_via or "").startswith(f"{POOL}:"):
        return None
    # A staff step holding the referral right now (decline, cancel, receive) decides instead: waiting for it could
    # deadlock, as that step waits for the ticket this cancellation holds.
    locked = db.session.scalar(sa.select(Referral.id).where(Referral.id == booked_via.split(":", 1)[1])
                               .with_for_update(skip_locked=True))
    referral = db.session.get(Referral, locked, populate_existing=True) if locked else None
    if referral is None or referral.status != "booked" or referral.appointment_id != appointment_id:
        return None
    states.reopen(referral, CANCELLED_NOTE, instant or now())
    audit.record("system", "booking", "referral.appointment_cancelled", patient_id=referral.patient_id,
                 resource=referral.id, appointment_id=appointment_id, cause=cause)
    return referral


def cancel(appointment_id, instant=None):
    """Cancel the referral's appointment while it holds a ticket (booking's rules, refund included); the ticket goes
    back to the referral pool, or to the public once past its release."""
    appointment = db.session.get(Appointment, appointment_id) if appointment_id else None
    if appointment is None or appointment.status not in ACTIVE or appointment.status == "checked_in":
        return appointment
    return lifecycle.cancel(appointment, instant, cause="referral")
