"""Periodic WeChat messages: visit reminders the day before, and a daily low-deposit warning per stay.

Each message is claimed in the database (a conditional UPDATE … RETURNING) in the same transaction that queues
it in the outbox, so overlapping or repeated runs queue it exactly once, and a failed run claims nothing.
"""
from datetime import timedelta

import sqlalchemy as sa

from ..accounts.notices import tell_accounts
from ..booking.models import Appointment
from ..common.clock import LOCAL, now
from ..directory.models import Hospital
from ..extensions import db
from ..inpatient.models import Admission
from ..inpatient.money import ward_totals

SEND_FROM_HOUR = 9  # local hour from which these messages go out: nobody is woken at midnight
LOW_DEPOSIT_OPEN = ("admitted", "discharge_ordered")  # the stays whose wards flag a low deposit too


def _local(instant):
    local = instant.astimezone(LOCAL)
    return local if local.hour >= SEND_FROM_HOUR else None


def remind_visits(instant=None):
    """visit.reminder once per booked appointment of tomorrow (local date); returns how many were queued."""
    instant = instant or now()
    local = _local(instant)
    if local is None:
        return 0
    claimed = db.session.execute(sa.update(Appointment).where(
        Appointment.visit_date == local.date() + timedelta(days=1), Appointment.status == "booked",
        Appointment.reminded_at.is_(None)).values(reminded_at=instant)
        .returning(Appointment.id, Appointment.patient_id, Appointment.account_id)).all()
    for appointment_id, patient_id, booker in claimed:
        tell_accounts(patient_id, "visit.reminder", {"appointment_id": appointment_id}, booker)
    db.session.commit()
    return len(claimed)


def warn_low_deposits(instant=None):
    """deposit.low once per open stay per local day while available deposit < the hospital's low mark."""
    local = _local(instant or now())
    if local is None:
        return 0
    day = local.date()
    stays = db.session.execute(sa.select(Admission.id, Admission.patient_id, Hospital.low_deposit_fen)
                               .join(Hospital, Hospital.id == Admission.hospital_id)
                               .where(Admission.status.in_(LOW_DEPOSIT_OPEN),
                                      sa.or_(Admission.low_deposit_warned_on.is_(None),
                                             Admission.low_deposit_warned_on < day))
                               .order_by(Admission.id)).all()
    # Same arithmetic as money.summary (deposits held − charges), for all stays in two queries.
    totals = ward_totals([stay.id for stay in stays])
    queued = 0
    for admission_id, patient_id, low_fen in stays:
        held, charges = totals[admission_id]
        if held - charges >= low_fen:
            continue
        claimed = db.session.execute(sa.update(Admission).where(
            Admission.id == admission_id, sa.or_(Admission.low_deposit_warned_on.is_(None),
                                                 Admission.low_deposit_warned_on < day))
            .values(low_deposit_warned_on=day)).rowcount
        if claimed:
            tell_accounts(patient_id, "deposit.low", {"admission_id": admission_id, "available_fen": held - charges,
                                                      "low_deposit_fen": low_fen})
            queued += 1
    db.session.commit()
    return queued
