"""The steps a referral may take from each state, and recording one (status, updated_at, a history row).

up:   sent → booked → received → completed; sent/booked → declined (receiving side) | cancelled (sending side)
down: sent → accepted → completed; sent → declined | cancelled
"""
from ..common.clock import now
from ..errors import Conflict
from ..extensions import db
from .models import ReferralEvent

NAMES = {"sent": "已转出", "booked": "已预约", "received": "已接诊", "accepted": "已接收", "completed": "已完成",
         "declined": "已拒收", "cancelled": "已取消"}
# (direction, step) → the states the step may start from
ALLOWED = {("up", "book"): ("sent",), ("up", "receive"): ("booked",), ("up", "complete"): ("received",),
           ("up", "decline"): ("sent", "booked"), ("up", "cancel"): ("sent", "booked"),
           ("down", "accept"): ("sent",), ("down", "complete"): ("accepted",),
           ("down", "decline"): ("sent",), ("down", "cancel"): ("sent",)}
STEP_NAMES = {"book": "预约号源", "receive": "接诊", "complete": "完成", "decline": "拒收", "cancel": "取消",
              "accept": "接收"}
DIRECTION_NAMES = {"up": "上转", "down": "下转"}


def check(referral, step):
    """409 referral_state unless the referral's direction and present state allow the step (naming the state)."""
    if referral.status not in ALLOWED.get((referral.direction, step), ()):
        raise Conflict(f"该转诊单当前状态为“{NAMES[referral.status]}”，不能{STEP_NAMES[step]}"
                       + ("" if (referral.direction, step) in ALLOWED
                          else f"（{DIRECTION_NAMES[referral.direction]}转诊无此操作）"), code="referral_state")


def reopen(referral, note, instant=None):
    """Back to `sent` with no staff member behind it (the patient's appointment was cancelled): the history line
    names what happened, so the referrer sees why and books again."""
    instant = instant or now()
    referral.status, referral.updated_at, referral.appointment_id = "sent", instant, None
    db.session.add(ReferralEvent(referral_id=referral.id, status="sent", at=instant, staff_id=None,
                                 hospital_id=referral.to_hospital_id, note=note))
    db.session.flush()


def record(referral, status, staff, instant=None):
    """Move the referral to `status` and add the step to its history."""
    instant = instant or now()
    referral.status, referral.updated_at = status, instant
    db.session.add(ReferralEvent(referral_id=referral.id, status=status, at=instant, staff_id=staff.id,
                                 hospital_id=staff.hospital_id))
    db.session.flush()
