"""候补 (waitlist): join a sold-out schedule, leave it, list it; freed tickets are kept for waiters first."""
from datetime import time, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..accounts.models import PatientLink
from ..accounts.services import link_for
from ..common.clock import local_dt, now, to_local
from ..directory.models import Schedule
from ..errors import Conflict, NotFound
from ..extensions import db
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


def reserved(schedule):
    """True when every free ticket is spoken for by a waiter, so the public sees the schedule sold out."""
    return schedule.available > 0 and schedule.available <= waiting_count(schedule.id)


def join(account_id, patient_id, schedule_id, instant=None):
    """Join the waitlist of a sold-out schedule (409 tickets_available when one can simply book)."""
    instant = instant or now()
    link_for(account_id, patient_id)
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound("未找到该排班", code="schedule_not_found")
    if schedule.status_at(instant) != "open" or instant >= cutoff(schedule.date):
        raise Conflict("该排班已不能候补", code="waitlist_closed")
    if schedule.available > waiting_count(schedule.id):
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
    """The account's patients' waitlist entries, newest first."""
    linked = select(PatientLink.patient_id).where(PatientLink.account_id == account_id)
    return db.session.scalars(select(WaitlistEntry).where(WaitlistEntry.patient_id.in_(linked))
                              .order_by(WaitlistEntry.created_at.desc()).limit(100)).all()


def entry_for(account_id, entry_id):
    """One entry of a linked patient; 404 for anyone else's."""
    entry = db.session.get(WaitlistEntry, entry_id)
    linked = entry is not None and db.session.scalar(select(PatientLink.id).filter_by(
        account_id=account_id, patient_id=entry.patient_id))
    if not linked:
        raise NotFound("未找到该候补", code="waitlist_entry_not_found")
    return entry


def position(entry):
    """1-based place in the queue while waiting, else None."""
    if entry.status != "waiting":
        return None
    return 1 + db.session.scalar(select(func.count()).select_from(WaitlistEntry).where(
        WaitlistEntry.schedule_id == entry.schedule_id, WaitlistEntry.status == "waiting",
        WaitlistEntry.created_at < entry.created_at))


def leave(entry, instant=None):
    """Stop waiting; an offered hold is an appointment now and is cancelled like one."""
    if entry.status != "waiting":
        raise Conflict("该候补当前不能取消（如已分配号源，请取消对应预约）", code="waitlist_not_cancellable")
    entry.status, entry.closed_at = "cancelled", instant or now()
    return entry
