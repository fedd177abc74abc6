"""WeChat Pay notification replays: answered without the database once the first delivery committed, never before."""
import json
import time

import pytest
import redis as redis_lib
import sqlalchemy as sa

from patient_api.accounts.models import Patient
from patient_api.billing import gateway, invoices, replays
from patient_api.billing.models import Bill, Payment
from patient_api.common.masking import mask_name
from patient_api.common.outbox import OutboxMessage
from patient_api.extensions import db, redis

from .conftest import is_postgres
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


def test_a_first_delivery_folds_the_receipts_reads_the_ticket_lock_and_the_outbox_rows(app, client, make, held):
    """The bill comes with the order's lock, the receipt's items and payer's name with the bill's lock, the ticket is
    locked and booked by one UPDATE, and bill.paid and booking.confirmed go to the outbox in one INSERT — and the
    receipt is still right."""
    headers, patient_id = make.resident(verified=True)
    other = client.post("/api/v1/appointments", json={"schedule_id": make.schedule(fee_fen=800, period="afternoon"),
                                                      "patient_id": patient_id}, headers=headers).json
    first = pay(client, headers, other["bill_id"])
    assert post(client, notification(app, first["out_trade_no"], 800, transaction_id="4200000001202611220000000002")
                ).status_code == 204  # the receipt code's counter exists now
    order, wire = paid_order(app, client, held)
    with statements(app, with_transaction=True) as sql:
        assert post(client, wire).status_code == 204
    sent = [" ".join(s.split()) for s in sql]
    assert not [s for s in sent if s.startswith(("SELECT bill_items", "SELECT patients", "SELECT tickets"))], sent
    assert [s.split(" SET")[0] for s in sent if s.startswith("UPDATE tickets")] == ["UPDATE tickets"]
    assert len([s for s in sent if s.startswith("INSERT INTO outbox")]) == 1
    reads_of_bills = [s for s in sent if s.startswith("SELECT bills.")]  # the first came with the order's lock
    assert len(reads_of_bills) == 1 and "bill_items" in reads_of_bills[0] and "patients" in reads_of_bills[0]
    assert len([s for s in sent if s.startswith("SELECT payments.") and "JOIN bills" in s]) == 1, sent
    if is_postgres(app):  # SQLite takes its write lock by a no-op UPDATE per lock: two more
        assert len(sent) == 15, sent  # BEGIN … COMMIT: 20 before
    with app.app_context():
        payment = db.session.scalars(sa.select(Payment).filter_by(out_trade_no=order["out_trade_no"])).one()
        receipt, bill = invoices.invoice_for_bill(payment.bill_id), db.session.get(Bill, payment.bill_id)
        assert receipt.payer_name_masked == mask_name(db.session.get(Patient, bill.patient_id).name)
        assert json.loads(receipt.items_json) == [{f: getattr(item, f) for f in invoices.ITEM_FIELDS}
                                                  for item in bill.items] != []
        events = db.session.scalars(sa.select(OutboxMessage.event).where(
            OutboxMessage.payload.contains(payment.bill_id))).all()
        assert sorted(events) == ["bill.paid", "booking.confirmed"]
