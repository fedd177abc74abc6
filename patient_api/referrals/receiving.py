"""The receiving side: receive (up, booked), accept (down, sent; tells family/ through referral.down_accepted),
decline (a booked appointment is cancelled, its ticket back to the pool), complete."""
from ..common import events
from ..common.clock import now
from . import booking, notices, states
from .access import audited, require_side


def receive(staff, referral, instant=None):
    """The referred patient arrived at the receiving hospital (接诊)."""
    require_side(staff, referral, "receiving")
    states.check(referral, "receive")
    states.record(referral, "received", staff, instant)
    audited(staff, "referral.receive", referral)
    return referral


def accept(staff, referral, instant=None):
    """The clinic takes the down-referral on; family/ may set a follow-up plan for the patient's signed team."""
    instant = instant or now()
    require_side(staff, referral, "receiving")
    states.check(referral, "accept")
    states.record(referral, "accepted", staff, instant)
    followup = ({"kind": referral.followup_kind, "every_days": referral.followup_every_days}
                if referral.followup_kind else None)
    events.publish("referral.down_accepted", referral_id=referral.id, patient_id=referral.patient_id,
                   from_hospital_id=referral.from_hospital_id, to_hospital_id=referral.to_hospital_id,
                   followup=followup, instant=instant)
    notices.down_accepted(referral)
    audited(staff, "referral.accept", referral)
    return referral


def decline(staff, referral, reason, instant=None):
    """The receiving side declines with a reason the sender and the family read."""
    instant = instant or now()
    require_side(staff, referral, "receiving")
    states.check(referral, "decline")
    booking.cancel(referral.appointment_id, instant)
    referral.decline_reason = reason
    states.record(referral, "declined", staff, instant)
    notices.declined(referral)
    audited(staff, "referral.decline", referral, reason=reason)
    return referral


def complete(staff, referral, instant=None):
    """The receiving side finished its part (up: after receiving; down: after accepting)."""
    require_side(staff, referral, "receiving")
    states.check(referral, "complete")
    states.record(referral, "completed", staff, instant)
    audited(staff, "referral.complete", referral)
    return referral
