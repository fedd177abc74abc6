"""Paying bills through WeChat Pay v3 (sandbox, real formats and crypto): notify once, reject fakes."""
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from patient_api.billing import ledger
from patient_api.billing.gateway import pay_gateway
from patient_api.billing.models import Bill, Payment
from patient_api.billing.wechatpay import (
    RedisStore,
    WechatPaySettings,
    build_notification,
    sandbox_settings,
    transaction_resource,
    verify_signature,
)
from patient_api.booking.models import Appointment
from patient_api.common.outbox import OutboxMessage
from patient_api.extensions import db, redis

NOTIFY = "/api/v1/payments/wechatpay/notify"


@pytest.fixture
def held(client, make):
    """A resident holding a ticket with a 12.00 元 registration fee: (headers, appointment)."""
    headers, patient_id = make.resident(verified=True)
    schedule_id = make.schedule(fee_fen=1200)
    response = client.post("/api/v1/appointments", json={"schedule_id": schedule_id, "patient_id": patient_id},
                           headers=headers)
    assert response.status_code == 201, response.json
    return headers, response.json


def pay(client, headers, bill_id, method="wechat_jsapi"):
    response = client.post(f"/api/v1/bills/{bill_id}/payments", json={"method": method}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def platform(app):
    """(settings, platform private key) of the sandbox, to forge or sign notifications like WeChat."""
    with app.app_context():
        base = WechatPaySettings.from_config(app.config)
        return sandbox_settings(base, RedisStore(redis.client))


def notification(app, out_trade_no, amount_fen, now=None, **changes):
    """A TRANSACTION.SUCCESS notification in WeChat's wire format, optionally with changed fields."""
    settings, private_key = platform(app)
    resource = transaction_resource(settings, out_trade_no, "4200000001202611220000000001", amount_fen, "o-payer")
    resource.update(changes)
    return build_notification(settings, private_key, "TRANSACTION.SUCCESS", resource, now or time.time())


def post(client, headers_body):
    headers, body = headers_body
    return client.post(NOTIFY, data=body, headers=headers)


def payment_counts(app, out_trade_no):
    with app.app_context():
        payment = db.session.scalars(sa.select(Payment).filter_by(out_trade_no=out_trade_no)).one()
        txns = db.session.execute(sa.text("SELECT kind, count(*) FROM ledger_transactions GROUP BY kind")).all()
        return payment.status, dict(txns)


def test_registration_paid_by_notification_books_the_appointment(app, client, held):
    headers, appointment = held
    order = pay(client, headers, appointment["bill_id"])
    assert order["amount_fen"] == 1200 and order["jsapi"]["package"].startswith("prepay_id=")
    settings, _ = platform(app)
    js = order["jsapi"]
    message = f"{js['appId']}\n{js['timeStamp']}\n{js['nonceStr']}\n{js['package']}\n"
    from patient_api.billing.wechatpay.crypto import public_key_of
    assert verify_signature(public_key_of(settings.merchant_private_key_pem), message, js["paySign"])
    with app.app_context():
        _, sandbox = pay_gateway()
        wire = sandbox.simulate_payment(order["out_trade_no"], None, time.time())
    assert post(client, wire).status_code == 204
    got = client.get(f"/api/v1/appointments/{appointment['id']}", headers=headers).json
    assert got.get("status") == "booked", got
    bill = client.get(f"/api/v1/bills/{appointment['bill_id']}", headers=headers).json
    assert bill["status"] == "paid" and bill["payments"][0]["status"] == "paid"
    with app.app_context():
        assert ledger.derived_status(bill["id"]) == "paid"
        assert ledger.balances(bill["id"]) == {"resident": 0, "hospital_receivable": -1200, "wechat_clearing": 1200}
        assert sorted(db.session.scalars(sa.select(OutboxMessage.event).where(
            OutboxMessage.channel != "sms"))) == ["bill.paid", "booking.confirmed"]


def test_replayed_16_times_and_50_concurrent_applies_once(app, client, held):
    headers, appointment = held
    order = pay(client, headers, appointment["bill_id"])
    wire = notification(app, order["out_trade_no"], 1200)
    statuses = [post(client, wire).status_code for _ in range(16)]

    def concurrent(_):
        return post(app.test_client(), wire).status_code
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses += list(pool.map(concurrent, range(50)))
    assert Counter(statuses) == {204: 66}
    assert payment_counts(app, order["out_trade_no"]) == ("paid", {"issue": 1, "payment": 1})
    with app.app_context():
        assert sorted(db.session.scalars(sa.select(OutboxMessage.event).where(
            OutboxMessage.channel != "sms"))) == ["bill.paid", "booking.confirmed"]


def test_fifty_concurrent_first_deliveries_apply_once(app, client, held):
    headers, appointment = held
    order = pay(client, headers, appointment["bill_id"])
    wire = notification(app, order["out_trade_no"], 1200)
    with ThreadPoolExecutor(max_workers=25) as pool:
        statuses = list(pool.map(lambda _: post(app.test_client(), wire).status_code, range(50)))
    assert Counter(statuses) == {204: 50}
    assert payment_counts(app, order["out_trade_no"]) == ("paid", {"issue": 1, "payment": 1})


@pytest.mark.parametrize("forge, status, code", [
    ("signature", 401, "bad_signature"),
    ("serial", 401, "unknown_serial"),
    ("stale", 400, "stale_timestamp"),
    ("future", 400, "stale_timestamp"),
    ("amount", 400, "amount_mismatch"),
    ("mchid", 400, "mchid_mismatch"),
    ("appid", 400, "appid_mismatch"),
    ("order", 400, "unknown_order"),
    ("body", 401, "bad_signature"),
])
def test_forged_notifications_change_nothing(app, client, held, forge, status, code):
    headers, appointment = held
    order = pay(client, headers, appointment["bill_id"])
    no, now = order["out_trade_no"], time.time()
    wire = {
        "amount": lambda: notification(app, no, 1),
        "mchid": lambda: notification(app, no, 1200, mchid="1900009999"),
        "appid": lambda: notification(app, no, 1200, appid="wx_other_app"),
        "order": lambda: notification(app, "NOSUCHORDER", 1200),
        "stale": lambda: notification(app, no, 1200, now=now - 301),
        "future": lambda: notification(app, no, 1200, now=now + 330),  # slack: the request is checked later
    }.get(forge, lambda: notification(app, no, 1200))()
    headers_, body = wire
    headers_ = dict(headers_)
    if forge == "signature":
        headers_["Wechatpay-Signature"] = headers_["Wechatpay-Signature"][:-8] + "AAAAAAA="
    if forge == "serial":
        headers_["Wechatpay-Serial"] = "PUB_KEY_ID_SOMEONE_ELSE"
    if forge == "body":
        body = body.replace(b'"TRANSACTION.SUCCESS"', b'"TRANSACTION.SUCCEED"')
    response = client.post(NOTIFY, data=body, headers=headers_)
    assert (response.status_code, response.json["code"]) == (status, code)
    assert payment_counts(app, no) == ("created", {"issue": 1})
    assert client.get(f"/api/v1/appointments/{appointment['id']}", headers=headers).json["status"] == "pending_payment"


def test_native_order_gives_a_code_url_for_kiosks(client, held):
    headers, appointment = held
    order = pay(client, headers, appointment["bill_id"], method="wechat_native")
    assert order["code_url"].startswith("weixin://wxpay/") and order["jsapi"] is None


def test_re_tap_reuses_the_open_order(client, held):
    headers, appointment = held
    first = pay(client, headers, appointment["bill_id"])
    second = pay(client, headers, appointment["bill_id"])
    assert first["out_trade_no"] == second["out_trade_no"]


def test_paid_bill_cannot_be_paid_again(app, client, held):
    headers, appointment = held
    order = pay(client, headers, appointment["bill_id"])
    post(client, notification(app, order["out_trade_no"], 1200))
    response = client.post(f"/api/v1/bills/{appointment['bill_id']}/payments", json={"method": "wechat_jsapi"},
                           headers=headers)
    assert response.status_code == 409 and response.json["code"] == "bill_not_payable"


def test_someone_elses_bill_cannot_be_paid_or_presettled(client, held, make):
    _, appointment = held
    stranger, _ = make.resident()
    for path in ("payments", "pre-settlement"):
        response = client.post(f"/api/v1/bills/{appointment['bill_id']}/{path}", json={"method": "wechat_jsapi"},
                               headers=stranger)
        assert response.status_code == 404, path


def test_payment_after_the_ticket_was_taken_is_refunded(app, client, held, make):
    from datetime import timedelta

    from patient_api.booking import lifecycle
    from patient_api.common.clock import now
    headers, appointment = held
    order = pay(client, headers, appointment["bill_id"])
    with app.app_context():
        db.session.execute(sa.update(Appointment).values(hold_expires_at=now() - timedelta(seconds=1)))
        db.session.commit()
        assert lifecycle.sweep_expired_holds() == 1
    assert post(client, notification(app, order["out_trade_no"], 1200)).status_code == 204
    with app.app_context():
        payment = db.session.scalars(sa.select(Payment)).one()
        assert payment.status == "paid" and payment.refunded_fen == 1200 and payment.refunds[0].status == "processing"
        assert db.session.get(Appointment, appointment["id"]).status == "expired"
        assert db.session.get(Bill, appointment["bill_id"]).status == "closed"


def test_pre_settlement_splits_an_insured_outpatient_bill(app, client, make):
    from .factories import hospital_key
    from .test_his_bills import his_bill
    headers, patient_id = make.resident(verified=True)
    with app.app_context():
        from patient_api.accounts.models import Patient
        from patient_api.billing.presettlement import InsuredAccount
        number = db.session.get(Patient, patient_id).id_number
        db.session.add(InsuredAccount(patient_id=patient_id, insurance_type="employee", account_balance_fen=500))
        db.session.commit()
    bill = client.post("/api/v1/integration/bills", json=his_bill(number, insurance_type="employee"),
                       headers=hospital_key(app)).json
    split = client.post(f"/api/v1/bills/{bill['id']}/pre-settlement", headers=headers).json
    assert split["total_fen"] == 5100
    assert split["insurance_fund_fen"] + split["personal_account_fen"] + split["self_pay_fen"] == 5100
    assert split["personal_account_fen"] == 500  # the rest is under the outpatient deductible (起付线)
    order = pay(client, headers, bill["id"])
    assert order["amount_fen"] == split["self_pay_fen"] > 0


def test_fully_covered_bill_is_paid_without_wechat(app, client, make):
    from patient_api.billing.presettlement import InsuredAccount

    from .factories import hospital_key
    from .test_his_bills import his_bill
    headers, patient_id = make.resident(verified=True)
    with app.app_context():
        from patient_api.accounts.models import Patient
        number = db.session.get(Patient, patient_id).id_number
        db.session.add(InsuredAccount(patient_id=patient_id, insurance_type="employee", account_balance_fen=10**6))
        db.session.commit()
    bill = client.post("/api/v1/integration/bills", json=his_bill(number, insurance_type="employee"),
                       headers=hospital_key(app)).json
    order = pay(client, headers, bill["id"])
    assert order["amount_fen"] == 0 and order["jsapi"] is None
    paid = client.get(f"/api/v1/bills/{bill['id']}", headers=headers).json
    assert paid["status"] == "paid"
    with app.app_context():
        balances = ledger.balances(bill["id"])
        assert balances["resident"] == 0 and sum(balances.values()) == 0 and "wechat_clearing" not in balances


def test_idempotent_payment_start_is_retryable_after_wechat_fails(app, client, held, monkeypatch):
    from patient_api.billing.wechatpay import PayError, SandboxClient
    headers, appointment = held
    keyed = {**headers, "Idempotency-Key": "pay-1"}

    def down(*_a, **_k):
        raise PayError("SYSTEM_ERROR", "系统繁忙", retryable=True)
    monkeypatch.setattr(SandboxClient, "create_jsapi", down)
    url = f"/api/v1/bills/{appointment['bill_id']}/payments"
    failed = client.post(url, json={"method": "wechat_jsapi"}, headers=keyed)
    assert failed.status_code == 502 and failed.json["code"] == "wechatpay_unavailable"
    monkeypatch.undo()
    retried = client.post(url, json={"method": "wechat_jsapi"}, headers=keyed)
    assert retried.status_code == 201 and retried.json["jsapi"]["package"].startswith("prepay_id=")
    replayed = client.post(url, json={"method": "wechat_jsapi"}, headers=keyed)
    assert replayed.json == retried.json and replayed.headers["Idempotent-Replayed"] == "true"


def test_payment_start_whose_worker_died_is_taken_over_after_the_lease(app, client, held, monkeypatch):
    # Found by bench/faults.py: a gunicorn worker SIGKILLed while the order waited on WeChat had already
    # committed the payment and the key's claim; every retry with that key got 409 request_in_progress for 48 h.
    from patient_api.billing.wechatpay import SandboxClient
    from patient_api.common import idempotency
    from patient_api.common.models import IdempotencyKey
    headers, appointment = held
    keyed = {**headers, "Idempotency-Key": "pay-killed"}
    url = f"/api/v1/bills/{appointment['bill_id']}/payments"

    def worker_dies(*_a, **_k):
        raise KeyboardInterrupt  # not an Exception: nothing of the request's own clean-up runs, as on SIGKILL
    monkeypatch.setattr(SandboxClient, "create_jsapi", worker_dies)
    with pytest.raises(KeyboardInterrupt):
        client.post(url, json={"method": "wechat_jsapi"}, headers=keyed)
    monkeypatch.undo()
    with app.app_context():
        db.session.remove()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(IdempotencyKey)
                                 .where(IdempotencyKey.status_code.is_(None))) == 1
    soon = client.post(url, json={"method": "wechat_jsapi"}, headers=keyed)
    assert soon.status_code == 409 and soon.json["code"] == "request_in_progress"
    monkeypatch.setattr(idempotency, "PENDING_LEASE", idempotency.PENDING_LEASE * 0)
    later = client.post(url, json={"method": "wechat_jsapi"}, headers=keyed)
    assert later.status_code == 201 and later.json["jsapi"]["package"].startswith("prepay_id=")
    replayed = client.post(url, json={"method": "wechat_jsapi"}, headers=keyed)
    assert replayed.json == later.json and replayed.headers["Idempotent-Replayed"] == "true"
    with app.app_context():  # the order the dead request committed is the one taken up, not a second one
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)
                                 .where(Payment.bill_id == appointment["bill_id"])) == 1


def test_bill_paid_twice_through_two_orders_keeps_one_payment_and_refunds_the_other(app, client, held):
    from patient_api.billing import jobs
    headers, appointment = held
    first = pay(client, headers, appointment["bill_id"], "wechat_jsapi")
    second = pay(client, headers, appointment["bill_id"], "wechat_native")  # e.g. phone and kiosk at once
    assert first["out_trade_no"] != second["out_trade_no"]
    with app.app_context():
        _, sandbox = pay_gateway()
        wires = [sandbox.simulate_payment(o["out_trade_no"], None, time.time()) for o in (first, second)]
    for wire in wires:
        assert post(client, wire).status_code == 204
    with app.app_context():
        assert jobs.submit_refunds() == {"refunded": 1}
        bill = db.session.get(Bill, appointment["bill_id"])
        assert bill.status == ledger.derived_status(bill.id) == "paid"
        overpaid = db.session.scalars(sa.select(Payment).filter_by(out_trade_no=second["out_trade_no"])).one()
        assert overpaid.overpaid and overpaid.refunded_fen == 1200
        balances = ledger.balances(bill.id)
        assert balances["wechat_clearing"] == 1200 and balances["resident"] == 0 and sum(balances.values()) == 0


def test_hospital_level_the_adjudicator_cannot_place_is_409_not_500(app, client, make):
    from patient_api.directory.models import Hospital

    from .factories import hospital_key
    from .test_his_bills import his_bill
    headers, patient_id = make.resident(verified=True)
    key = hospital_key(app)
    with app.app_context():
        from patient_api.accounts.models import Patient
        number = db.session.get(Patient, patient_id).id_number
        db.session.execute(sa.update(Hospital).values(level="未定级"))
        db.session.commit()
    bill = client.post("/api/v1/integration/bills", json=his_bill(number, insurance_type="employee"),
                       headers=key).json
    for path in ("pre-settlement", "payments"):
        response = client.post(f"/api/v1/bills/{bill['id']}/{path}", json={"method": "wechat_jsapi"}, headers=headers)
        assert response.status_code == 409 and response.json["code"] == "presettlement_unavailable", path


def test_cancelled_paid_visit_shows_its_refund_progress(app, client, make):
    """The bill says where the money goes and how far the refund is: reason, channel, when asked, when done."""
    from patient_api.billing import jobs
    headers, patient_id = make.resident(verified=True)
    schedule_id = make.schedule(fee_fen=1200, days_ahead=3)  # well before the cancel deadline
    appointment = client.post("/api/v1/appointments", json={"schedule_id": schedule_id, "patient_id": patient_id},
                              headers=headers).json
    order = pay(client, headers, appointment["bill_id"])
    with app.app_context():
        _, sandbox = pay_gateway()
        wire = sandbox.simulate_payment(order["out_trade_no"], None, time.time())  # paid in the sandbox wallet
    assert post(client, wire).status_code == 204
    assert client.post(f"/api/v1/appointments/{appointment['id']}/cancel", headers=headers).status_code == 200
    refund = client.get(f"/api/v1/bills/{appointment['bill_id']}", headers=headers).json["refunds"][0]
    assert (refund["amount_fen"], refund["status"], refund["reason"], refund["method"]) == (
        1200, "processing", "取消预约退款", "wechat_jsapi")
    assert refund["created_at"].endswith("+08:00") and refund["succeeded_at"] is None
    with app.app_context():
        assert jobs.submit_refunds() == {"refunded": 1}
    bill = client.get(f"/api/v1/bills/{appointment['bill_id']}", headers=headers).json
    assert bill["status"] == "refunded"  # the sandbox refunds at once
    assert bill["refunds"][0]["status"] == "succeeded" and bill["refunds"][0]["succeeded_at"].endswith("+08:00")
