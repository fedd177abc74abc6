"""payment.received and refund.done: the channel's subscriptions to billing's published events.

Kinds whose owners send their own message when paid (a registration's booking.confirmed, a discharge
settlement's inpatient.settled) say so with paid_message=False; a refund also reaches the account that made
the bill (a claimed link that paid its own booking's fee).
"""
from ..accounts.notices import tell_accounts
from ..billing import kinds
from ..common import events


@events.subscribe("bill.paid")
def payment_received(bill, payment, instant):
    """payment.received to the family, unless the bill's kind tells them itself."""
    if kinds.of(bill.kind).paid_message:
        tell_accounts(bill.patient_id, "payment.received", {
            "bill_id": bill.id, "amount_fen": payment.amount_fen, "total_fen": bill.total_fen,
            "paid_at": instant.isoformat()})


@events.subscribe("refund.succeeded")
def refund_done(bill, refund, instant):
    """refund.done once WeChat confirmed the money went back."""
    tell_accounts(bill.patient_id, "refund.done", {
        "bill_id": bill.id, "refund_id": refund.id, "amount_fen": refund.amount_fen,
        "reason": refund.reason or "", "refunded_at": instant.isoformat()}, kinds.of(bill.kind).booker(bill))
