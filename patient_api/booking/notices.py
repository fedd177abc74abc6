"""What booking tells the family: booking.confirmed (free at once, paid once the fee arrives), booking.cancelled (a
代预约 cancelled by staff) and waitlist.offer."""
from ..accounts.notices import tell_accounts
from ..common import notify
from ..extensions import db
from .models import Appointment


def booker_of(appointment_id):
    """The account that booked an appointment (None for a kiosk booking)."""
    if appointment_id is None:
        return None
    # Settling the fee has just loaded the appointment (booking it): the session has it, no query.
    appointment = db.session.get(Appointment, appointment_id)
    return appointment.account_id if appointment is not None else None


def booked(appointment):
    """booking.confirmed for an appointment that needed no payment (free clinic, free revisit)."""
    if appointment.status == "booked":
        tell_accounts(appointment.patient_id, "booking.confirmed",
                      {"appointment_id": appointment.id, "fee_fen": appointment.fee_fen}, appointment.account_id)


def fee_paid(bill, payment, instant):
    """booking.confirmed once the registration fee is paid (the bill kind's on_paid hook)."""
    # Billing is settling the bill: nothing pending touches a patient link, so the accounts are read without a
    # flush, and this message's outbox row goes in one INSERT with bill.paid's.
    with db.session.no_autoflush:
        tell_accounts(bill.patient_id, "booking.confirmed", {
            "appointment_id": bill.appointment_id, "bill_id": bill.id, "fee_fen": payment.amount_fen},
            booker_of(bill.appointment_id))


def cancelled(appointment, reason):
    """booking.cancelled to the patient's verified accounts and the booker when staff cancel a 代预约 (the resident
    asked for it at the window or on the phone; the message confirms it)."""
    tell_accounts(appointment.patient_id, "booking.cancelled", {"appointment_id": appointment.id, "reason": reason},
                  appointment.account_id)


def waitlist_offered(entry, appointment):
    """waitlist.offer to the waiter's account when the offer is a hold to pay; a free one is a booking.confirmed."""
    if appointment.status == "pending_payment":
        notify.tell(entry.account_id, "waitlist.offer", {
            "waitlist_id": entry.id, "appointment_id": appointment.id, "patient_id": entry.patient_id,
            "bill_id": appointment.bill_id, "hold_expires_at": appointment.hold_expires_at.isoformat()})
