"""HIS refunds of a bill paid through a settlement: billing asks (kinds.payer) which payment paid it and how much of
that payment's self-pay was the bill's own; billing then refunds it like any bill. A settlement taken at the window
never went through WeChat Pay: its bills are refunded at the window (409 credit_refund_at_counter)."""
import sqlalchemy as sa

from ..billing import kinds
from ..billing.models import Payment
from ..errors import Conflict
from ..extensions import db
from .models import CreditBill, CreditSettlement

AT_COUNTER = "该账单已在医院收费窗口结算（先诊疗后付费），请在收费窗口办理退费"


@kinds.paid_through
def settlement_payment(bill):
    """{"payment_id", "share_fen"} for a bill paid with its settlement; None for any other bill."""
    row = db.session.get(CreditBill, bill.id)
    if row is None or row.status != "settled":
        return None
    settlement = db.session.get(CreditSettlement, row.settlement_id)
    if settlement.method == "counter":
        raise Conflict(AT_COUNTER, code="credit_refund_at_counter")
    payment_id = db.session.scalar(sa.select(Payment.id).where(
        Payment.bill_id == settlement.bill_id, Payment.status == "paid", Payment.overpaid.is_(False)))
    if payment_id is None:
        return None
    return {"payment_id": payment_id, "share_fen": shares(settlement)[bill.id]}


def shares(settlement):
    """{bill id: fen}: the settlement's self-pay split over its bills in proportion to their totals, the fen left
    over by rounding down given to the largest remainders (ties: the older bill), so the shares add up exactly."""
    rows = db.session.execute(sa.select(CreditBill.bill_id, CreditBill.amount_fen).where(
        CreditBill.settlement_id == settlement.id).order_by(CreditBill.created_at, CreditBill.bill_id)).all()
    total = sum(amount for _, amount in rows)
    if not total:
        return {bill_id: 0 for bill_id, _ in rows}
    exact = [(bill_id, settlement.self_pay_fen * amount) for bill_id, amount in rows]
    found = {bill_id: product // total for bill_id, product in exact}
    left = settlement.self_pay_fen - sum(found.values())
    by_remainder = sorted(range(len(exact)), key=lambda i: -(exact[i][1] % total))  # stable: older first on ties
    for i in by_remainder[:left]:
        found[exact[i][0]] += 1
    return found
