"""无感支付: the worker (or the resident's tap) deducts a settlement under the patient's 委托代扣 contract.

Exactly once: an attempt starts under the settlement bill's and the settlement's row locks, only when the
settlement is pending and no other order of its bill is open; it gets its own out_trade_no (WeChat charges one
number at most once, so re-sending it after a crash or a lost answer is safe); the answer is applied by billing's
apply_transaction under the payment's lock, whether it comes by notification, by this module's query, or both.
A failed attempt (余额不足, contract gone) closes its order; after the configured retries the resident is asked.
"""
import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from ..accounts.notices import tell_accounts
from ..billing import jobs as billing_jobs
from ..billing import payments
from ..billing.gateway import pay_gateway, queue_sandbox_notification
from ..billing.models import Bill, Payment
from ..billing.payments import NotificationRejected, apply_transaction
from ..billing.wechatpay import PayError
from ..common.clock import now
from ..common.locking import lock_row
from ..errors import ApiError
from ..extensions import db
from .models import CreditSettlement
from .settlement import active_contract, open_payment

log = logging.getLogger(__name__)
FOLLOW_UP = timedelta(seconds=30)  # when the worker asks again about an attempt under way
LEASE = timedelta(seconds=60)
DESCRIPTION = "泰安健康-先诊疗后付费自动扣费"
FAILED_STATES = ("PAYERROR", "CLOSED", "REVOKED")
NOT_FOUND = ("ORDER_NOT_EXIST", "RESOURCE_NOT_EXISTS", "ORDERNOTEXIST")
FINAL_ERRORS = ("CONTRACT_NOT_EXIST", "CONTRACT_ERROR", "NOT_ENOUGH", "NOTENOUGH", "PARAM_ERROR", "INVALID_REQUEST",
                "OUT_TRADE_NO_USED")


def begin(settlement_id, instant=None):
    """Start one attempt (flushed, caller commits): {"out_trade_no", "amount_fen", "contract_id"}, or None when
    the settlement is not to be deducted now (paid, a deduction or a JSAPI order under way, no contract)."""
    instant = instant or now()
    settlement = db.session.get(CreditSettlement, settlement_id)
    lock_row(Bill, settlement.bill_id)  # the order billing takes too: bill, then settlement
    lock_row(CreditSettlement, settlement.id)
    db.session.refresh(settlement)
    contract = active_contract(settlement.patient_id)
    if settlement.status != "pending":
        return None
    if settlement.deduction_failed or contract is None:  # the resident pays: the worker stops looking
        settlement.next_deduction_at = None
        return None
    if open_payment(settlement.bill_id, instant) is not None:  # the resident is paying in the wallet right now
        return None
    payment = payments.start(db.session.get(Bill, settlement.bill_id), "wechat_papay", instant, queried=False)
    if payment.status == "paid":  # nothing to charge (insurance pays it all)
        return None
    settlement.status, settlement.deduction_payment_id = "deducting", payment.id
    settlement.deduction_attempts += 1
    settlement.next_deduction_at = instant + FOLLOW_UP
    db.session.flush()
    return {"out_trade_no": payment.out_trade_no, "amount_fen": payment.amount_fen,
            "contract_id": contract.contract_id}


def send(attempt):
    """Ask WeChat for the deduction (no transaction open); returns None, or a final PayError code."""
    settings, client = pay_gateway()
    try:
        client.pay_by_contract(attempt["out_trade_no"], DESCRIPTION, attempt["amount_fen"], attempt["contract_id"],
                               settings.notify_url)
    except PayError as exc:
        if exc.code in FINAL_ERRORS or (exc.status and 400 <= exc.status < 500 and not exc.retryable):
            return exc.code
        log.warning("deduction %s not sent: %s; asked again later", attempt["out_trade_no"], exc.code)
    return None


def follow(settlement_id, instant=None):
    """Find out what became of the attempt under way and apply it once; commits. Returns paid | failed | waiting
    | none."""
    instant = instant or now()
    settlement = db.session.get(CreditSettlement, settlement_id)
    payment = settlement.deduction_payment_id and db.session.get(Payment, settlement.deduction_payment_id)
    if settlement.status != "deducting" or payment is None:
        db.session.commit()
        return "none"
    payment_id, out_trade_no, amount, status = payment.id, payment.out_trade_no, payment.amount_fen, payment.status
    db.session.commit()  # nothing is held while WeChat answers
    if status == "paid":  # applied by a notification meanwhile
        return "paid"
    settings, client = pay_gateway()
    transaction = _query(client, out_trade_no)
    if transaction is None:  # never reached WeChat (a crash after begin): send the same number again, then ask
        contract = active_contract(settlement.patient_id)
        db.session.commit()
        code = send({"out_trade_no": out_trade_no, "amount_fen": amount, "contract_id": contract.contract_id}) \
            if contract else "CONTRACT_NOT_EXIST"
        if code:
            return fail(settlement_id, payment_id, code, instant)
        transaction = _query(client, out_trade_no)
    if transaction is False or transaction is None:
        return _later(settlement_id, instant)
    state = transaction.get("trade_state")
    if state in ("SUCCESS", "REFUND"):
        try:
            apply_transaction(settings, transaction, instant)
        except NotificationRejected as exc:
            db.session.rollback()
            log.error("deduction answer for %s refused: %s", out_trade_no, exc.code)
            return _later(settlement_id, instant)
        db.session.commit()
        if not settings.is_live:  # the sandbox also sends what WeChat would: a (duplicate) notification
            queue_sandbox_notification(settings, "TRANSACTION.SUCCESS",
                                       client.deduction_notification(out_trade_no, instant.timestamp()))
            db.session.commit()
        return "paid"
    if state in FAILED_STATES:
        return fail(settlement_id, payment_id, transaction.get("trade_state_desc") or state, instant)
    return _later(settlement_id, instant)


def _query(client, out_trade_no):
    """WeChat's transaction; None when WeChat has no such order, False when it could not be asked now."""
    try:
        return client.query(out_trade_no)
    except PayError as exc:
        return None if exc.code in NOT_FOUND else False


def _later(settlement_id, instant):
    settlement = db.session.get(CreditSettlement, settlement_id)
    settlement.next_deduction_at = instant + FOLLOW_UP
    db.session.commit()
    return "waiting"


def fail(settlement_id, payment_id, reason, instant=None):
    """An attempt failed for good: close its order, then retry later (backoff) or, retries used up, ask the
    resident to pay (credit.deduction_failed). Applied once, whoever notices first; commits."""
    instant = instant or now()
    if billing_jobs.close_order(payment_id, instant) == "already_paid":  # the money came after all
        db.session.commit()
        return "paid"
    settlement = db.session.get(CreditSettlement, settlement_id)
    lock_row(CreditSettlement, settlement.id)
    db.session.refresh(settlement)
    if settlement.status != "deducting" or settlement.deduction_payment_id != payment_id:
        db.session.commit()
        return "none"
    backoff = current_app.config["CREDIT_DEDUCTION_BACKOFF"]
    settlement.status, settlement.deduction_payment_id = "pending", None
    log.info("deduction for settlement %s failed (attempt %s): %s", settlement.id, settlement.deduction_attempts,
             reason)
    if settlement.deduction_attempts < len(backoff):
        settlement.next_deduction_at = instant + timedelta(seconds=backoff[settlement.deduction_attempts])
    else:
        settlement.next_deduction_at, settlement.deduction_failed = None, True
        tell_accounts(settlement.patient_id, "credit.deduction_failed", {
            "settlement_id": settlement.id, "bill_id": settlement.bill_id, "hospital_id": settlement.hospital_id,
            "self_pay_fen": settlement.self_pay_fen, "reason": str(reason or "")[:40]})
    db.session.commit()
    return "failed"


def attempt(settlement_id, instant=None):
    """One full attempt: begin (commit), send, follow. Returns paid | failed | waiting | skipped."""
    instant = instant or now()
    started = begin(settlement_id, instant)
    payment_id = db.session.get(CreditSettlement, settlement_id).deduction_payment_id
    db.session.commit()
    if started is None:
        return "skipped"
    code = send(started)
    if code:
        return fail(settlement_id, payment_id, code, instant)
    return follow(settlement_id, instant)


def run(instant=None, batch=50):
    """Worker job: start due attempts and follow those under way; returns counts by outcome."""
    instant = instant or now()
    due = db.session.scalars(sa.select(CreditSettlement).where(
        CreditSettlement.status.in_(("pending", "deducting")), CreditSettlement.next_deduction_at <= instant)
        .order_by(CreditSettlement.next_deduction_at).limit(batch).with_for_update(skip_locked=True)).all()
    leased = [(row.id, row.status) for row in due]
    for row in due:
        row.next_deduction_at = instant + LEASE
    db.session.commit()
    outcomes = {}
    for settlement_id, status in leased:
        try:
            outcome = attempt(settlement_id, instant) if status == "pending" else follow(settlement_id, instant)
        except ApiError as exc:  # e.g. the bill is no longer payable: nothing to deduct
            db.session.rollback()
            log.info("deduction for %s not started: %s", settlement_id, exc.code)
            outcome = "refused"
        except Exception:  # one settlement's trouble must not stop the others; the lease brings it back
            db.session.rollback()
            log.exception("deduction job failed for %s", settlement_id)
            outcome = "error"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes
