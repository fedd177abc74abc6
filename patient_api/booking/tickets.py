"""Claiming and releasing tickets: the only code that changes a ticket or a schedule's `available`."""
from sqlalchemy import func, or_, select, update

from ..billing.services import close_unpaid_bill
from ..directory.models import Schedule, Ticket
from ..extensions import db
from . import shedding
from .models import Appointment

MAX_SQLITE_RETRIES = 50


def _claimable(schedule_id, instant):
    """Tickets of the schedule that can still be taken: free or a lapsed hold, in a window not yet over."""
    return (Ticket.schedule_id == schedule_id, Ticket.window_end > instant,
            or_(Ticket.status == "free", (Ticket.status == "held") & (Ticket.hold_expires_at <= instant)))


def claimable_count(schedule_id, instant):
    """How many tickets a claim could take right now (lapsed holds included)."""
    return db.session.scalar(select(func.count()).select_from(Ticket).where(*_claimable(schedule_id, instant)))


def claim(schedule, appointment_id, instant, hold_until, window_start=None):
    """Take the first free ticket (or one whose hold expired) for `appointment_id`; None if sold out.

    With `window_start`, only a ticket of that time window (分时段) is taken; None if that window is full.
    PostgreSQL: FOR UPDATE SKIP LOCKED lets concurrent claimers take different rows without waiting.
    SQLite: no row locks; the conditional UPDATE below is what makes a claim atomic.
    """
    query = select(Ticket.id, Ticket.status, Ticket.appointment_id).where(*_claimable(schedule.id, instant))
    if window_start is not None:
        query = query.where(Ticket.window_start == window_start)
    query = query.order_by(Ticket.seq).limit(1).with_for_update(skip_locked=True)
    for _ in range(MAX_SQLITE_RETRIES):
        row = db.session.execute(query).first()
        if row is None:
            return None
        ticket_id, seen_status, previous = row
        if seen_status == "held" and not _expire_previous(previous, instant):
            continue
        unchanged = (Ticket.status == "free") if seen_status == "free" else (Ticket.appointment_id == previous)
        taken = db.session.execute(
            update(Ticket).where(Ticket.id == ticket_id, Ticket.status == seen_status, unchanged)
            .values(status="held" if hold_until else "booked", appointment_id=appointment_id,
                    hold_expires_at=hold_until)).rowcount
        if taken != 1:
            continue
        if seen_status == "free":
            db.session.execute(update(Schedule).where(Schedule.id == schedule.id)
                               .values(available=Schedule.available - 1))
        return db.session.get(Ticket, ticket_id, populate_existing=True)
    return None


def _expire_previous(appointment_id, instant):
    """The ticket we hold was someone's expired hold: end that appointment (once) before reuse."""
    ended = db.session.execute(
        update(Appointment).where(Appointment.id == appointment_id, Appointment.status == "pending_payment",
                                  Appointment.hold_expires_at <= instant)
        .values(status="expired").returning(Appointment.bill_id)).all()
    if not ended:  # paid or cancelled meanwhile: the ticket is not ours to take
        return False
    close_unpaid_bill(ended[0][0])
    return True


def lock_for(appointment_id, skip_locked=False):
    """Lock the ticket an appointment holds (always ticket before appointment, so no deadlocks)."""
    return db.session.scalars(select(Ticket).where(Ticket.appointment_id == appointment_id)
                              .with_for_update(skip_locked=skip_locked)).first()


def release(ticket, appointment_id):
    """Give the ticket back to the pool; exactly once per appointment."""
    freed = db.session.execute(
        update(Ticket).where(Ticket.id == ticket.id, Ticket.appointment_id == appointment_id)
        .values(status="free", appointment_id=None, hold_expires_at=None)).rowcount
    if freed == 1:
        db.session.execute(update(Schedule).where(Schedule.id == ticket.schedule_id)
                           .values(available=Schedule.available + 1))
        shedding.mark_available(ticket.schedule_id)
    return freed == 1
