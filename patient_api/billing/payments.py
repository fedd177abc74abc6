"""Paying a bill through WeChat Pay: start an order, apply what WeChat reports, exactly once.

Outbound calls to WeChat happen in the routes and the worker between transactions; the functions
here only read and write the database (flush), so a crashed call can always be recovered by query.
"""
import base64
import logging
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, lazyload

from ..accounts.models import Account
from ..common import events
from ..common.clock import now, to_local
from ..common.locking import lock_row
from ..errors import ApiError, Conflict
from ..extensions import db
from . import invoices, kinds, ledger, presettlement, replays
from .gateway import pay_gateway
from .models import Bill, Payment, PaymentAlert, PaymentStateError
from .presettlement import presettle
from .services import bill_for
from .wechatpay import PayError, jsapi_pay_params

log = logging.getLogger(__name__)
ORDER_MINUTES = 30
# Seconds after creation at which an unpaid order is queried (a lost notification is found this way).
QUERY_SCHEDULE = (5, 30, 60, 180, 300, 600, 1800)


class NotificationRejected(ApiError):
    """A notification that is well-signed but does not match the order: answered 4xx, nothing changes."""

    status = 400


def new_out_trade_no(instant, prefix=""):
    """≤ 32 chars, unique: local time plus randomness (WeChat shows it on the resident's receipt). The random part is
    base32 (A–Z, 2–7: no "1"), so a number never contains what reads as an 11-digit mobile to a log or DLP scanner."""
    random = base64.b32encode(secrets.token_bytes(10)).decode()
    return prefix + to_local(instant).strftime("%Y%m%d%H%M%S") + random


def start(bill, method, instant=None, queried=True):
    """Create (or reuse) the open payment of a bill the caller may pay; returns it (flushed).

    `queried=False` leaves the order out of the worker's query schedule: its owner follows it itself (a 委托代扣
    deduction, whose failure needs a retry rather than a close).
    """
    instant = instant or now()
    lock_row(Bill, bill.id)  # one payment start per bill at a time
    db.session.refresh(bill)
    hold = kinds.held(bill)
    if hold is not None:  # e.g. a 先诊疗后付费 bill: paid with its settlement, never on its own
        raise Conflict(hold["message"], code=hold["code"])
    if not bill.payable:
        raise Conflict("该账单当前不能支付", code="bill_not_payable")
    expires_at = instant + timedelta(minutes=ORDER_MINUTES)
    until = kinds.of(bill.kind).pay_until(bill, instant)  # e.g. a registration fee: its hold's end
    if until is not None:
        expires_at = min(expires_at, until)
    reusable = db.session.scalars(select(Payment).where(
        Payment.bill_id == bill.id, Payment.status == "created", Payment.method == method,
        Payment.expires_at > instant + timedelta(minutes=1))).first()
    if reusable is not None:
        return reusable
    payment = Payment(bill_id=bill.id, out_trade_no=new_out_trade_no(instant), method=method, expires_at=expires_at,
                      next_query_at=instant + timedelta(seconds=QUERY_SCHEDULE[0]) if queried else None,
                      **_split(bill))
    db.session.add(payment)
    bill.status = "paying"
    db.session.flush()
    if payment.amount_fen == 0:  # insurance (or deposits) cover it all: nothing to charge through WeChat
        payment.mark_paid(None, None, instant)
        _settle_bill(payment, instant)
    return payment


def _split(bill):
    """Who pays what of the bill: the kind's own rule, else the insurance pre-settlement."""
    rule = kinds.of(bill.kind).split
    if rule is not None:
        return rule(bill)
    split = presettle(bill, for_order=True)
    return {"amount_fen": split.self_pay_fen, "insurance_fund_fen": split.insurance_fund_fen,
            "personal_account_fen": split.personal_account_fen, "deductible_fen": split.deductible_applied_fen}


def attach_order(payment_id, prepay_id=None, code_url=None):
    """Keep what WeChat returned for the order, so a re-tap reuses it."""
    payment = db.session.get(Payment, payment_id)
    payment.prepay_id, payment.code_url = prepay_id or payment.prepay_id, code_url or payment.code_url
    db.session.flush()
    return payment


def apply_transaction(settings, resource, instant=None):
    """Apply a WeChat transaction (from a notification or a query) once; returns what happened."""
    instant = instant or now()
    if resource.get("mchid") != settings.mchid:
        raise NotificationRejected("商户号不匹配", code="mchid_mismatch")
    if resource.get("appid") != settings.appid:
        raise NotificationRejected("AppID 不匹配", code="appid_mismatch")
    out_trade_no, transaction_id = resource.get("out_trade_no"), resource.get("transaction_id")
    amount_fen, success = (resource.get("amount") or {}).get("total"), resource.get("trade_state") == "SUCCESS"
    if already_applied(settings, resource):
        return "duplicate"  # paid by this very transaction and committed (paid is final): no database at all
    found = db.session.execute(select(Payment.id, Payment.status, Payment.transaction_id, Payment.amount_fen).where(
        Payment.out_trade_no == out_trade_no)).first()
    if found is None:
        raise NotificationRejected("订单不存在", code="unknown_order")
    if amount_fen != found.amount_fen:  # an order's amount never changes
        raise NotificationRejected("金额不匹配", code="amount_mismatch")
    if not success:
        return "not_paid"
    if found.status == "paid" and found.transaction_id == transaction_id:
        outcome = "duplicate"  # committed before this transaction began: no lock, no write
    else:
        outcome = _apply_locked(found.id, resource, instant)
    replays.remember(out_trade_no, transaction_id, amount_fen)
    return outcome


def already_applied(settings, resource):
    """True when Redis knows this merchant's order committed as paid by exactly this transaction and amount."""
    return (resource.get("mchid") == settings.mchid and resource.get("appid") == settings.appid
            and resource.get("trade_state") == "SUCCESS"
            and replays.applied(resource.get("out_trade_no"), resource.get("transaction_id"),
                                (resource.get("amount") or {}).get("total")))


def _apply_locked(payment_id, resource, instant):
    """Under the order's lock: paid now (and the bill settled), or found already paid by this transaction."""
    # Concurrent deliveries of this notification wait here, then find it paid. The bill comes in the same statement
    # (not locked: its lock is taken after the claim's, ticket before bill); settling it finds it in the session.
    payment = locked(Payment, payment_id, joinedload(Payment.bill, innerjoin=True))
    transaction_id = resource.get("transaction_id")
    try:
        fresh = payment.mark_paid(transaction_id, (resource.get("payer") or {}).get("openid"), instant)
    except PaymentStateError:
        _alert_second_transaction(payment, transaction_id, instant)
        raise NotificationRejected("该订单已由另一笔微信交易支付，已记录待对账", code="transaction_mismatch",
                                   status=409) from None
    if not fresh:
        return "duplicate"
    return _settle_bill(payment, instant)


def locked(model, row_id, *loads):
    """The row, locked until the transaction ends and freshly read: one round trip on PostgreSQL (FOR UPDATE).

    Its relationships (a bill's payments and their refunds, say) load when first used, not with the lock, except
    `loads` (joinedload options): those come in the same statement, read under the lock.
    """
    options = (lazyload("*"), *loads)
    if db.session.get_bind().dialect.name == "postgresql":
        query = select(model).where(model.id == row_id).with_for_update(of=model).options(*options)
        return db.session.scalars(query.execution_options(populate_existing=True)).unique().one()
    lock_row(model, row_id)  # SQLite: the database write lock
    return db.session.get(model, row_id, populate_existing=True, options=list(options))


def _alert_second_transaction(payment, transaction_id, instant):
    """Record (once) that WeChat reports a second transaction for a paid order; nothing else changes."""
    out_trade_no, first = payment.out_trade_no, payment.transaction_id
    db.session.rollback()  # drop the order's lock and anything this notification touched: the books stay as they were
    detail = f"订单已由交易 {first} 支付，微信又报告交易 {transaction_id}"[:200]
    try:
        with db.session.begin_nested():
            db.session.add(PaymentAlert(kind="transaction_mismatch", out_trade_no=out_trade_no,
                                        transaction_id=str(transaction_id)[:64], detail=detail, created_at=instant))
    except IntegrityError:  # WeChat repeats a notification up to 15 times: one alert is enough
        pass
    db.session.commit()
    log.error("order %s paid by %s, WeChat reports another transaction %s: alert recorded",
              out_trade_no, first, transaction_id)


def _settle_bill(payment, instant):
    """Money arrived: claim what the bill pays for (a registration books its ticket), then the bill and the ledger."""
    bill = db.session.get(Bill, payment.bill_id, options=[lazyload("*")])  # read with the order's lock when it can
    kind = kinds.of(bill.kind)
    kept = kind.claim(bill, instant)  # e.g. books the appointment (ticket locked before the bill)
    # A receipt copies the items and the payer's name: read with the lock, not as two more round trips later.
    bill = locked(Bill, bill.id, *((joinedload(Bill.items), joinedload(Bill.patient)) if kind.receipt else ()))
    if kept and bill.status in ("unpaid", "paying"):
        ledger.paid(bill, payment, kind.applied(bill))
        insured = presettlement.claim_of(bill, payment, instant)
        if insured is not None:  # the fund and the personal account pay their parts (the year's figures move)
            presettlement.adapter().settle(insured)
        bill.status, bill.paid_at = "paid", instant
        events.publish("bill.paid", bill=bill, payment=payment, instant=instant)
        kind.on_paid(bill, payment, instant)
        db.session.flush()
        if kind.receipt:  # last: the receipt number comes from a counter row that stays locked until commit
            invoices.issue(bill, payment, instant, bill_locked=True)
        return "paid"
    # Paid for something no longer there (hold lapsed and ticket taken, bill voided) or paid twice
    # (two open orders of one bill): the money is not the bill's; give it back.
    payment.overpaid = True
    ledger.overpaid(bill, payment)
    from .refunds import request_refund
    request_refund(payment.id, payment.amount_fen, "AUTO" + payment.out_trade_no, "订单已失效，自动退款", instant)
    return "paid_then_refund"


def record_counter_payment(bill, instant=None):
    """The hospital's cashier took the self-pay part at the window (cash or card, outside WeChat Pay): the bill is
    paid at once through the same path as a notification; the money is booked to counter_cash, not WeChat."""
    instant = instant or now()
    lock_row(Bill, bill.id)
    db.session.refresh(bill)
    if not bill.payable:
        raise Conflict("该账单当前不能支付", code="bill_not_payable")
    payment = Payment(bill_id=bill.id, out_trade_no=new_out_trade_no(instant, prefix="C"), method="counter",
                      expires_at=instant, next_query_at=None, **_split(bill))
    db.session.add(payment)
    db.session.flush()
    payment.mark_paid(None, None, instant)
    _settle_bill(payment, instant)
    return payment


def pay(account_id, bill_id, method):
    """A resident pays a bill of a linked patient."""
    openid = db.session.get(Account, account_id).openid
    return open_order(bill_for(account_id, bill_id), method, openid)


def open_order(bill, method, openid=None):
    """Start a payment and open the WeChat order between two transactions (never inside one)."""
    payment = start(bill, method)
    payment_id, out_trade_no, amount, expires = payment.id, payment.out_trade_no, payment.amount_fen, payment.expires_at
    prepay_id, code_url = payment.prepay_id, payment.code_url
    description = kinds.of(bill.kind).description[:127]
    if payment.status == "paid":
        return {"payment_id": payment_id, "out_trade_no": out_trade_no, "amount_fen": 0, "jsapi": None,
                "code_url": None}
    db.session.commit()
    settings, client = pay_gateway()
    try:
        if method == "wechat_jsapi" and not prepay_id:
            prepay_id = client.create_jsapi(out_trade_no, description, amount, openid, expires)
        elif method == "wechat_native" and not code_url:
            code_url = client.create_native(out_trade_no, description, amount, expires)
    except PayError as exc:  # the order row stays; the worker's queries settle what really happened
        raise ApiError("微信支付暂时不可用，请稍后再试", code="wechatpay_unavailable", status=502) from exc
    attach_order(payment_id, prepay_id=prepay_id, code_url=code_url)
    jsapi = jsapi_pay_params(settings, prepay_id, now().timestamp()) if method == "wechat_jsapi" else None
    return {"payment_id": payment_id, "out_trade_no": out_trade_no, "amount_fen": amount, "jsapi": jsapi,
            "code_url": code_url}
