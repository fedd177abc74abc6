"""Settlements: all open credit bills of a patient at one hospital, priced together and paid once.

A settlement owns a bill of kind credit_settlement (registered here with billing.kinds), so it is paid through
billing's own machinery: a JSAPI order, a 委托代扣 deduction, or the hospital's window. Ledger, per settlement:
- created:   credit_consolidate — the covered bills' resident debt moves onto the settlement bill (Σ = 0)
- paid:      billing's payment on the settlement bill, then per covered bill a "payment" moving its receivable onto
             the settlement bill, so each covered bill is paid in the ledger and the settlement bill nets like any
             paid bill (receivable −T, clearing + fund + personal account = T)
- cancelled: billing's close of the settlement bill, then credit_reopen giving the covered bills their debt back
"""
from types import SimpleNamespace

import sqlalchemy as sa

from ..accounts.models import Patient
from ..accounts.notices import tell_accounts
from ..billing import kinds, ledger, payments
from ..billing.models import Bill, BillItem, Payment
from ..billing.presettlement import presettle
from ..billing.services import close_unpaid_bill
from ..common import audit
from ..common.clock import now
from ..common.locking import lock_row
from ..errors import Conflict
from ..extensions import db
from ..integration.webhooks import notify_hospital
from .models import UNPAID, CreditBill, CreditBlock, CreditContract, CreditSettlement

SETTLEMENT = "credit_settlement"
NOTHING = "没有待结算的费用"


def settlement_of_bill(bill):
    """The settlement whose bill this is."""
    return db.session.scalars(sa.select(CreditSettlement).filter_by(bill_id=bill.id)).one()


def unpaid_settlement(patient_id, hospital_id):
    """The oldest settlement of the patient at the hospital still waiting for its money, or None."""
    return db.session.scalars(sa.select(CreditSettlement).where(
        CreditSettlement.patient_id == patient_id, CreditSettlement.hospital_id == hospital_id,
        CreditSettlement.status.in_(UNPAID)).order_by(CreditSettlement.created_at)).first()


def open_payment(bill_id, instant):
    """A WeChat order of the bill that may still be paid (the resident has the wallet open), or None."""
    return db.session.scalars(sa.select(Payment).where(
        Payment.bill_id == bill_id, Payment.status == "created", Payment.expires_at > instant)).first()


def active_contract(patient_id):
    """The patient's signed 委托代扣 contract, or None."""
    return db.session.scalars(sa.select(CreditContract).filter_by(patient_id=patient_id, status="active")).first()


def open_bills(patient_id, hospital_id, before=None):
    """Credit rows of the patient's open bills at the hospital (issued before `before`, if given), oldest first."""
    query = sa.select(CreditBill).where(CreditBill.patient_id == patient_id, CreditBill.hospital_id == hospital_id,
                                        CreditBill.status == "open")
    if before is not None:
        query = query.where(CreditBill.created_at < before)
    return db.session.scalars(query.order_by(CreditBill.created_at, CreditBill.bill_id)).all()


def open_settlement(patient_id, hospital_id, instant=None, trigger="resident", before=None):
    """The settlement to pay now: a new one over every open bill, or the one already waiting; None when nothing is
    owed. A waiting settlement nobody is paying yet is replaced, so bills added since are settled with it."""
    instant = instant or now()
    lock_row(Patient, patient_id, keep_keys=True)  # one patient's settlements are made one at a time
    waiting = unpaid_settlement(patient_id, hospital_id)
    rows = open_bills(patient_id, hospital_id, before)
    if waiting is not None:
        lock_row(Bill, waiting.bill_id)
        lock_row(CreditSettlement, waiting.id)
        db.session.refresh(waiting)
        if waiting.status in UNPAID and (not rows or waiting.status == "deducting"
                                         or open_payment(waiting.bill_id, instant)):
            return waiting
        if waiting.status in UNPAID:
            cancel(waiting.id, "replaced by a settlement with later bills", instant)
            rows = open_bills(patient_id, hospital_id, before)
    if not rows:
        return None
    return _create(patient_id, hospital_id, rows, instant, trigger)


def _create(patient_id, hospital_id, rows, instant, trigger):
    bills = [db.session.get(Bill, row.bill_id) for row in rows]
    split = price(patient_id, hospital_id, bills)
    total = sum(bill.total_fen for bill in bills)
    carrier = Bill(patient_id=patient_id, hospital_id=hospital_id, kind=SETTLEMENT, total_fen=total,
                   insurance_type=split["insurance_type"], department="先诊疗后付费结算",
                   items=[BillItem(code=i.code, name=i.name, category=i.category, quantity=i.quantity,
                                   unit_price_fen=i.unit_price_fen, amount_fen=i.amount_fen,
                                   insurance_class=i.insurance_class) for bill in bills for i in bill.items])
    db.session.add(carrier)
    db.session.flush()
    contract = active_contract(patient_id)
    settlement = CreditSettlement(
        patient_id=patient_id, hospital_id=hospital_id, bill_id=carrier.id, status="pending", trigger=trigger,
        bill_count=len(bills), total_fen=total, insurance_fund_fen=split["insurance_fund_fen"],
        personal_account_fen=split["personal_account_fen"], self_pay_fen=split["self_pay_fen"],
        deductible_fen=split["deductible_fen"], created_at=instant, due_at=instant,
        next_deduction_at=instant if contract and split["self_pay_fen"] else None)
    db.session.add(settlement)
    db.session.flush()
    ledger.post("credit_consolidate", settlement.id, carrier.id, {"resident": total},
                elsewhere=[(bill.id, "resident", -bill.total_fen) for bill in bills])
    for row in rows:
        row.status, row.settlement_id = "settling", settlement.id
    db.session.flush()
    if split["self_pay_fen"] == 0:  # insurance pays it all: settled here and now
        payments.start(carrier, "insurance", instant)
    elif contract is None:
        tell_accounts(patient_id, "credit.settlement_due", _facts(settlement))
    return settlement


def price(patient_id, hospital_id, bills):
    """Pre-settle the covered bills together (one deductible, one cap): the bills of the insured scheme as one
    claim, the rest self-paid; the parts are summed."""
    schemes = sorted({bill.insurance_type for bill in bills} - {"self_pay"})
    scheme = schemes[0] if schemes else "self_pay"  # a second scheme for one person at one hospital is a data error
    groups = {}
    for bill in bills:
        groups.setdefault(scheme if bill.insurance_type == scheme else "self_pay", []).append(bill)
    found = {"insurance_type": scheme, "insurance_fund_fen": 0, "personal_account_fen": 0, "self_pay_fen": 0,
             "deductible_fen": 0}
    for insurance_type, group in groups.items():
        split = presettle(SimpleNamespace(kind="outpatient", hospital_id=hospital_id, patient_id=patient_id,
                                          insurance_type=insurance_type, items=[i for b in group for i in b.items]))
        found["insurance_fund_fen"] += split.insurance_fund_fen
        found["personal_account_fen"] += split.personal_account_fen
        found["self_pay_fen"] += split.self_pay_fen
        found["deductible_fen"] += split.deductible_applied_fen
    return found


def cancel(settlement_id, reason, instant=None):
    """Undo a settlement not yet paid: its bill is closed, its bills open again (money arriving later for it is
    refunded by billing). Returns False when it was already paid or cancelled."""
    instant = instant or now()
    settlement = db.session.get(CreditSettlement, settlement_id)
    lock_row(Bill, settlement.bill_id)
    lock_row(CreditSettlement, settlement.id)
    db.session.refresh(settlement)
    if settlement.status not in UNPAID:
        return False
    settlement.status, settlement.cancelled_at, settlement.next_deduction_at = "cancelled", instant, None
    db.session.flush()
    close_unpaid_bill(settlement.bill_id)
    rows = db.session.scalars(sa.select(CreditBill).filter_by(settlement_id=settlement.id, status="settling")).all()
    ledger.post("credit_reopen", settlement.id, settlement.bill_id, {"hospital_receivable": -settlement.total_fen},
                elsewhere=[(row.bill_id, "resident", row.amount_fen) for row in rows])
    for row in rows:
        row.status, row.settlement_id = "open", None
    db.session.flush()
    return True


def settle_at_counter(staff, patient_id, instant=None):
    """收费窗口: the cashier takes the money (cash or card) and marks the settlement paid, method counter."""
    instant = instant or now()
    settlement = open_settlement(patient_id, staff.hospital_id, instant, "counter")
    if settlement is None:
        raise Conflict(NOTHING, code="credit_nothing_to_settle")
    lock_row(Bill, settlement.bill_id)
    lock_row(CreditSettlement, settlement.id)
    db.session.refresh(settlement)
    if settlement.status == "deducting":
        raise Conflict("正在通过微信自动扣款，请稍候再试", code="credit_deduction_in_progress")
    if settlement.status == "pending":
        settlement.settled_by = staff.id
        payments.record_counter_payment(db.session.get(Bill, settlement.bill_id), instant)
    audit.record("staff", staff.id, "credit.settle_counter", patient_id=patient_id, resource=settlement.id,
                 total_fen=settlement.total_fen, self_pay_fen=settlement.self_pay_fen)
    return settlement


def _facts(settlement):
    """What a message about a settlement says (ids and amounts; the channel renders them)."""
    return {"settlement_id": settlement.id, "bill_id": settlement.bill_id, "hospital_id": settlement.hospital_id,
            "total_fen": settlement.total_fen, "self_pay_fen": settlement.self_pay_fen,
            "due_at": settlement.due_at.isoformat()}


# -- the settlement bill's kind: how billing pays it ------------------------------------------------------------
def _kind_split(bill):
    """The figures fixed when the settlement was made: self-pay through the payment, the rest by insurance."""
    s = settlement_of_bill(bill)
    return {"amount_fen": s.self_pay_fen, "insurance_fund_fen": s.insurance_fund_fen,
            "personal_account_fen": s.personal_account_fen, "deductible_fen": s.deductible_fen}


def _pay_until(bill, instant):
    """A new order only while nothing else is taking the money: 409 credit_deduction_in_progress during a
    deduction (serialised on the settlement's row, so a tap and the deduction job never both charge)."""
    s = settlement_of_bill(bill)
    lock_row(CreditSettlement, s.id)
    db.session.refresh(s)
    if s.status == "deducting":
        raise Conflict("正在通过微信自动扣款，请稍候查看结果", code="credit_deduction_in_progress")
    if s.status != "pending":
        raise Conflict("该结算当前不能支付", code="bill_not_payable")
    return None


def _completed(bill, payment, instant):
    """The settlement bill is paid: every covered bill is paid in the ledger and at HIS, an overdue suspension it
    caused is lifted, the family is told."""
    s = settlement_of_bill(bill)
    lock_row(CreditSettlement, s.id)
    db.session.refresh(s)
    s.status, s.method, s.paid_at, s.next_deduction_at = "paid", payment.method, instant, None
    rows = db.session.scalars(sa.select(CreditBill).filter_by(settlement_id=s.id, status="settling")).all()
    for row in rows:
        covered = db.session.get(Bill, row.bill_id)
        ledger.post("payment", f"{payment.id}/{covered.id}", covered.id, {"hospital_receivable": covered.total_fen},
                    elsewhere=[(bill.id, "hospital_receivable", -covered.total_fen)])
        row.status = "settled"
        covered.status, covered.paid_at = "paid", instant
        notify_hospital(covered.hospital_id, "bill.paid", {
            "bill_id": covered.id, "order_no": covered.order_no, "out_trade_no": payment.out_trade_no,
            "amount_fen": covered.total_fen, "kind": covered.kind, "credit_settlement_id": s.id})
    for block in db.session.scalars(sa.select(CreditBlock).filter_by(settlement_id=s.id, status="active")):
        block.status, block.lifted_at, block.lifted_by = "lifted", instant, "system"
    tell_accounts(s.patient_id, "credit.settled", {**_facts(s), "amount_fen": payment.amount_fen,
                                                   "method": payment.method, "paid_at": instant.isoformat()})
    db.session.flush()


kinds.register(SETTLEMENT, description="泰安健康-先诊疗后付费结算", split=_kind_split, pay_until=_pay_until,
               on_paid=_completed, paid_message=False)
