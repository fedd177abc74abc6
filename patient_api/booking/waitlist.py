"""候补 (waitlist): join a sold-out schedule, leave it, list it; freed tickets are kept for waiters first."""
from datetime import time, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from ..accounts import links
from ..common.clock import local_dt, now, to_local
from ..common.locking import lock_row
from ..directory import pools
from ..directory.models import Schedule
from ..errors import Conflict, NotFound
from ..extensions import db
from . import tickets
from .models import ACTIVE, WAITLIST_OPEN, Appointment, WaitlistEntry

MAX_OPEN_PER_PATIENT = 3
CUTOFF = time(23, 0)  # waiting ends at 23:00 on the day before the visit


def cutoff(day):
    """When the waitlist of a visit day closes."""
    return local_dt(day - timedelta(days=1), CUTOFF)


def first_open_day(instant):
    """The earliest visit day whose waitlist is still open at `instant`."""
    local = to_local(instant)
    return local.date() + timedelta(days=2 if local.time() >= CUTOFF else 1)


def waiting_count(schedule_id):
    """People still waiting (not yet offered) for this schedule."""
    return db.session.scalar(select(func.count()).select_from(WaitlistEntry).where(
        WaitlistEntry.schedule_id == schedule_id, WaitlistEntry.status == "waiting"))


def reserved(schedule, instant):
    """True when every claimable ticket (free, or a hold that ran out) is spoken for by a waiter.

    Counting lapsed holds matters: they are most freed tickets, and the sweeper may not have returned them yet.
    """
    waiting = waiting_count(schedule.id)
    if not waiting:
        return False
    return tickets.claimable_count(schedule.id, instant) <= waiting


def join(account_id, patient_id, schedule_id, instant=None):
    """Join the waitlist of a sold-out schedule (409 tickets_available when one can simply book)."""
    instant = instant or now()
    links.active_link(account_id, patient_id)
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound("未找到该排班", code="schedule_not_found")
    if schedule.status_at(instant) != "open" or instant >= cutoff(schedule.date):
        raise Conflict("该排班已不能候补", code="waitlist_closed")
    # Lapsed holds aside (they come back by themselves); tickets kept back for a pool are not the public's.
    if pools.public_free(schedule.id, instant) > waiting_count(schedule.id):
        raise Conflict("还有号源，请直接预约", code="tickets_available")
    if db.session.scalar(select(Appointment.id).where(
            Appointment.patient_id == patient_id, Appointment.department_id == schedule.department_id,
            Appointment.visit_date == schedule.date, Appointment.status.in_(ACTIVE))):
        raise Conflict("该就诊人当天已预约该科室", code="already_booked")
    open_count = db.session.scalar(select(func.count()).select_from(WaitlistEntry).where(
        WaitlistEntry.patient_id == patient_id, WaitlistEntry.status.in_(WAITLIST_OPEN)))
    if open_count >= MAX_OPEN_PER_PATIENT:
        raise Conflict(f"每位就诊人最多同时候补{MAX_OPEN_PER_PATIENT}个号源", code="waitlist_limit")
    entry = WaitlistEntry(schedule_id=schedule.id, patient_id=patient_id, account_id=account_id, created_at=instant)
    try:
        with db.session.begin_nested():
            db.session.add(entry)
    except IntegrityError:  # the unique index: one open entry per patient per schedule
        raise Conflict("该就诊人已在候补队列中", code="already_waiting") from None
    return entry


def entries_for(account_id):
    """The account's own waitlist entries, and those of its verified patients; newest first."""
    return db.session.scalars(select(WaitlistEntry).where(or_(
        WaitlistEntry.patient_id.in_(links.verified_patient_ids(account_id)),
        (WaitlistEntry.account_id == account_id) & WaitlistEntry.patient_id.in_(links.active_patient_ids(account_id))))
                              .order_by(WaitlistEntry.created_at.desc()).limit(100)).all()


def entry_for(account_id, entry_id):
    """One entry of a linked patient; 404 for anyone else's."""
    entry = db.session.get(WaitlistEntry, entry_id)
    link = entry and links.link_of(account_id, entry.patient_id)
    if link is None or not link.active or not (link.verified or entry.account_id == account_id):
        raise NotFound("未找到该候补", code="waitlist_entry_not_found")
    return entry


def with_positions(entries):
    """The entries, each with `position` set (None unless waiting), for the response."""
    places = positions(entries)
    for entry in entries:
        entry.position = places.get(entry.id)
    return entries


def positions(entries):
    """{entry id: 1-based place in its queue} for the waiting ones, in one query (offers go in this order)."""
    schedule_ids = {e.schedule_id for e in entries if e.status == "waiting"}
    if not schedule_ids:
        return {}
    queue = db.session.execute(select(WaitlistEntry.id, WaitlistEntry.schedule_id).where(
        WaitlistEntry.schedule_id.in_(schedule_ids), WaitlistEntry.status == "waiting")
        .order_by(WaitlistEntry.schedule_id, WaitlistEntry.created_at, WaitlistEntry.id)).all()
    places, seen = {}, {}
    for entry_id, schedule_id in queue:
        seen[schedule_id] = seen.get(schedule_id, 0) + 1
        places[entry_id] = seen[schedule_id]
    return places


def leave(entry, instant=None):
    """Stop waiting; an offered hold is an appointment now and is cancelled like one."""
    lock_row(WaitlistEntry, entry.id)  # the worker may be offering it right now: decide after it
    db.session.refresh(entry)
    if entry.status != "waiting":
        raise Conflict("该候补当前不能取消（如已分配号源，请取消对应预约）", code="waitlist_not_cancellable")
    entry.status, entry.closed_at = "cancelled", instant or now()
    return entry
