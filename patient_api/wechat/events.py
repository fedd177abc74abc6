"""Producers' side of WeChat messages: queue an event for every account linked to a patient.

Called inside the producer's transaction; the outbox sends only if that transaction commits.
"""
import sqlalchemy as sa

from ..accounts.links import verified_accounts
from ..billing import kinds
from ..booking.models import Appointment
from ..common import outbox
from ..extensions import db

CHANNEL = "wechat_message"


def tell(account_id, event, payload):
    """Queue `event` to one account."""
    outbox.enqueue(CHANNEL, account_id, event, payload)


def tell_accounts(patient_id, event, payload, booker=None):
    """Queue `event` to the patient's verified accounts (self and consented proxies) and to `booker`, the account
    that made a booking (a claimed link hears about its own booking, never about clinical news); returns how many."""
    accounts = list(verified_accounts(patient_id))
    if booker and booker not in accounts:
        accounts.append(booker)
    for account_id in accounts:
        tell(account_id, event, {"patient_id": patient_id, **payload})
    return len(accounts)


def booker_of(appointment_id):
    """The account that booked an appointment (None for a kiosk booking)."""
    if appointment_id is None:
        return None
    return db.session.scalar(sa.select(Appointment.account_id).where(Appointment.id == appointment_id))


def booked(appointment):
    """booking.confirmed for an appointment that needed no payment (free clinic, free revisit)."""
    if appointment.status == "booked":
        tell_accounts(appointment.patient_id, "booking.confirmed",
                      {"appointment_id": appointment.id, "fee_fen": appointment.fee_fen}, appointment.account_id)


def bill_paid(bill, payment, instant):
    """A paid registration fee confirms the booking; any other bill is a payment received."""
    if not kinds.of(bill.kind).paid_message:
        return
    if bill.kind == "registration":
        tell_accounts(bill.patient_id, "booking.confirmed", {
            "appointment_id": bill.appointment_id, "bill_id": bill.id, "fee_fen": payment.amount_fen},
            booker_of(bill.appointment_id))
        return
    tell_accounts(bill.patient_id, "payment.received", {
        "bill_id": bill.id, "amount_fen": payment.amount_fen, "total_fen": bill.total_fen,
        "paid_at": instant.isoformat()})


def refund_succeeded(bill, refund, instant):
    """refund.done once WeChat confirmed the money went back."""
    tell_accounts(bill.patient_id, "refund.done", {
        "bill_id": bill.id, "refund_id": refund.id, "amount_fen": refund.amount_fen,
        "reason": refund.reason or "", "refunded_at": instant.isoformat()}, booker_of(bill.appointment_id))


def waitlist_offered(entry, appointment):
    """waitlist.offer to the waiter's account when the offer is a hold to pay; a free one is a booking.confirmed."""
    if appointment.status == "pending_payment":
        tell(entry.account_id, "waitlist.offer", {
            "waitlist_id": entry.id, "appointment_id": appointment.id, "patient_id": entry.patient_id,
            "bill_id": appointment.bill_id, "hold_expires_at": appointment.hold_expires_at.isoformat()})
