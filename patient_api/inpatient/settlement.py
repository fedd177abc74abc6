"""Discharge review (出院审核) and bedside settlement (床旁结算).

Settlement, under the admission's row lock: close deposits still being paid (money that arrives for
them later is refunded in full), price the charges through the insurance split, pay the self-pay
part from the deposits oldest first, then either ask the family for the balance or refund the
surplus to the deposits' own payments, newest first. Deposit money consumed and the balance
payment are posted as one ledger transaction, so per admission
    deposits − self-pay − refunds + balance payments = 0.
"""
import json

import sqlalchemy as sa

from ..accounts.notices import tell_accounts
from ..billing import invoices, kinds, ledger, payments
from ..billing.ledger import LedgerEntry, LedgerTransaction
from ..billing.models import Bill, BillItem, Refund
from ..billing.refunds import request_refund
from ..billing.services import close_unpaid_bill
from ..common.clock import now
from ..common.locking import lock_row
from ..errors import Conflict
from ..extensions import db
from ..integration.webhooks import notify_hospital
from .access import audited, require_right
from .models import Admission, Settlement
from .money import DEPOSIT, deposit_payments, insurance_split, settlement_items

SETTLEMENT = "inpatient_settlement"


def review(staff, admission, instant=None):
    """出院审核: needs the discharge order and every order complete (409 orders_pending); repeats are no-ops."""
    require_right(staff, "review")
    lock_row(Admission, admission.id)
    db.session.refresh(admission)
    if admission.status in ("reviewed", "awaiting_payment", "settled"):
        return admission
    if admission.orders_pending:
        raise Conflict("仍有未完成的医嘱，不能出院审核", code="orders_pending")
    if admission.status != "discharge_ordered":
        raise Conflict("尚未开具出院医嘱", code="discharge_not_ordered")
    admission.status, admission.reviewed_at, admission.reviewed_by = "reviewed", instant or now(), staff.id
    audited(staff, "admission.review", admission)
    return admission


def preview(admission):
    """What settling now would give, without settling: the split and the deposits against it."""
    split = insurance_split(admission, settlement_items(admission.id))
    held = sum(p.amount_fen - p.refunded_fen for p in deposit_payments(admission.id))
    return _figures(split, held)


def _figures(split, held):
    applied = min(split.self_pay_fen, held)
    return {"total_fen": split.total_fen, "insurance_fund_fen": split.insurance_fund_fen,
            "personal_account_fen": split.personal_account_fen,
            "insurance_fen": split.insurance_fund_fen + split.personal_account_fen,
            "self_pay_fen": split.self_pay_fen, "deposits_fen": held, "deposit_applied_fen": applied,
            "balance_due_fen": split.self_pay_fen - applied, "refund_fen": held - applied}


def settle(staff, admission, instant=None):
    """Settle once (a second call returns the first settlement); 409 not_reviewed before 出院审核."""
    require_right(staff, "settle")
    instant = instant or now()
    lock_row(Admission, admission.id)
    db.session.refresh(admission)
    existing = settlement_of(admission.id)
    if existing is not None:
        return existing
    if admission.status != "reviewed":
        raise Conflict("请先完成出院审核", code="not_reviewed")
    for bill_id in db.session.scalars(sa.select(Bill.id).where(
            Bill.admission_id == admission.id, Bill.kind == DEPOSIT, Bill.status.in_(("unpaid", "paying")))).all():
        close_unpaid_bill(bill_id)  # waits for a notification applying right now, then sees it paid
    deposits = deposit_payments(admission.id)
    items = settlement_items(admission.id)
    split = insurance_split(admission, items)
    figures = _figures(split, sum(p.amount_fen - p.refunded_fen for p in deposits))
    bill = _settlement_bill(admission, items, split.total_fen)
    applied, refunds = _allocate(deposits, figures["deposit_applied_fen"], instant)
    due = figures["balance_due_fen"] > 0
    settlement = Settlement(
        admission_id=admission.id, bill_id=bill.id, status="awaiting_payment" if due else "settled",
        settled_by=staff.id, applied_json=json.dumps(applied), refund_ids_json=json.dumps([r.id for r in refunds]),
        **{k: figures[k] for k in ("total_fen", "insurance_fund_fen", "personal_account_fen", "self_pay_fen",
                                   "deposits_fen", "deposit_applied_fen", "balance_due_fen", "refund_fen")})
    db.session.add(settlement)
    admission.status = "awaiting_payment" if due else "settled"
    db.session.flush()
    audited(staff, "admission.settle", admission, settlement=settlement.id, balance_due_fen=settlement.balance_due_fen,
            refund_fen=settlement.refund_fen)
    if due:
        _tell_family(admission, "inpatient.balance_due", settlement)
    else:  # deposits and insurance cover everything: the settlement bill is paid here and now
        payments.start(bill, "deposit", instant)
    return settlement


def _settlement_bill(admission, items, total_fen):
    bill = Bill(patient_id=admission.patient_id, hospital_id=admission.hospital_id, kind=SETTLEMENT,
                total_fen=total_fen, admission_id=admission.id, insurance_type=admission.insurance_type,
                department=admission.department,
                items=[BillItem(code=i.code, name=i.name, category=i.category, quantity=i.quantity,
                                unit_price_fen=i.unit_price_fen, amount_fen=i.amount_fen,
                                insurance_class=i.insurance_class) for i in items])
    db.session.add(bill)
    db.session.flush()
    ledger.issue(bill)
    return bill


def _allocate(deposits, to_apply, instant):
    """Consume deposits oldest first; refund what is left of each to its own payment."""
    applied, refunds = [], []
    for payment in deposits:
        held = payment.amount_fen - payment.refunded_fen
        take = min(held, to_apply)
        to_apply -= take
        if take:
            applied.append([payment.bill_id, take])
        if held - take:
            refunds.append(request_refund(payment.id, held - take, "DS" + payment.out_trade_no,
                                          "出院结算退还预交金", instant))
    return applied, refunds


def settlement_of(admission_id):
    """The admission's settlement, or None."""
    return db.session.scalars(sa.select(Settlement).filter_by(admission_id=admission_id)).first()


def _settlement_of_bill(bill):
    return db.session.scalars(sa.select(Settlement).filter_by(bill_id=bill.id)).one()


def _split(bill):
    """The settlement bill's payment: insurance as settled, deposits applied, the balance through WeChat."""
    s = _settlement_of_bill(bill)
    return {"amount_fen": s.balance_due_fen, "insurance_fund_fen": s.insurance_fund_fen,
            "personal_account_fen": s.personal_account_fen, "deposit_fen": s.deposit_applied_fen}


def _applied(bill):
    return [tuple(pair) for pair in json.loads(_settlement_of_bill(bill).applied_json)]


def _completed(bill, payment, instant):
    """The settlement bill is paid: the stay is settled and the family's phone is told."""
    settlement = _settlement_of_bill(bill)
    settlement.status, settlement.completed_at = "settled", instant
    admission = db.session.get(Admission, settlement.admission_id)
    admission.status, admission.settled_at = "settled", instant
    _tell_family(admission, "inpatient.settled", settlement)
    notify_hospital(admission.hospital_id, "admission.settled", {
        "admission_no": admission.admission_no, "bill_id": bill.id, "total_fen": settlement.total_fen,
        "insurance_fund_fen": settlement.insurance_fund_fen, "personal_account_fen": settlement.personal_account_fen,
        "self_pay_fen": settlement.self_pay_fen, "refund_fen": settlement.refund_fen})


kinds.register(SETTLEMENT, description="泰安健康-出院结算", split=_split, applied=_applied, on_paid=_completed,
               paid_message=False)


def _tell_family(admission, event, settlement):
    """A WeChat message to every account linked to the patient (sent by the channel worker)."""
    tell_accounts(admission.patient_id, event, {
        "admission_id": admission.id, "bill_id": settlement.bill_id, "balance_due_fen": settlement.balance_due_fen,
        "refund_fen": settlement.refund_fen})


def render(settlement):
    """The settlement as the API shows it, with its refunds and, once paid, the receipt."""
    refund_ids = json.loads(settlement.refund_ids_json)
    refunds = db.session.scalars(sa.select(Refund).where(Refund.id.in_(refund_ids)).order_by(Refund.created_at)).all()
    invoice = invoices.invoice_for_bill(settlement.bill_id)
    return {
        "id": settlement.id, "admission_id": settlement.admission_id, "status": settlement.status,
        "bill_id": settlement.bill_id, "total_fen": settlement.total_fen,
        "insurance_fen": settlement.insurance_fund_fen + settlement.personal_account_fen,
        "insurance_fund_fen": settlement.insurance_fund_fen, "personal_account_fen": settlement.personal_account_fen,
        "self_pay_fen": settlement.self_pay_fen, "deposits_fen": settlement.deposits_fen,
        "deposit_applied_fen": settlement.deposit_applied_fen, "balance_due_fen": settlement.balance_due_fen,
        "refund_fen": settlement.refund_fen, "created_at": settlement.created_at,
        "completed_at": settlement.completed_at,
        "refunds": [{"id": r.id, "payment_id": r.payment_id, "out_refund_no": r.out_refund_no,
                     "amount_fen": r.amount_fen, "status": r.status} for r in refunds],
        "invoice": invoices.render(invoice) if invoice else None,
    }


def identity(admission_id):
    """The money identity read from the ledger: deposits − self_pay − refunds + balance, and its gap (0 when whole)."""
    rows = db.session.execute(
        sa.select(Bill.kind, LedgerTransaction.kind, LedgerEntry.account, sa.func.sum(LedgerEntry.amount_fen))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .join(Bill, Bill.id == LedgerTransaction.bill_id)
        .where(Bill.admission_id == admission_id)
        .group_by(Bill.kind, LedgerTransaction.kind, LedgerEntry.account)).all()
    sums = {(bill_kind, txn, account): int(total) for bill_kind, txn, account, total in rows}
    deposits = sums.get((DEPOSIT, "payment", "wechat_clearing"), 0)
    refunds = -sums.get((DEPOSIT, "refund", "wechat_clearing"), 0)
    balance = sums.get((SETTLEMENT, "payment", "wechat_clearing"), 0)
    self_pay = -sum(sums.get((SETTLEMENT, "payment", account), 0)
                    for account in ("resident", "insurance_fund", "personal_account"))
    return {"deposits_fen": deposits, "self_pay_fen": self_pay, "refunds_fen": refunds, "balance_fen": balance,
            "gap_fen": deposits - self_pay - refunds + balance}
