"""Orders known paid, remembered in Redis once their transaction has committed, so replays skip the database.

WeChat repeats a notification until it gets a 2xx, sometimes several copies at once; after one copy is applied and
committed, the others only need to learn that. The mark is written after the commit, so a delivery that rolled
back or failed never leaves one; a missing mark (expired, flushed, Redis down) only means the database is asked.
"""
import logging

import redis as redis_lib
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..extensions import db, redis

log = logging.getLogger(__name__)
PREFIX = "wechatpay:paid:"
TTL_SECONDS = 3 * 24 * 3600  # WeChat gives up on a notification after about a day (15 tries over 24 h 4 min)
_PENDING = "wechatpay_paid_marks"  # Session.info key: marks waiting for the commit


def _value(transaction_id, amount_fen):
    return f"{transaction_id}|{amount_fen}"


def applied(out_trade_no, transaction_id, amount_fen):
    """True when the order is known committed as paid by exactly this WeChat transaction and amount."""
    if not isinstance(out_trade_no, str) or not out_trade_no:
        return False
    try:
        value = redis.client.get(PREFIX + out_trade_no)
    except redis_lib.RedisError:
        return False
    return value is not None and value.decode() == _value(transaction_id, amount_fen)


def remember(out_trade_no, transaction_id, amount_fen):
    """Mark the order paid by this transaction once the current database transaction commits."""
    db.session.info.setdefault(_PENDING, {})[out_trade_no] = _value(transaction_id, amount_fen)


@event.listens_for(Session, "after_commit")
def _write_marks(session):
    if session.in_nested_transaction():  # a savepoint was released: the real transaction is still open
        return
    marks = session.info.pop(_PENDING, None)
    if not marks:
        return
    try:
        pipe = redis.client.pipeline(transaction=False)
        for out_trade_no, value in marks.items():
            pipe.set(PREFIX + out_trade_no, value, ex=TTL_SECONDS)
        pipe.execute()
    except redis_lib.RedisError as exc:  # the database stays the answer for this order's replays
        log.warning("could not remember paid orders in Redis: %s", exc)


@event.listens_for(Session, "after_soft_rollback")
def _drop_marks(session, previous_transaction):
    session.info.pop(_PENDING, None)  # any rollback: nothing it covered may be remembered as committed
