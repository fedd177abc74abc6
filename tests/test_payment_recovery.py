"""Lost notifications, expiry, refunds and hospital callbacks: the worker's side of payments."""
import time
from datetime import timedelta

import responses
import sqlalchemy as sa

from patient_api.billing import jobs, ledger
from patient_api.billing.gateway import pay_gateway
from patient_api.billing.models import Bill, Payment, Refund
from patient_api.booking import lifecycle
from patient_api.booking.models import Appointment
from patient_api.common import outbox
from patient_api.common.clock import now
from patient_api.common.outbox import OutboxMessage
from patient_api.extensions import db
from patient_api.integration import webhooks

from .factories import hospital_key
from .test_payments import NOTIFY, pay


def book_and_order(client, make, method="wechat_jsapi", days_ahead=1):
    """A resident books a 12.00 元 ticket and opens a WeChat order: (headers, appointment, order)."""
    headers, patient_id = make.resident(verified=True)
    appointment = client.post("/api/v1/appointments", headers=headers, json={
        "schedule_id": make.schedule(fee_fen=1200, days_ahead=days_ahead), "patient_id": patient_id}).json
    return headers, appointment, pay(client, headers, appointment["bill_id"], method)


def test_no_notifications_at_all_paid_orders_end_paid_unpaid_end_closed(app, client, make):
    orders = [book_and_order(client, make) for _ in range(6)]
    with app.app_context():
        _, sandbox = pay_gateway()
        for _, _, order in orders[:4]:  # these four pay; WeChat's notifications never arrive
            sandbox.simulate_payment(order["out_trade_no"], None, time.time())
        start = now()
        outcomes = {}
        for seconds in (5, 30, 60, 180, 300, 600, 16 * 60, 30 * 60):  # the query schedule, past the hold
            for key, count in jobs.query_payments(instant=start + timedelta(seconds=seconds + 1)).items():
                outcomes[key] = outcomes.get(key, 0) + count
            lifecycle.sweep_expired_holds(instant=start + timedelta(seconds=seconds + 1))
        statuses = sorted(db.session.scalars(sa.select(Payment.status)))
        assert statuses == ["closed", "closed", "paid", "paid", "paid", "paid"]
        assert outcomes["paid"] == 4 and outcomes["closed"] == 2
        for _, appointment, _ in orders[:4]:
            assert db.session.get(Appointment, appointment["id"]).status == "booked"
            assert db.session.get(Bill, appointment["bill_id"]).status == "paid"
        for _, appointment, order in orders[4:]:
            assert db.session.get(Appointment, appointment["id"]).status == "expired"
            assert db.session.get(Bill, appointment["bill_id"]).status == "closed"
            assert sandbox.query(order["out_trade_no"])["trade_state"] == "CLOSED"
        assert jobs.query_payments(instant=start + timedelta(hours=2)) == {}  # nothing left to ask about


def test_query_backoff_schedule(app, client, make):
    _, _, order = book_and_order(client, make)
    with app.app_context():
        payment = db.session.scalars(sa.select(Payment)).one()
        created = payment.created_at
        seen = []
        for _ in range(8):
            seen.append(round((jobs.next_query_time(payment, created) - created).total_seconds()))
        assert seen[:6] == [30, 60, 180, 300, 600, 1800] and seen[6:] == [1800, 1800]
        db.session.rollback()


def test_cancel_of_a_paid_appointment_refunds_it_through_the_worker(app, client, make):
    headers, appointment, order = book_and_order(client, make, days_ahead=3)  # before the cancel deadline
    with app.app_context():
        _, sandbox = pay_gateway()
        wire = sandbox.simulate_payment(order["out_trade_no"], None, time.time())
    client.post(NOTIFY, data=wire[1], headers=wire[0])
    receipt = client.get(f"/api/v1/bills/{appointment['bill_id']}/invoice", headers=headers).json
    assert receipt["status"] == "issued" and receipt["total_fen"] == 1200 and len(receipt["number"]) == 10
    cancelled = client.post(f"/api/v1/appointments/{appointment['id']}/cancel", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    with app.app_context():
        assert jobs.submit_refunds() == {"refunded": 1}
        assert jobs.submit_refunds(instant=now() + timedelta(minutes=5)) == {}
        bill = db.session.get(Bill, appointment["bill_id"])
        assert bill.status == "refunded" and ledger.derived_status(bill.id) == "refunded"
        assert ledger.balances(bill.id) == {"resident": 0, "hospital_receivable": 0, "wechat_clearing": 0}
        assert sorted(db.session.scalars(sa.select(OutboxMessage.event).where(OutboxMessage.channel != "sms"))) == [
            "bill.paid", "bill.refunded", "booking.confirmed", "refund.done"]
    reversed_receipt = client.get(f"/api/v1/bills/{appointment['bill_id']}/invoice", headers=headers).json
    assert reversed_receipt["status"] == "reversed" and reversed_receipt["reversal"]["number"] != receipt["number"]
    with app.app_context():
        refund = db.session.scalars(sa.select(Refund)).one()
        replay = sandbox.simulate_refund_notification(refund.out_refund_no, time.time())
    assert client.post(NOTIFY, data=replay[1], headers=replay[0]).status_code == 204  # a replay changes nothing
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Refund)) == 1
        assert ledger.balances(appointment["bill_id"])["wechat_clearing"] == 0


def test_partial_refunds_from_his_are_idempotent_and_capped(app, client, make):
    from .test_his_bills import his_bill
    headers, patient_id = make.resident(verified=True)
    with app.app_context():
        from patient_api.accounts.models import Patient
        number = db.session.get(Patient, patient_id).id_number
    key = hospital_key(app)
    bill = client.post("/api/v1/integration/bills", json=his_bill(number), headers=key).json
    order = pay(client, headers, bill["id"])
    with app.app_context():
        _, sandbox = pay_gateway()
        wire = sandbox.simulate_payment(order["out_trade_no"], None, time.time())
    client.post(NOTIFY, data=wire[1], headers=wire[0])
    url = f"/api/v1/integration/bills/{bill['order_no']}/refunds"
    first = client.post(url, json={"out_refund_no": "TY001", "amount_fen": 3100, "reason": "退药"}, headers=key)
    again = client.post(url, json={"out_refund_no": "TY001", "amount_fen": 3100, "reason": "退药"}, headers=key)
    assert first.status_code == again.status_code == 201 and first.json["id"] == again.json["id"]
    too_much = client.post(url, json={"out_refund_no": "TY002", "amount_fen": 2001}, headers=key)
    assert too_much.status_code == 409 and too_much.json["code"] == "refund_exceeds_paid"
    reused = client.post(url, json={"out_refund_no": "TY001", "amount_fen": 100}, headers=key)
    assert reused.status_code == 422 and reused.json["code"] == "out_refund_no_reused"
    with app.app_context():
        assert jobs.submit_refunds() == {"refunded": 1}
        assert db.session.get(Bill, bill["id"]).status == "partially_refunded"
        assert ledger.derived_status(bill["id"]) == "partially_refunded"
    rest = client.post(url, json={"out_refund_no": "TY002", "amount_fen": 2000}, headers=key)
    assert rest.status_code == 201
    with app.app_context():
        jobs.submit_refunds()
        assert db.session.get(Bill, bill["id"]).status == "refunded"
        assert sum(ledger.balances(bill["id"]).values()) == 0


def test_refund_window_and_count_limits(app, client, make):
    from patient_api.billing.refunds import request_refund
    from patient_api.errors import Conflict
    _, appointment, order = book_and_order(client, make)
    with app.app_context():
        _, sandbox = pay_gateway()
        wire = sandbox.simulate_payment(order["out_trade_no"], None, time.time())
    client.post(NOTIFY, data=wire[1], headers=wire[0])
    with app.app_context():
        payment = db.session.scalars(sa.select(Payment)).one()
        late = payment.paid_at + timedelta(days=365)
        try:
            request_refund(payment.id, 1, "LATE", "过期", instant=late)
            raise AssertionError("refund after 365 days accepted")
        except Conflict as err:
            assert err.code == "refund_exceeds_paid"
        db.session.rollback()
        for n in range(50):
            request_refund(payment.id, 1, f"R{n}", "测试")
        try:
            request_refund(payment.id, 1, "R50", "测试")
            raise AssertionError("51st refund accepted")
        except Conflict as err:
            assert err.code == "refund_limit_reached"
        db.session.rollback()


@responses.activate
def test_hospital_callbacks_are_signed_retried_and_dead_lettered(app, client, make):
    key = hospital_key(app)["Authorization"].split()[1]
    result = app.test_cli_runner().invoke(args=["hospital", "set-webhook", "H1", "https://his.example.test/cb"])
    assert result.exit_code == 0
    calls = []

    def answer(request):
        calls.append(request)
        return (500, {}, "busy") if len(calls) == 1 else (200, {}, "ok")
    responses.add_callback(responses.POST, "https://his.example.test/cb", callback=answer)
    with app.app_context():
        from patient_api.directory.models import Hospital
        hospital = db.session.scalars(sa.select(Hospital).filter_by(code="H1")).one()
        webhooks.notify_hospital(hospital.id, "bill.paid", {"bill_id": "bil_x", "amount_fen": 1200})
        db.session.commit()
        start = now()
        assert outbox.drain("hospital_webhook", webhooks.send, instant=start) == (0, 1)
        assert outbox.drain("hospital_webhook", webhooks.send, instant=start + timedelta(seconds=5)) == (0, 0)
        assert outbox.drain("hospital_webhook", webhooks.send, instant=start + timedelta(seconds=11)) == (1, 0)
    import hashlib
    import hmac
    body = calls[-1].body if isinstance(calls[-1].body, bytes) else calls[-1].body.encode()
    assert calls[-1].headers["X-Signature"] == hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    assert calls[-1].headers["X-Event"] == "bill.paid"
    # A destination that never answers: dead after the last backoff step, listed, and retryable.
    with app.app_context():
        webhooks.notify_hospital("hsp_gone", "bill.paid", {})
        db.session.commit()
        instant = now()
        for _ in range(len(outbox.BACKOFF) + 1):
            outbox.drain("hospital_webhook", webhooks.send, instant=instant)
            instant += timedelta(hours=7)
        dead = outbox.dead_letters()
        assert [(m.destination, m.attempts) for m in dead] == [("hsp_gone", len(outbox.BACKOFF) + 1)]
        assert outbox.retry(dead[0].id) and db.session.get(OutboxMessage, dead[0].id).status == "pending"
        db.session.rollback()


@responses.activate
def test_sandbox_demo_pays_through_a_signed_notification_to_ourselves(app, client, make):
    from patient_api.billing.sandbox_routes import deliver
    headers, appointment, order = book_and_order(client, make)
    stranger, _ = make.resident()
    url = f"/api/v1/sandbox/wechatpay/orders/{order['out_trade_no']}/pay"
    assert client.post(url, headers=stranger).status_code == 404
    assert client.post(url, headers=headers).json == {"out_trade_no": order["out_trade_no"],
                                                      "notification_queued": True}

    def to_the_app(request):  # the worker's HTTP POST, answered by the app itself
        answer = client.post(NOTIFY, data=request.body, headers=dict(request.headers))
        return answer.status_code, {}, answer.get_data()
    responses.add_callback(responses.POST, app.config["WECHATPAY_NOTIFY_URL"], callback=to_the_app)
    with app.app_context():
        assert outbox.drain("wechatpay_sandbox", deliver) == (1, 0)
    assert client.get(f"/api/v1/appointments/{appointment['id']}", headers=headers).json["status"] == "booked"


def test_dead_letter_cli(app):
    with app.app_context():
        webhooks.notify_hospital("hsp_gone", "bill.paid", {})
        db.session.commit()
        instant = now()
        for _ in range(len(outbox.BACKOFF) + 1):
            outbox.drain("hospital_webhook", webhooks.send, instant=instant)
            instant += timedelta(hours=7)
        message_id = outbox.dead_letters()[0].id
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["outbox", "dead"])
    assert message_id in listed.output and "1 dead" in listed.output
    assert runner.invoke(args=["outbox", "retry", message_id]).exit_code == 0
    assert "0 dead" in runner.invoke(args=["outbox", "dead"]).output
