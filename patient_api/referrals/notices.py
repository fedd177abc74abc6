"""What the patient's family hears about a referral (through accounts.notices: the inbox and a WeChat template)."""
from ..accounts.notices import tell_accounts


def tell_family(referral, event, **payload):
    """`event` to the patient's verified accounts, naming the referral (and whatever else by id)."""
    return tell_accounts(referral.patient_id, event, {"referral_id": referral.id, **payload})


def booked(referral):
    """An up-referral's ticket is booked: when, where and which number."""
    return tell_family(referral, "referral.booked", appointment_id=referral.appointment_id)


def declined(referral):
    """The receiving hospital declined, with its reason."""
    return tell_family(referral, "referral.declined", reason=referral.decline_reason)


def cancelled(referral):
    """The sending hospital cancelled, with its reason."""
    return tell_family(referral, "referral.cancelled", reason=referral.cancel_reason)


def down_sent(referral):
    """A down-referral to a clinic: which one, the plan."""
    return tell_family(referral, "referral.down_sent", plan=referral.plan)


def down_accepted(referral):
    """The clinic accepted the down-referral."""
    return tell_family(referral, "referral.down_accepted", plan=referral.plan)
