"""Periodic WeChat messages: visit reminders the day before, and a daily low-deposit warning per stay.

Each message is claimed once with a Redis marker (SET NX) before it is queued, so overlapping or
repeated runs queue it once; a failed commit gives the claims back.
"""
from datetime import timedelta

import sqlalchemy as sa

from ..booking.models import Appointment
from ..common.clock import LOCAL, now
from ..directory.models import Hospital
from ..extensions import db, redis
from ..inpatient.models import Admission
from ..inpatient.money import ward_totals
from .events import tell_accounts

SEND_FROM_HOUR = 9  # local hour from which these messages go out: nobody is woken at midnight
REMINDER_KEEP = 3 * 86400  # a reminder marker outlives the visit it is for
LOW_DEPOSIT_OPEN = ("admitted", "discharge_ordered")  # the stays whose wards flag a low deposit too
BATCH = 200


def _local(instant):
    local = instant.astimezone(LOCAL)
    return local if local.hour >= SEND_FROM_HOUR else None


def _queue_once(items, marker, ttl, event):
    """Queue `event` for each (key, patient_id, payload) whose marker is new; commit per batch; returns how many."""
    queued = 0
    for start in range(0, len(items), BATCH):
        claimed = []
        try:
            for key, patient_id, payload in items[start:start + BATCH]:
                if redis.set(marker(key), "1", nx=True, ex=ttl):
                    claimed.append(marker(key))
                    tell_accounts(patient_id, event, payload)
            db.session.commit()
        except Exception:
            db.session.rollback()
            if claimed:
                redis.delete(*claimed)  # not queued after all: the next run tries again
            raise
        queued += len(claimed)
    return queued


def remind_visits(instant=None):
    """visit.reminder once per booked appointment of tomorrow (local date); returns how many were queued."""
    local = _local(instant or now())
    if local is None:
        return 0
    rows = db.session.execute(sa.select(Appointment.id, Appointment.patient_id).where(
        Appointment.visit_date == local.date() + timedelta(days=1), Appointment.status == "booked")
        .order_by(Appointment.id)).all()
    db.session.rollback()
    return _queue_once([(apt_id, patient_id, {"appointment_id": apt_id}) for apt_id, patient_id in rows],
                       lambda apt_id: f"wechat:reminded:{apt_id}", REMINDER_KEEP, "visit.reminder")


def warn_low_deposits(instant=None):
    """deposit.low once per open stay per local day while available deposit < the hospital's low mark."""
    local = _local(instant or now())
    if local is None:
        return 0
    stays = db.session.execute(sa.select(Admission.id, Admission.patient_id, Hospital.low_deposit_fen)
                               .join(Hospital, Hospital.id == Admission.hospital_id)
                               .where(Admission.status.in_(LOW_DEPOSIT_OPEN)).order_by(Admission.id)).all()
    # Same arithmetic as money.summary (deposits held − charges), for all stays in two queries.
    totals = ward_totals([stay.id for stay in stays])
    low = []
    for admission_id, patient_id, low_fen in stays:
        held, charges = totals[admission_id]
        if held - charges < low_fen:
            low.append((admission_id, patient_id, {"admission_id": admission_id, "available_fen": held - charges,
                                                   "low_deposit_fen": low_fen}))
    db.session.rollback()
    day = local.date().isoformat()
    return _queue_once(low, lambda admission_id: f"wechat:deposit-low:{admission_id}:{day}", 2 * 86400, "deposit.low")
