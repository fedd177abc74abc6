"""Claiming and releasing tickets: the only code that changes a ticket or a schedule's `available`.

`available` counts every free ticket; which of them the public may take (号源预留) is directory/pools.py's rule.
"""
from sqlalchemy import and_, func, or_, select, update

from ..billing.services import close_unpaid_bill
from ..directory import pools, public_cache
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
    """How many tickets a public claim could take right now (lapsed holds included, kept-back tickets not)."""
    return db.session.scalar(select(func.count()).select_from(Ticket).where(
        *_claimable(schedule_id, instant), pools.public_clause(instant)))


def claimable_in_window(schedule_id, window_start, instant):
    """Whether a claim by anyone (a pool's included) could still take a ticket of the window."""
    return db.session.scalar(select(func.count()).select_from(Ticket).where(
        *_claimable(schedule_id, instant), Ticket.window_start == window_start)) > 0


def window_state(schedule_id, window_start, instant):
    """(the window's end, how many of its tickets a claim by anyone could take now), one statement; (None, 0) when
    the schedule has no such window."""
    claimable = and_(*_claimable(schedule_id, instant))
    end, count = db.session.execute(select(func.max(Ticket.window_end), func.count().filter(claimable)).where(
        Ticket.schedule_id == schedule_id, Ticket.window_start == window_start)).one()
    return end, count


def claim(schedule, appointment_id, instant, hold_until, window_start=None, from_pools=(), public=True):
    """Take a ticket for `appointment_id`: first one kept for each of `from_pools` in turn, then (if `public`) a
    public one; the first free (or lapsed) ticket in queue order each time. (ticket, True if it was free), or
    (None, False) if there is none.

    With `window_start`, only a ticket of that time window (分时段) is taken; (None, False) if that window is full.
    A free ticket taken still counts in the schedule's `available` until the caller sends `taken` (see there).
    """
    passes = [pools.kept_clause(instant, pool) for pool in from_pools]
    if public:
        passes.append(pools.public_clause(instant))
    for clause in passes:
        claimed = _claim_one(schedule, appointment_id, instant, hold_until, window_start, clause)
        if claimed is not None:
            return claimed
    return None, False


def taken(schedule_id):
    """One free ticket fewer in the schedule's `available`: the last statement of a booking, right before its commit.

    The UPDATE locks the schedule's row until the transaction ends, and every booking of the schedule needs that
    lock. Sent right after the claim, it was held through the rest of the booking (the appointment, its bill and
    ledger rows, the response: about 13 round trips), so a rush's winners took it one after the other; sent last, it
    is held for the commit.
    """
    db.session.execute(update(Schedule).where(Schedule.id == schedule_id).values(available=Schedule.available - 1))


def _claim_one(schedule, appointment_id, instant, hold_until, window_start, clause):
    """One pass of claim() over the tickets matching `clause`: (ticket, whether it was free), or None.

    PostgreSQL: FOR UPDATE SKIP LOCKED lets concurrent claimers take different rows without waiting.
    SQLite: no row locks; the conditional UPDATE below is what makes a claim atomic. Both repeat `clause` in the
    UPDATE, so a ticket a release or an admin moved meanwhile is not taken under the wrong pool.
    """
    query = select(Ticket.id, Ticket.status, Ticket.appointment_id).where(*_claimable(schedule.id, instant), clause)
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
        moved = db.session.execute(
            update(Ticket).where(Ticket.id == ticket_id, Ticket.status == seen_status, unchanged, clause)
            .values(status="held" if hold_until else "booked", appointment_id=appointment_id,
                    hold_expires_at=hold_until)).rowcount
        if moved != 1:
            continue
        public_cache.changed(schedule.id)
        return db.session.get(Ticket, ticket_id, populate_existing=True), seen_status == "free"
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


def book_for(appointment_id):
    """Book the ticket an appointment holds (held → booked), locking it in the same statement; False if it holds
    none. The row lock comes with the UPDATE, so the order stays ticket → appointment, as with lock_for."""
    booked = db.session.execute(update(Ticket).where(Ticket.appointment_id == appointment_id)
                                .values(status="booked", hold_expires_at=None).returning(Ticket.id))
    return booked.first() is not None


def release(ticket, appointment_id):
    """Give the ticket back to the pool; exactly once per appointment."""
    freed = db.session.execute(
        update(Ticket).where(Ticket.id == ticket.id, Ticket.appointment_id == appointment_id)
        .values(status="free", appointment_id=None, hold_expires_at=None)).rowcount
    if freed == 1:
        public_cache.changed(ticket.schedule_id)
        db.session.execute(update(Schedule).where(Schedule.id == ticket.schedule_id)
                           .values(available=Schedule.available + 1))
        shedding.mark_available(ticket.schedule_id)
    return freed == 1


def extend_hold(appointment_id, until):
    """Keep a held ticket until `until` (a hold paid later, at the hospital); False if it is not held."""
    return db.session.execute(update(Ticket).where(Ticket.appointment_id == appointment_id, Ticket.status == "held")
                              .values(hold_expires_at=until)).rowcount == 1


def release_due(instant, batch=1000):
    """Worker: kept-back tickets past their release_at that nobody took become public, each exactly once.

    Reading and claiming already treat them as public from release_at on; this makes it permanent (reserved_for
    cleared, the pool kept in released_from). A ticket a claim holds locked right now is skipped (SKIP LOCKED) or,
    once taken, no longer free: it is the claimer's, not released. Returns {pool: tickets released}.
    """
    due = (select(Ticket.id).where(Ticket.reserved_for.is_not(None), Ticket.release_at <= instant,
                                   Ticket.status == "free")
           .order_by(Ticket.release_at, Ticket.id).limit(batch).with_for_update(skip_locked=True))
    moved = db.session.execute(
        update(Ticket).where(Ticket.id.in_(due.scalar_subquery()), Ticket.reserved_for.is_not(None),
                             Ticket.release_at <= instant, Ticket.status == "free")
        .values(released_from=Ticket.reserved_for, reserved_for=None)
        .returning(Ticket.schedule_id, Ticket.released_from)
        .execution_options(synchronize_session=False)).all()
    counts = {}
    for _, pool in moved:
        counts[pool] = counts.get(pool, 0) + 1
    for schedule_id in {schedule_id for schedule_id, _ in moved}:
        public_cache.changed(schedule_id)
        shedding.mark_available(schedule_id)
    return counts


def reserve(schedule, rules, instant):
    """Apply 号源预留 rules ({pool: {share, release_hours_before | release_at}}) to a schedule's free tickets.

    Each pool ends up keeping share × capacity tickets (rounded down) counting those its bookings already hold:
    surplus free ones go public (last numbers first), missing ones are taken from free public tickets of windows
    not yet over, spread as at creation; the pool's free tickets take the new release time. Only free tickets move,
    each under a conditional UPDATE, so a claim running at the same time keeps what it took. Returns
    {pool: tickets now kept (free or used)}.
    """
    targets = {pool: pools.kept_count(rules[pool], schedule.capacity) if pool in rules else 0 for pool in pools.POOLS}
    for pool, target in targets.items():
        surplus = _pool_size(schedule.id, pool) - target
        if surplus > 0:
            _set_pool(_free(schedule.id, instant, Ticket.reserved_for == pool, surplus, newest=True),
                      Ticket.reserved_for == pool, None, None)
        if pool in rules:
            # SKIP LOCKED: a ticket a booking is claiming right now is its, and waiting for it could deadlock (the
            # booking waits for this schedule's row, which the change holds, at its end: taken).
            kept = (select(Ticket.id).where(Ticket.schedule_id == schedule.id, Ticket.reserved_for == pool,
                                            Ticket.status == "free").with_for_update(skip_locked=True))
            db.session.execute(update(Ticket).where(Ticket.id.in_(kept.scalar_subquery()), Ticket.status == "free")
                               .values(release_at=pools.release_instant(rules[pool], schedule)))
    for pool, target in targets.items():
        shortage = target - _pool_size(schedule.id, pool)
        if shortage > 0:
            candidates = _free(schedule.id, instant, Ticket.reserved_for.is_(None))
            _set_pool(pools.spread(candidates, shortage), Ticket.reserved_for.is_(None), pool,
                      pools.release_instant(rules[pool], schedule))
    public_cache.changed(schedule.id)
    shedding.mark_available(schedule.id)  # surplus may have gone public
    return {pool: _pool_size(schedule.id, pool) for pool in pools.POOLS}


def _pool_size(schedule_id, pool):
    return db.session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.schedule_id == schedule_id, Ticket.reserved_for == pool))


def _free(schedule_id, instant, which, limit=None, newest=False):
    """Ids of free tickets of windows not yet over, in queue order (newest first on request), locked."""
    query = select(Ticket.id).where(Ticket.schedule_id == schedule_id, Ticket.status == "free",
                                    Ticket.window_end > instant, which)
    query = query.order_by(Ticket.seq.desc() if newest else Ticket.seq).limit(limit).with_for_update(skip_locked=True)
    return db.session.scalars(query).all()


def _set_pool(ticket_ids, was, pool, release_at):
    if ticket_ids:
        db.session.execute(update(Ticket).where(Ticket.id.in_(ticket_ids), Ticket.status == "free", and_(was))
                           .values(reserved_for=pool, release_at=release_at, released_from=None))
