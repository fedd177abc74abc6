"""Worker jobs for money: find lost notifications by querying, close what expired, send refunds.

Each job leases rows in a short transaction, talks to WeChat with no transaction open, then applies
the answer through the same functions the notification endpoint uses, so every path changes state once.
"""
import logging
from datetime import timedelta

from sqlalchemy import select

from ..common.clock import now
from ..common.locking import lock_row
from ..extensions import db
from .gateway import pay_gateway
from .models import Bill, Payment, Refund
from .payments import QUERY_SCHEDULE, NotificationRejected, apply_transaction
from .refunds import mark_result
from .wechatpay import PayError

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)
NOT_FOUND = ("ORDER_NOT_EXIST", "RESOURCE_NOT_EXISTS", "ORDERNOTEXIST")


def _lease(query, column, instant, batch):
    """Take due rows for a minute (SKIP LOCKED, so several workers share the work) and commit."""
    rows = db.session.scalars(query.where(column <= instant).order_by(column).limit(batch)
                              .with_for_update(skip_locked=True)).all()
    ids = [row.id for row in rows]
    for row in rows:
        setattr(row, column.key, instant + LEASE)
    db.session.commit()
    return ids


def next_query_time(payment, instant):
    """The next point of the 5 s, 30 s, 1 m, 3 m, 5 m, 10 m, 30 m schedule, then every 30 minutes."""
    payment.query_attempts += 1
    if payment.query_attempts < len(QUERY_SCHEDULE):
        return payment.created_at + timedelta(seconds=QUERY_SCHEDULE[payment.query_attempts])
    return instant + timedelta(seconds=QUERY_SCHEDULE[-1])


def query_payments(instant=None, batch=100):
    """Settle unpaid orders by querying WeChat; close those past their time. Returns counts by outcome."""
    instant = instant or now()
    outcomes = {}
    due = select(Payment).where(Payment.status == "created", Payment.next_query_at.is_not(None))
    for payment_id in _lease(due, Payment.next_query_at, instant, batch):
        try:
            outcome = _settle_one(payment_id, instant)
            db.session.commit()
        except Exception:  # one order's trouble must not stop the others; it is retried after the lease
            db.session.rollback()
            log.exception("payment query failed for %s", payment_id)
            outcome = "error"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def _settle_one(payment_id, instant):
    payment = db.session.get(Payment, payment_id)
    out_trade_no, expired = payment.out_trade_no, instant >= payment.expires_at
    db.session.commit()  # nothing is held while WeChat answers
    settings, client = pay_gateway()
    try:
        transaction = client.query(out_trade_no)
    except PayError as exc:
        if exc.code not in NOT_FOUND:
            return _later(payment_id, instant, "query_failed")
        transaction = None  # the order never reached WeChat
    if transaction and transaction.get("trade_state") in ("SUCCESS", "REFUND"):
        try:
            return apply_transaction(settings, transaction, instant)
        except NotificationRejected as exc:
            log.error("query answer for %s refused: %s", out_trade_no, exc.code)
            return _later(payment_id, instant, "mismatch")
    if not expired:
        return _later(payment_id, instant, "not_paid")
    if transaction is not None:
        try:
            client.close(out_trade_no)
        except PayError as exc:
            log.warning("closing %s failed: %s", out_trade_no, exc.code)
            return _later(payment_id, instant, "close_failed")
    return _close(payment_id, instant)


def _later(payment_id, instant, outcome):
    payment = db.session.get(Payment, payment_id)
    payment.next_query_at = next_query_time(payment, instant)
    return outcome


def close_order(payment_id, instant):
    """The order is closed at WeChat (or failed there, like a refused deduction): close ours, and reopen the bill
    if nothing else is paying it; returns "closed" or "already_<status>"."""
    return _close(payment_id, instant)


def _close(payment_id, instant):
    """The order is closed at WeChat: close ours, and reopen the bill if nothing else is paying it."""
    lock_row(Payment, payment_id)
    payment = db.session.get(Payment, payment_id, populate_existing=True)
    if not payment.mark_closed(instant):
        return "already_" + payment.status
    open_left = db.session.scalars(select(Payment.id).where(Payment.bill_id == payment.bill_id,
                                                            Payment.status == "created")).first()
    bill = db.session.get(Bill, payment.bill_id)
    if bill.status == "paying" and open_left is None:
        bill.status = "unpaid"
    return "closed"


def submit_refunds(instant=None, batch=50):
    """Send reserved refunds to WeChat (idempotent by out_refund_no) and apply immediate answers."""
    instant = instant or now()
    results = {}
    pending = select(Refund).where(Refund.status == "processing")
    for refund_id in _lease(pending, Refund.next_attempt_at, instant, batch):
        refund = db.session.get(Refund, refund_id)
        payment = db.session.get(Payment, refund.payment_id)
        args = (payment.out_trade_no, refund.out_refund_no, refund.amount_fen, payment.amount_fen, refund.reason or "")
        db.session.commit()
        _settings, client = pay_gateway()
        try:
            answer = client.refund(*args) if not refund.refund_id else client.query_refund(args[1])
            outcome = mark_result(args[1], answer.get("status") or answer.get("refund_status"),
                                  answer.get("refund_id"), instant)
            if outcome == "processing":
                db.session.get(Refund, refund_id).refund_id = answer.get("refund_id")
        except PayError as exc:
            outcome = "error:" + exc.code
        db.session.commit()
        results[outcome] = results.get(outcome, 0) + 1
    return results
