"""WeChat Pay notification replays: answered without the database once the first delivery committed, never before."""
import time

import pytest
import redis as redis_lib
import sqlalchemy as sa

from patient_api.billing import gateway, invoices, replays
from patient_api.billing.models import Payment
from patient_api.common.outbox import OutboxMessage
from patient_api.extensions import db, redis

from .sqlcount import statements
from .test_payments import NOTIFY, notification, pay, payment_counts, post


@pytest.fixture
def held(client, make):
    """A resident holding a ticket with a 12.00 元 registration fee: (headers, appointment)."""
    headers, patient_id = make.resident(verified=True)
    response = client.post("/api/v1/appointments", json={"schedule_id": make.schedule(fee_fen=1200),
                                                          "patient_id": patient_id}, headers=headers)
    assert response.status_code == 201, response.json
    return headers, response.json


def paid_order(app, client, held):
    headers, appointment = held
    order = pay(client, headers, appointment["bill_id"])
    wire = notification(app, order["out_trade_no"], 1200)
    return order, wire


def test_replay_after_the_commit_is_answered_without_the_database(app, client, held):
    order, wire = paid_order(app, client, held)
    assert post(client, wire).status_code == 204
    assert redis.client.get(replays.PREFIX + order["out_trade_no"]) is not None
    with statements(app) as sql:
        assert [post(client, wire).status_code for _ in range(5)] == [204] * 5
    assert sql == []
    assert payment_counts(app, order["out_trade_no"]) == ("paid", {"issue": 1, "payment": 1})


def test_replay_without_the_mark_reads_one_row_and_takes_no_lock(app, client, held):
    order, wire = paid_order(app, client, held)
    assert post(client, wire).status_code == 204
    redis.client.delete(replays.PREFIX + order["out_trade_no"])  # expired, flushed, or written by another path
    with statements(app) as sql:
        assert post(client, wire).status_code == 204
    assert len(sql) == 1 and "FOR UPDATE" not in sql[0] and sql[0].lstrip().startswith("SELECT")
    assert redis.client.get(replays.PREFIX + order["out_trade_no"]) is not None  # remembered again
    assert payment_counts(app, order["out_trade_no"]) == ("paid", {"issue": 1, "payment": 1})


def test_a_delivery_that_rolls_back_leaves_no_mark_and_the_next_one_applies(app, client, held, monkeypatch):
    order, wire = paid_order(app, client, held)

    def broken(*args, **kwargs):
        raise RuntimeError("receipt platform down")
    monkeypatch.setattr(invoices, "issue", broken)
    assert post(client, wire).status_code == 500
    assert redis.client.get(replays.PREFIX + order["out_trade_no"]) is None
    assert payment_counts(app, order["out_trade_no"]) == ("created", {"issue": 1})
    monkeypatch.undo()
    assert post(client, wire).status_code == 204  # WeChat's retry is the first delivery that counts
    assert payment_counts(app, order["out_trade_no"]) == ("paid", {"issue": 1, "payment": 1})
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(
            OutboxMessage.event == "bill.paid")) == 1


def test_a_mark_only_answers_the_same_transaction_and_amount(app, client, held):
    order, wire = paid_order(app, client, held)
    assert post(client, wire).status_code == 204
    other = notification(app, order["out_trade_no"], 1200, transaction_id="4200000001202611220000000002")
    response = post(client, other)
    assert (response.status_code, response.json["code"]) == (409, "transaction_mismatch")
    wrong_amount = notification(app, order["out_trade_no"], 1)
    response = post(client, wrong_amount)
    assert (response.status_code, response.json["code"]) == (400, "amount_mismatch")
    assert payment_counts(app, order["out_trade_no"]) == ("paid", {"issue": 1, "payment": 1})


def test_redis_down_falls_back_to_the_database(app, client, held, monkeypatch):
    order, wire = paid_order(app, client, held)
    assert post(client, wire).status_code == 204

    def down(*args, **kwargs):
        raise redis_lib.ConnectionError("Redis is down")
    monkeypatch.setattr(redis.client, "get", down)
    assert post(client, wire).status_code == 204
    assert payment_counts(app, order["out_trade_no"]) == ("paid", {"issue": 1, "payment": 1})


def test_sandbox_keys_are_read_once_per_key_id_and_a_forged_serial_still_fails(app, client, held, monkeypatch):
    order, wire = paid_order(app, client, held)
    assert post(client, wire).status_code == 204
    reads = []
    real = gateway.sandbox_settings
    monkeypatch.setattr(gateway, "sandbox_settings", lambda *a, **k: reads.append(1) or real(*a, **k))
    assert post(client, notification(app, order["out_trade_no"], 1200)).status_code == 204
    assert reads == []  # the key id is known: nothing re-read or re-parsed
    headers, body = notification(app, order["out_trade_no"], 1200)
    forged = {**headers, "Wechatpay-Serial": "PUB_KEY_ID_SOMEONE_ELSE"}
    response = client.post(NOTIFY, data=body, headers=forged)
    assert (response.status_code, response.json["code"]) == (401, "unknown_serial")
    assert reads == [1]  # an unknown id is looked up, then refused


@pytest.mark.parametrize("stale", [False, True])
def test_replays_keep_the_freshness_and_signature_checks(app, client, held, stale):
    order, wire = paid_order(app, client, held)
    assert post(client, wire).status_code == 204
    if stale:
        headers, body = notification(app, order["out_trade_no"], 1200, now=time.time() - 301)
        expected = (400, "stale_timestamp")
    else:
        headers, body = wire
        headers = {**headers, "Wechatpay-Signature": headers["Wechatpay-Signature"][:-8] + "AAAAAAA="}
        expected = (401, "bad_signature")
    response = client.post(NOTIFY, data=body, headers=headers)
    assert (response.status_code, response.json["code"]) == expected
    with app.app_context():
        assert db.session.scalar(sa.select(Payment.status).where(Payment.out_trade_no == order["out_trade_no"])) \
            == "paid"


def test_a_failed_commit_is_a_503_and_leaves_no_mark(app, client, held, monkeypatch):
    order, wire = paid_order(app, client, held)

    def broken():
        raise sa.exc.OperationalError("COMMIT", {}, Exception("connection lost"))
    monkeypatch.setattr(db.session, "commit", broken)
    response = post(client, wire)
    assert (response.status_code, response.json["code"]) == (503, "commit_failed")
    monkeypatch.undo()
    assert redis.client.get(replays.PREFIX + order["out_trade_no"]) is None
    assert payment_counts(app, order["out_trade_no"]) == ("created", {"issue": 1})
    assert post(client, wire).status_code == 204
    assert payment_counts(app, order["out_trade_no"]) == ("paid", {"issue": 1, "payment": 1})
