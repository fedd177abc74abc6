"""Money back after a home visit was paid (an upheld complaint, a fee waived): the hospital's dispatcher or admin
refunds the paid bill of an order, in full or in part, with a reason the family reads. Billing's refund path does
the rest (the worker sends it to WeChat; refund.done tells the family once the money is on its way back)."""
import sqlalchemy as sa

from ..billing.models import Bill, Payment, Refund
from ..billing.payments import new_out_trade_no
from ..billing.refunds import request_refund
from ..common.clock import now
from ..errors import Conflict
from ..extensions import db
from .access import audited, locked


def refund(staff, order, amount_fen, reason, instant=None):
    """Reserve a refund of the order's paid bill (its visit, or a late cancellation's fee); returns the Refund.
    409 homecare_not_paid while nothing was paid; 409 refund_exceeds_paid beyond what is left."""
    instant = instant or now()
    order = locked(order)
    bill = order.bill_id and db.session.get(Bill, order.bill_id)
    payment = bill and db.session.scalars(sa.select(Payment).filter_by(
        bill_id=bill.id, status="paid", overpaid=False)).first()
    if payment is None or bill.status not in ("paid", "partially_refunded", "refunded"):
        raise Conflict("该订单尚未缴费，没有可退的款项", code="homecare_not_paid")
    row = request_refund(payment.id, amount_fen, new_out_trade_no(instant, prefix="RHC"), reason, instant)
    audited(staff, "homecare.refund", order, refund_id=row.id, bill_id=bill.id, amount_fen=amount_fen, reason=reason)
    return row


def of_order(order):
    """The refunds of the order's bill, oldest first."""
    if order.bill_id is None:
        return []
    return db.session.scalars(sa.select(Refund).join(Payment, Payment.id == Refund.payment_id).where(
        Payment.bill_id == order.bill_id, Payment.overpaid.is_(False)).order_by(Refund.created_at, Refund.id)).all()
