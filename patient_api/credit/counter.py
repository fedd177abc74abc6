"""窗口结算 before the money is taken: what settling now would cover and what the cashier collects, read without
writing anything (the same choice settlement.open_settlement makes: the waiting settlement, or a new one over
every open bill)."""
import sqlalchemy as sa

from ..billing.models import Bill
from ..common.clock import now
from ..errors import Conflict
from ..extensions import db
from . import settlement
from .models import CreditBill

FIGURES = ("total_fen", "insurance_fund_fen", "personal_account_fen", "self_pay_fen")


def presettle(patient_id, hospital_id, instant=None):
    """The figures of the settlement 窗口结算 would pay now; 409 credit_nothing_to_settle when nothing is owed."""
    instant = instant or now()
    waiting = settlement.unpaid_settlement(patient_id, hospital_id)
    rows = settlement.open_bills(patient_id, hospital_id)
    if waiting is not None and (not rows or waiting.status == "deducting"
                                or settlement.open_payment(waiting.bill_id, instant)):
        return {"settlement_id": waiting.id, "deducting": waiting.status == "deducting",
                "bill_ids": _covered(waiting.id), "bill_count": waiting.bill_count,
                **{name: getattr(waiting, name) for name in FIGURES}}
    if waiting is not None:  # replaced when settled: its bills are priced again with the later ones
        again = sa.and_(CreditBill.settlement_id == waiting.id, CreditBill.status == "settling")
        rows = db.session.scalars(sa.select(CreditBill).where(sa.or_(
            again, CreditBill.bill_id.in_([row.bill_id for row in rows])))
            .order_by(CreditBill.created_at, CreditBill.bill_id)).all()
    if not rows:
        raise Conflict(settlement.NOTHING, code="credit_nothing_to_settle")
    bills = [db.session.get(Bill, row.bill_id) for row in rows]
    split = settlement.price(patient_id, hospital_id, bills)  # the pricing a new settlement gets
    return {"settlement_id": None, "deducting": False, "bill_ids": [bill.id for bill in bills],
            "bill_count": len(bills), "total_fen": sum(bill.total_fen for bill in bills),
            **{name: split[name] for name in FIGURES[1:]}}


def _covered(settlement_id):
    return list(db.session.scalars(sa.select(CreditBill.bill_id).filter_by(settlement_id=settlement_id)
                                   .order_by(CreditBill.created_at)))
