"""Money of an admission: deposits held, charges so far, and what that leaves."""
from collections import defaultdict
from types import SimpleNamespace

import sqlalchemy as sa

from ..billing.models import Bill, Payment
from ..billing.presettlement import presettle
from ..extensions import db
from .models import Charge

DEPOSIT = "inpatient_deposit"


def deposit_payments(admission_id):
    """Paid deposit payments of the admission, oldest first (overpayments are not deposits: they go back)."""
    return db.session.scalars(
        sa.select(Payment).join(Bill, Bill.id == Payment.bill_id)
        .where(Bill.admission_id == admission_id, Bill.kind == DEPOSIT, Payment.status == "paid",
               Payment.overpaid.is_(False)).order_by(Payment.paid_at, Payment.id)).all()


def open_deposit_fen(admission_id):
    """Deposits whose payment is under way: they count against the cap until they are paid or lapse."""
    return db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Bill.total_fen), 0)).where(
        Bill.admission_id == admission_id, Bill.kind == DEPOSIT, Bill.status == "paying"))


def charges_total_fen(admission_id):
    """Everything charged so far."""
    return db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Charge.amount_fen), 0))
                             .where(Charge.admission_id == admission_id))


def summary(admission, settlement=None):
    """deposits paid in, still held, charges and what is available (negative = arrears, 欠费)."""
    payments = deposit_payments(admission.id)
    paid_in = sum(p.amount_fen for p in payments)
    held = paid_in - sum(p.refunded_fen for p in payments) - (settlement.deposit_applied_fen if settlement else 0)
    charges = charges_total_fen(admission.id)
    available = held - charges if settlement is None else held
    return {"deposits_fen": paid_in, "deposit_balance_fen": held, "charges_total_fen": charges,
            "available_fen": available}


def ward_totals(admission_ids):
    """{admission id: (deposits held, charges)} for a ward list in two queries."""
    held, charges = defaultdict(int), defaultdict(int)
    if not admission_ids:
        return {}
    rows = db.session.execute(
        sa.select(Bill.admission_id, sa.func.sum(Payment.amount_fen - Payment.refunded_fen))
        .join(Bill, Bill.id == Payment.bill_id)
        .where(Bill.admission_id.in_(admission_ids), Bill.kind == DEPOSIT, Payment.status == "paid",
               Payment.overpaid.is_(False)).group_by(Bill.admission_id))
    held.update({admission_id: int(total) for admission_id, total in rows})
    rows = db.session.execute(sa.select(Charge.admission_id, sa.func.sum(Charge.amount_fen))
                              .where(Charge.admission_id.in_(admission_ids)).group_by(Charge.admission_id))
    charges.update({admission_id: int(total) for admission_id, total in rows})
    return {admission_id: (held[admission_id], charges[admission_id]) for admission_id in admission_ids}


def settlement_items(admission_id):
    """Charges merged into bill lines (same code, name, price and class → one line), for the settlement bill."""
    rows = db.session.execute(
        sa.select(Charge.code, Charge.name, Charge.category, Charge.unit_price_fen, Charge.insurance_class,
                  sa.func.sum(Charge.quantity), sa.func.sum(Charge.amount_fen))
        .where(Charge.admission_id == admission_id)
        .group_by(Charge.code, Charge.name, Charge.category, Charge.unit_price_fen, Charge.insurance_class)
        .having(sa.func.sum(Charge.quantity) != 0)  # wholly reversed (冲销) items are not billed
        .order_by(Charge.category, Charge.code, Charge.unit_price_fen)).all()
    return [SimpleNamespace(code=code, name=name, category=category, unit_price_fen=price, insurance_class=klass,
                            quantity=int(quantity), amount_fen=int(amount))
            for code, name, category, price, klass, quantity, amount in rows]


def insurance_split(admission, items):
    """The insurance split of the admission's charges (the inpatient policy of its hospital)."""
    return presettle(SimpleNamespace(items=items, hospital_id=admission.hospital_id, patient_id=admission.patient_id,
                                     insurance_type=admission.insurance_type, kind="inpatient_settlement"))
