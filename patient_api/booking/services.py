"""Booking (预约挂号): claim a ticket for a linked patient under the hospital's rules."""
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from ..accounts import links
from ..accounts.models import Patient
from ..billing.services import create_registration_bill
from ..common.clock import now, to_local
from ..common.ids import new_id
from ..common.locking import lock_row
from ..directory import pools
from ..directory.models import Department, Hospital, Schedule
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from . import eligibility, notices, shedding, standing, tickets, waitlist
from .models import Appointment, with_names


def book(account_id, patient_id, schedule_id, instant=None, waitlisted=False, via="wechat", slot_start=None,
         from_pools=None, public=True):
    """Hold (fee > 0) or book (free clinic, free revisit) the next ticket of a schedule for a linked patient.

    With `slot_start` (a window's `start` from /schedules/{id}/slots) the ticket comes from that window only.

    Callers shed load first with shedding.admit(); this function alone keeps every rule. Freed tickets
    belong to the waitlist first: only the worker's offers (`waitlisted`) may take them while people wait.
    A kiosk or a registration window books with no account (account_id None): the card read or the staff member
    already established who the patient is.

    号源预留: `from_pools` None lets the eligibility rules choose (an elder at the hospital takes from the elder
    pool); a booking takes from its pools first, then from the public tickets unless `public` is False. Waitlist
    offers never take a kept-back ticket.
    """
    instant = instant or now()
    if account_id is not None:
        links.active_link(account_id, patient_id)
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound("未找到该排班", code="schedule_not_found")
    _check_open(schedule, instant)
    if slot_start is not None:
        _check_slot(schedule, slot_start, instant)
    patient = db.session.get(Patient, patient_id)
    if patient is None:
        raise links.patient_not_found()
    if from_pools is None:
        from_pools = () if waitlisted else eligibility.pools_for(patient, schedule, account_id, via)
    public = public and (waitlisted or not waitlist.reserved(schedule, instant))
    if not public and not from_pools:
        mark_sold_out(schedule.id, instant)  # to the public it is sold out: shed the next attempts in Redis
        raise Conflict("号源已约满", code="sold_out")
    lock_row(Patient, patient_id)  # one patient's attempts run one at a time; other patients don't wait
    revisit_of = standing.judge(patient_id, schedule, instant)  # lapsed holds expired, no-shows, limits, revisit
    appointment_id = new_id("apt")
    fee_fen = 0 if revisit_of else schedule.fee_fen
    hold_until = instant + timedelta(minutes=current_app.config["HOLD_MINUTES"]) if fee_fen else None
    ticket, was_free = tickets.claim(schedule, appointment_id, instant, hold_until, window_start=slot_start,
                                     from_pools=from_pools, public=public)
    if ticket is None:
        raise _nothing_to_claim(schedule, slot_start, instant)
    kept_for = ticket.reserved_for if ticket.reserved_for in from_pools and ticket.release_at > instant else None
    appointment = Appointment(
        id=appointment_id, account_id=account_id, patient_id=patient_id, schedule_id=schedule.id,
        ticket_id=ticket.id, hospital_id=schedule.hospital_id, department_id=schedule.department_id,
        visit_date=schedule.date, status="pending_payment" if hold_until else "booked", queue_no=ticket.seq,
        visit_start=ticket.window_start, visit_end=ticket.window_end, fee_fen=fee_fen,
        hold_expires_at=hold_until, free_revisit_of=revisit_of, booked_via=via, pool=kept_for)
    _hold_names(appointment, schedule)
    try:
        with db.session.begin_nested():
            db.session.add(appointment)
    except IntegrityError:  # the database's one-per-department-per-day index had the last word
        raise Conflict("该就诊人当天已预约该科室", code="already_booked") from None
    if fee_fen:
        appointment.bill_id = create_registration_bill(appointment, schedule).id
    db.session.flush()
    notices.booked(appointment)  # free visits are confirmed now; paid ones once the fee arrives
    if was_free:
        tickets.taken(schedule.id)  # last: it locks the schedule's row until the commit (see there)
    return appointment


def _hold_names(appointment, schedule):
    """Hand the new appointment its hospital, department and schedule (the hospital and department read in one
    statement): its bill and the answer name them. The identity map keeps objects only weakly, so without this the
    bill read the department and dumping the answer read all three again, after the schedule's row was locked
    (tickets.taken)."""
    hospital, department = db.session.execute(
        select(Hospital, Department).select_from(Schedule).join(Hospital, Hospital.id == Schedule.hospital_id)
        .join(Department, Department.id == Schedule.department_id).where(Schedule.id == schedule.id)).one()
    for name, value in (("hospital", hospital), ("department", department), ("schedule", schedule)):
        set_committed_value(appointment, name, value)


def _check_open(schedule, instant):
    status = schedule.status_at(instant)
    if status == "not_released":
        opens = to_local(schedule.release_at).strftime("%m月%d日 %H:%M")
        raise Conflict(f"该号源将于{opens}开放预约", code="not_released")
    if status in ("closed", "stopped"):
        raise Conflict("该排班已停止预约", code="schedule_closed")


def _check_slot(schedule, slot_start, instant):
    """422 unless `slot_start` starts one of the schedule's windows; 409 slot_past once that window is over, and
    slot_full when nobody could take a ticket of it now."""
    window_end, claimable = tickets.window_state(schedule.id, slot_start, instant)
    if window_end is None:
        raise Invalid("所选时段不属于该排班，请重新选择时段", code="invalid_slot",
                      errors={"slot_start": ["不是该排班的时段，请使用分时段列表中的开始时间"]})
    if window_end <= instant:
        raise Conflict("该时段已结束，请选择其他时段", code="slot_past")
    if not claimable:
        # Whoever the patient is, the claim would fail: refuse before their checks and locks (a 07:00 rush sends
        # many attempts at a window between its last ticket going and the first refusal flagging it in Redis).
        raise _nothing_to_claim(schedule, slot_start, instant, window_empty=True)


def _nothing_to_claim(schedule, slot_start, instant, window_empty=False):
    """The 409 for a failed claim; sets the Redis sold-out flag only when no window has a ticket left (and the
    window's flag when no ticket of it is left for anyone: `window_empty` when the caller already counted)."""
    # A full window says nothing about the others: flagging the schedule then would shed bookings that could succeed.
    whole_schedule_gone = slot_start is None or not tickets.claimable_count(schedule.id, instant)
    if whole_schedule_gone:
        mark_sold_out(schedule.id, instant)
    if slot_start is None:
        return Conflict("号源已约满", code="sold_out")
    if whole_schedule_gone:
        return Conflict("该时段已约满，本排班其他时段也已约满", code="slot_full")
    if window_empty or not tickets.claimable_in_window(schedule.id, slot_start, instant):  # none kept back either
        shedding.mark_window_full(schedule.id, slot_start)
    return Conflict("该时段已约满，请选择其他时段", code="slot_full")


def mark_sold_out(schedule_id, instant):
    """Set the Redis sold-out flag, naming the pools that still keep tickets back (one count query, on a refusal)."""
    kept = pools.kept_by_schedule([schedule_id], instant)[schedule_id]
    shedding.mark_sold_out(schedule_id, [pool for pool, count in kept.items() if count])


def appointments_for(account_id, status=None):
    """The account's own bookings, and every appointment of its verified patients; newest visit first."""
    query = select(Appointment).where(or_(
        Appointment.patient_id.in_(links.verified_patient_ids(account_id)),
        (Appointment.account_id == account_id) & Appointment.patient_id.in_(links.active_patient_ids(account_id))))
    if status:
        query = query.where(Appointment.status == status)
    return db.session.scalars(query.options(*with_names())
                              .order_by(Appointment.visit_start.desc(), Appointment.id).limit(200)).all()


def appointment_for(account_id, appointment_id):
    """One appointment: the account's own booking or any of a verified patient's; 403 verification_required for
    another account's booking of a claimed patient, 404 without a link."""
    appointment = db.session.get(Appointment, appointment_id)
    link = appointment and links.link_of(account_id, appointment.patient_id)
    if link is None or not link.active:
        raise NotFound("未找到该预约", code="appointment_not_found")
    if not link.verified and appointment.account_id != account_id:
        raise links.verification_required()
    return appointment
