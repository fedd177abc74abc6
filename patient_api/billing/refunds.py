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
from . import invoices, ledger
from .models import Bill, Payment, Refund
from .payments import NotificationRejected


def request_refund(payment_id, amount_fen, out_refund_no, reason, instant=None):
    """Reserve a refund once per out_refund_no; 409 beyond what is refundable (365 days, 50 refunds)."""
    instant = instant or now()
    lock_row(Payment, payment_id)
    payment = db.session.get(Payment, payment_id, populate_existing=True)
    existing = db.session.scalars(select(Refund).filter_by(out_refund_no=out_refund_no)).first()
    if existing is not None:
        if (existing.payment_id, existing.amount_fen) != (payment_id, amount_fen):
            raise Invalid("退款单号已用于其他退款", code="out_refund_no_reused")
        return existing
    if amount_fen <= 0:
        raise Invalid("退款金额必须大于0", code="invalid_refund_amount")
    if payment.status == "paid" and payment.refund_count >= 50:
        raise Conflict("该订单退款次数已达上限（50次）", code="refund_limit_reached")
    if amount_fen > payment.refundable_fen(instant):
        raise Conflict("退款金额超过可退金额", code="refund_exceeds_paid")
    refund = Refund(payment_id=payment.id, out_refund_no=out_refund_no, amount_fen=amount_fen, reason=reason)
    payment.refunded_fen += amount_fen
    payment.refund_count += 1
    db.session.add(refund)
    db.session.flush()
    return refund


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
    bill = db.session.get(Bill, payment.bill_id)
    if status == "SUCCESS":
        refund.status, refund.refund_id, refund.succeeded_at = "succeeded", refund_id, instant
        events.publish("refund.succeeded", bill=bill, refund=refund, instant=instant)
        if payment.overpaid:  # the bill itself is untouched: its own payment stands
            ledger.overpayment_refunded(bill, refund)
            db.session.flush()
            return "refunded"
        ledger.refunded(bill, refund)
        db.session.flush()
        done_fen = db.session.scalar(select(func.sum(Refund.amount_fen)).where(
            Refund.payment_id == payment.id, Refund.status == "succeeded"))
        bill.status = "refunded" if done_fen >= payment.amount_fen else "partially_refunded"
        if bill.status == "refunded":
            invoices.reverse(bill, instant)  # 冲红: the receipt no longer stands
        events.publish("bill.refunded", bill=bill, refund=refund, instant=instant)
        db.session.flush()
        return "refunded"
    refund.status = "failed"  # ABNORMAL (card closed…) or CLOSED: nothing left the account
    payment.refunded_fen -= refund.amount_fen
    payment.refund_count -= 1
    db.session.flush()
    return "refund_failed"


def apply_refund_notice(settings, resource):
    """A REFUND.* notification's decrypted resource."""
    if resource.get("mchid") != settings.mchid:
        raise NotificationRejected("商户号不匹配", code="mchid_mismatch")
    return mark_result(resource.get("out_refund_no"), resource.get("refund_status"), resource.get("refund_id"))
