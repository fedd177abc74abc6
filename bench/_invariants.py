"""End-state invariants, per schedule, read straight from the harness's own PostgreSQL and the sandbox's Redis.

Money is judged by the sandbox (it plays WeChat, so it knows what residents were charged and refunded);
tickets, holds and messages by the database.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict

import psycopg
import redis

from patient_api.billing.wechatpay import RedisStore

ACTIVE = ("pending_payment", "booked", "checked_in")
KEPT = ("booked", "checked_in")
SANDBOX_ORDER = "wechatpay:sandbox:order:"
NAMES = ("oversold", "double_charges", "lost_payments", "orphan_holds", "duplicate_messages",
         "available_drift", "duplicate_webhooks", "refunds_pending")


def utc_now() -> dt.datetime:
    """Naive UTC, the way the service stores instants."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _per_schedule(rows) -> Counter:
    return Counter({sid: n for sid, n in rows if n})


def oversold(conn, ids) -> Counter:
    """Active appointments past capacity, tickets given to two, and tickets an appointment claims but lost."""
    c = _per_schedule(conn.execute(
        "SELECT s.id, GREATEST(0, count(a.id) - s.capacity) FROM schedules s LEFT JOIN appointments a "
        "ON a.schedule_id = s.id AND a.status = ANY(%s) WHERE s.id = ANY(%s) GROUP BY s.id, s.capacity",
        (list(ACTIVE), ids)))
    c.update(_per_schedule(conn.execute(
        "SELECT schedule_id, sum(n - 1) FROM (SELECT schedule_id, ticket_id, count(*) AS n FROM appointments "
        "WHERE status = ANY(%s) AND schedule_id = ANY(%s) GROUP BY 1, 2 HAVING count(*) > 1) x GROUP BY 1",
        (list(ACTIVE), ids))))
    c.update(_per_schedule(conn.execute(
        "SELECT a.schedule_id, count(*) FROM appointments a JOIN tickets t ON t.id = a.ticket_id "
        "WHERE a.status = ANY(%s) AND a.schedule_id = ANY(%s) AND t.appointment_id IS DISTINCT FROM a.id "
        "GROUP BY 1", (list(ACTIVE), ids))))
    return c


def available_drift(conn, ids) -> Counter:
    """schedules.available against the free tickets it counts."""
    return _per_schedule(conn.execute(
        "SELECT s.id, abs(s.available - count(t.id) FILTER (WHERE t.status = 'free')) FROM schedules s "
        "JOIN tickets t ON t.schedule_id = s.id WHERE s.id = ANY(%s) GROUP BY s.id, s.available", (ids,)))


def orphan_holds(conn, ids, instant) -> Counter:
    """Lapsed unpaid holds still holding their ticket, and taken tickets whose appointment no longer holds them."""
    c = _per_schedule(conn.execute(
        "SELECT a.schedule_id, count(*) FROM appointments a JOIN tickets t ON t.appointment_id = a.id "
        "WHERE a.status = 'pending_payment' AND a.hold_expires_at <= %s AND a.schedule_id = ANY(%s) GROUP BY 1",
        (instant, ids)))
    c.update(_per_schedule(conn.execute(
        "SELECT t.schedule_id, count(*) FROM tickets t LEFT JOIN appointments a ON a.id = t.appointment_id "
        "AND a.status = ANY(%s) WHERE t.status <> 'free' AND a.id IS NULL AND t.schedule_id = ANY(%s) GROUP BY 1",
        (list(ACTIVE), ids))))
    return c


def money(conn, store: RedisStore, ids) -> tuple[Counter, Counter, Counter]:
    """(double charges, lost payments, refunds pending) per schedule."""
    # A charge counts while the sandbox holds the money (paid, not refunded in full). Double charge: a bill
    # charged more than once. Lost payment: money the sandbox took that the database does not show as paid,
    # or money kept for a bill whose appointment did not end booked (paid for nothing and never refunded).
    rows = conn.execute(
        "SELECT a.schedule_id, b.id, a.status, p.out_trade_no, p.status, p.amount_fen FROM appointments a "
        "JOIN bills b ON b.id = a.bill_id JOIN payments p ON p.bill_id = b.id WHERE a.schedule_id = ANY(%s)",
        (ids,)).fetchall()
    double, lost, pending = Counter(), Counter(), Counter()
    kept, booked, lost_bills = defaultdict(int), {}, set()
    for sid, bill_id, appt_status, number, db_status, amount in rows:
        order = store.get(SANDBOX_ORDER + number) or {}
        charged = order.get("trade_state") in ("SUCCESS", "REFUND")
        if charged and db_status != "paid":
            lost_bills.add((sid, bill_id))
        if charged and order.get("refunded_fen", 0) < amount:
            kept[(sid, bill_id)] += 1
        booked[(sid, bill_id)] = appt_status in KEPT
    for (sid, bill_id), n in kept.items():
        if n > 1:
            double[sid] += n - 1
        if not booked[(sid, bill_id)]:
            lost_bills.add((sid, bill_id))
    lost.update(sid for sid, _bill in lost_bills)
    pending.update(_per_schedule(conn.execute(
        "SELECT a.schedule_id, count(*) FROM refunds r JOIN payments p ON p.id = r.payment_id "
        "JOIN appointments a ON a.bill_id = p.bill_id WHERE r.status = 'processing' AND a.schedule_id = ANY(%s) "
        "GROUP BY 1", (ids,))))
    return double, lost, pending


def duplicates(conn, ids, channel: str, fields: tuple[str, ...]) -> Counter:
    """Outbox rows of `channel` that repeat (destination, event, the payload's identifying fields), per schedule."""
    appointment_of = dict(conn.execute("SELECT id, schedule_id FROM appointments WHERE schedule_id = ANY(%s)",
                                       (ids,)))
    bill_of = dict(conn.execute("SELECT b.id, a.schedule_id FROM bills b JOIN appointments a "
                                "ON a.id = b.appointment_id WHERE a.schedule_id = ANY(%s)", (ids,)))
    seen, c = Counter(), Counter()
    for destination, event, payload in conn.execute(
            "SELECT destination, event, payload FROM outbox WHERE channel = %s", (channel,)):
        data = json.loads(payload)
        data = data.get("data", data)  # hospital callbacks wrap the facts in "data"
        sid = appointment_of.get(data.get("appointment_id")) or bill_of.get(data.get("bill_id"))
        if sid is None:
            continue
        key = (destination, event, *(data.get(name) for name in fields))
        seen[key] += 1
        if seen[key] > 1:
            c[sid] += 1
    return c


def check(db_url: str, redis_url: str, schedule_ids: list[str]) -> dict[str, dict[str, int]]:
    """Every invariant count, per schedule id (0 everywhere when all is well)."""
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        with psycopg.connect(db_url) as conn:
            double, lost, pending = money(conn, RedisStore(client), schedule_ids)
            found = {"oversold": oversold(conn, schedule_ids), "double_charges": double, "lost_payments": lost,
                     "orphan_holds": orphan_holds(conn, schedule_ids, utc_now()),
                     "duplicate_messages": duplicates(conn, schedule_ids, "wechat_message",
                                                      ("appointment_id", "bill_id", "refund_id", "waitlist_id")),
                     "available_drift": available_drift(conn, schedule_ids),
                     "duplicate_webhooks": duplicates(conn, schedule_ids, "hospital_webhook",
                                                      ("bill_id", "out_refund_no", "appointment_id")),
                     "refunds_pending": pending}
    finally:
        client.close()
    return {sid: {name: int(found[name].get(sid, 0)) for name in NAMES} for sid in schedule_ids}
