"""Refunds: reserved in the database first, sent to WeChat by the worker, settled by notification or query.

The amount is reserved on the payment (refunded_fen) when the refund is requested, under the payment's
row lock, so concurrent requests can never refund more than was paid; a failed refund gives it back.
"""

from sqlalchemy import func, select

from ..common import events
from ..common.clock import now
from ..common.locking import lock_row
from ..errors import Conflict, Invalid
from ..extensions import db
from . import invoices, ledger, presettlement
from .models import Bill, Payment, Refund
from .payments import NotificationRejected, new_out_trade_no


def request_refund(payment_id, amount_fen, out_refund_no, reason, instant=None, hospital_refund_no=None,
                   bill_id=None, share_fen=None):
    """Reserve a refund once per number; 409 beyond what is refundable (365 days, 50 refunds).

    Our own refunds pass out_refund_no (unique for the merchant, derived from an order or appointment). A hospital's
    refund passes hospital_refund_no instead: unique only within that hospital, so it is looked up there alone and
    WeChat gets a number we generate (another hospital's "TF001" neither collides nor shows through a 422).
    `bill_id` and `share_fen` refund a bill paid through another bill's payment (kinds.payer): at most its share of
    that payment's self-pay, less what was refunded of it before.
    """
    instant = instant or now()
    lock_row(Payment, payment_id)
    payment = db.session.get(Payment, payment_id, populate_existing=True)
    hospital_id = db.session.scalar(select(Bill.hospital_id).where(Bill.id == payment.bill_id))
    if hospital_refund_no is not None:
        existing = db.session.scalars(select(Refund).filter_by(
            hospital_id=hospital_id, source_refund_no=hospital_refund_no)).first()
        out_refund_no = new_out_trade_no(instant, prefix="R")
    else:
        existing = db.session.scalars(select(Refund).filter_by(out_refund_no=out_refund_no)).first()
    if existing is not None:
        if (existing.payment_id, existing.amount_fen, existing.bill_id) != (payment_id, amount_fen, bill_id):
            raise Invalid("退款单号已用于其他退款", code="out_refund_no_reused")
        return existing
    if amount_fen <= 0:
        raise Invalid("退款金额必须大于0", code="invalid_refund_amount")
    if payment.status == "paid" and payment.refund_count >= 50:
        raise Conflict("该订单退款次数已达上限（50次）", code="refund_limit_reached")
    if amount_fen > payment.refundable_fen(instant) or (bill_id and amount_fen > _share_left(bill_id, share_fen)):
        raise Conflict("退款金额超过可退金额", code="refund_exceeds_paid")
    if bill_id:  # its refunds are booked on it: its share of the payment is attributed to it first (once)
        ledger.self_pay_share(db.session.get(Bill, bill_id), payment, share_fen)
    refund = Refund(payment_id=payment.id, bill_id=bill_id, hospital_id=hospital_id,
                    source_refund_no=hospital_refund_no, out_refund_no=out_refund_no, amount_fen=amount_fen,
                    reason=reason)
    payment.refunded_fen += amount_fen
    payment.refund_count += 1
    db.session.add(refund)
    db.session.flush()
    return refund


def _share_left(bill_id, share_fen):
    """What may still be refunded of a bill's share of another bill's payment (reserved refunds count)."""
    taken = db.session.scalar(select(func.coalesce(func.sum(Refund.amount_fen), 0)).where(
        Refund.bill_id == bill_id, Refund.status != "failed"))
    return share_fen - int(taken)


def mark_result(out_refund_no, status, refund_id=None, instant=None):
    """Apply WeChat's verdict on a refund once: succeeded → ledger and bill; failed → give the reservation back."""
    instant = instant or now()
    refund = db.session.scalars(select(Refund).filter_by(out_refund_no=out_refund_no)).first()
    if refund is None:
        raise NotificationRejected("退款单不存在", code="unknown_refund")
    lock_row(Payment, refund.payment_id)  # payment row serialises every change to its refunds
    db.session.refresh(refund)
    if refund.status != "processing" or status == "PROCESSING":
        return "duplicate" if refund.status != "processing" else "processing"
    payment = db.session.get(Payment, refund.payment_id, populate_existing=True)
    bill = db.session.get(Bill, refund.bill_id or payment.bill_id)
    if status == "SUCCESS":
        refund.status, refund.refund_id, refund.succeeded_at = "succeeded", refund_id, instant
        events.publish("refund.succeeded", bill=bill, refund=refund, instant=instant)
        if payment.overpaid:  # the bill itself is untouched: its own payment stands
            ledger.overpayment_refunded(bill, refund)
            db.session.flush()
            return "refunded"
        ledger.refunded(bill, refund)
        db.session.flush()
        if refund.bill_id and refund.bill_id != payment.bill_id:
            # Paid through a settlement: its share decides; the settlement's receipt and insurance claim cover
            # every bill of it, so neither is reversed here (the window does that).
            bill.status = ledger.derived_status(bill.id)
            events.publish("bill.refunded", bill=bill, refund=refund, instant=instant)
            db.session.flush()
            return "refunded"
        done_fen = db.session.scalar(select(func.sum(Refund.amount_fen)).where(
            Refund.payment_id == payment.id, Refund.status == "succeeded"))
        bill.status = "refunded" if done_fen >= payment.amount_fen else "partially_refunded"
        if bill.status == "refunded":
            invoices.reverse(bill, instant)  # 冲红: the receipt no longer stands
            _reverse_insurance(bill, payment, instant)
        events.publish("bill.refunded", bill=bill, refund=refund, instant=instant)
        db.session.flush()
        return "refunded"
    refund.status = "failed"  # ABNORMAL (card closed…) or CLOSED: nothing left the account
    payment.refunded_fen -= refund.amount_fen
    payment.refund_count -= 1
    db.session.flush()
    return "refund_failed"


def _reverse_insurance(bill, payment, instant):
    """A bill refunded in full gives the fund and the personal account their parts back (ledger and the
    insured person's year), through the insurance platform's refund call."""
    claim = presettlement.claim_of(bill, payment, instant)
    if claim is not None and ledger.insurance_reversed(bill, payment):
        presettlement.adapter().refund(claim)


def apply_refund_notice(settings, resource):
    """A REFUND.* notification's decrypted resource."""
    if resource.get("mchid") != settings.mchid:
        raise NotificationRejected("商户号不匹配", code="mchid_mismatch")
    return mark_result(resource.get("out_refund_no"), resource.get("refund_status"), resource.get("refund_id"))
