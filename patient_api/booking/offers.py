"""Worker job for the waitlist: offer freed tickets in join order, settle offers, close queues at the cutoff.

An offer is an ordinary unpaid hold (or a booking, for a free clinic) made for the waiter; if they do
not pay in time the hold lapses, the ticket is free again, and the next run offers it to the next waiter.
"""
import logging

from sqlalchemy import select, update

from ..common.clock import now
from ..common.locking import lock_row, serialise
from ..directory import pools
from ..directory.models import Schedule
from ..errors import ApiError
from ..extensions import db
from . import lifecycle, notices, services
from .models import Appointment, WaitlistEntry
from .waitlist import first_open_day

log = logging.getLogger(__name__)
STOP = ("sold_out", "schedule_closed", "waitlist_closed")  # nothing to offer on this schedule right now
OFFERS = 1  # locking.serialise namespace: one offer of a schedule at a time


def run(instant=None):
    """Close lapsed queues, settle earlier offers, then offer what is free; returns counts."""
    instant = instant or now()
    counts = {"closed": _close_queues(instant), "settled": _settle_offers(), "offered": 0, "lapsed": 0}
    _return_lapsed_holds(instant)
    schedule_ids = db.session.scalars(select(Schedule.id).join(
        WaitlistEntry, WaitlistEntry.schedule_id == Schedule.id).where(
        WaitlistEntry.status == "waiting", Schedule.available > 0).distinct()).all()
    db.session.commit()
    for schedule_id in schedule_ids:
        _offer_schedule(schedule_id, instant, counts)
    return counts


def _return_lapsed_holds(instant):
    """Where people wait, lapsed holds go back now rather than at the next sweep, so they can be offered."""
    waited = select(WaitlistEntry.schedule_id).where(WaitlistEntry.status == "waiting")
    lapsed = db.session.scalars(select(Appointment.id).where(
        Appointment.status == "pending_payment", Appointment.hold_expires_at <= instant,
        Appointment.schedule_id.in_(waited))).all()
    db.session.commit()
    for appointment_id in lapsed:
        lifecycle.expire_hold(appointment_id, instant, skip_locked=True)
        db.session.commit()


def _offer_schedule(schedule_id, instant, counts):
    """Offer this schedule's free tickets to its first waiters, one short transaction each.

    Runs that overlap (two hosts' workers, a slow run) take the schedule's offers one at a time: otherwise a run
    holding the second waiter could claim the last ticket before the run holding the first one got to it, and the
    first would be left waiting (nothing else orders them: a booking locks the schedule's row only for its commit).
    """
    while True:
        serialise(OFFERS, schedule_id)
        entry = db.session.scalars(select(WaitlistEntry).where(
            WaitlistEntry.schedule_id == schedule_id, WaitlistEntry.status == "waiting")
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id).limit(1)
            .with_for_update(skip_locked=True)).first()
        if entry is None or pools.public_free(schedule_id, instant) <= 0:  # kept-back tickets are not offered
            db.session.rollback()
            return
        # SQLite: take the write lock before the savepoint below opens a snapshot that a parallel run could
        # make stale; then look again, since that run may have offered this very entry meanwhile.
        lock_row(WaitlistEntry, entry.id)
        db.session.refresh(entry)
        if entry.status != "waiting":
            db.session.commit()
            continue
        try:
            with db.session.begin_nested():
                appointment = services.book(entry.account_id, entry.patient_id, schedule_id, instant, waitlisted=True)
        except ApiError as refused:
            if refused.code in STOP:
                db.session.rollback()
                return
            entry.status, entry.reason, entry.closed_at = "lapsed", refused.code, instant  # e.g. booked elsewhere
            counts["lapsed"] += 1
        else:
            entry.status, entry.appointment_id, entry.offered_at = "offered", appointment.id, instant
            notices.waitlist_offered(entry, appointment)
            counts["offered"] += 1
        db.session.commit()


def _settle_offers():
    """An offered hold that was paid becomes booked; one that lapsed or was cancelled ends the entry."""
    settled = 0
    for outcome, statuses in (("booked", ("booked", "checked_in", "completed", "no_show")),
                              ("expired", ("expired", "cancelled"))):
        done = select(Appointment.id).where(Appointment.status.in_(statuses))
        settled += db.session.execute(update(WaitlistEntry).where(
            WaitlistEntry.status == "offered", WaitlistEntry.appointment_id.in_(done))
            .values(status=outcome).execution_options(synchronize_session=False)).rowcount
    return settled


def _close_queues(instant):
    """Waiting ends at 23:00 the day before the visit."""
    past = select(Schedule.id).where(Schedule.date < first_open_day(instant))
    return db.session.execute(update(WaitlistEntry).where(
        WaitlistEntry.status == "waiting", WaitlistEntry.schedule_id.in_(past))
        .values(status="closed", closed_at=instant).execution_options(synchronize_session=False)).rowcount
