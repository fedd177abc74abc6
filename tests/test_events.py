"""Features tell each other through published events and bill-kind hooks, registered when the app is created."""
import json
import time

import pytest
import sqlalchemy as sa

from patient_api.billing import kinds
from patient_api.billing.gateway import pay_gateway
from patient_api.booking.models import Appointment
from patient_api.common import events
from patient_api.common.notify import CHANNEL
from patient_api.common.outbox import OutboxMessage
from patient_api.extensions import db

NOTIFY = "/api/v1/payments/wechatpay/notify"


def test_subscribers_run_in_order_once_each_and_their_errors_reach_the_publisher():
    heard = []

    def first(value):
        heard.append(("first", value))

    def second(value):
        heard.append(("second", value))
    for handler in (first, second, first):  # subscribing again (a module imported twice) replaces, never doubles
        events.subscribe("test.ordered")(handler)
    events.publish("test.ordered", value=1)
    assert heard == [("first", 1), ("second", 1)]
    assert events.subscribers("test.ordered") == [f"{__name__}.{f.__qualname__}" for f in (first, second)]

    @events.subscribe("test.failing")
    def failing():
        raise RuntimeError("subscriber failed")
    with pytest.raises(RuntimeError):  # so the publisher's transaction rolls back, as with a direct call
        events.publish("test.failing")
    events.publish("test.nobody_listens", anything=1)


def test_create_app_registers_every_listener(app):
    assert events.subscribers("bill.paid") == ["patient_api.integration.webhooks.bill_paid",
                                               "patient_api.wechat.money.payment_received"]
    assert events.subscribers("bill.refunded") == ["patient_api.integration.webhooks.bill_refunded"]
    assert events.subscribers("refund.succeeded") == ["patient_api.wechat.money.refund_done"]
    registration = kinds.of("registration")
    assert {hook.__module__ for hook in (registration.pay_until, registration.claim, registration.booker,
                                         registration.booked_by, registration.on_paid)} == {
        "patient_api.booking.fees", "patient_api.booking.notices"}
    assert not registration.paid_message  # booking says booking.confirmed instead of payment.received


def _paid_registration(app, client, make):
    """A resident holds a 12.00 元 ticket and WeChat reports its fee paid; returns the appointment as booked."""
    headers, patient_id = make.resident(verified=True)
    schedule_id = make.schedule(fee_fen=1200)
    held = client.post("/api/v1/appointments", json={"schedule_id": schedule_id, "patient_id": patient_id},
                       headers=headers).json
    order = client.post(f"/api/v1/bills/{held['bill_id']}/payments", json={"method": "wechat_jsapi"},
                        headers=headers).json
    with app.app_context():
        wire = pay_gateway()[1].simulate_payment(order["out_trade_no"], None, time.time())
    assert client.post(NOTIFY, data=wire[1], headers=wire[0]).status_code == 204
    return held


def _told(app, bill_id):
    """Events queued to accounts about this bill."""
    with app.app_context():
        rows = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.channel == CHANNEL)).all()
        return sorted(row.event for row in rows if json.loads(row.payload).get("bill_id") == bill_id)


def test_a_paid_registration_fee_books_through_the_registration_kind(app, client, make):
    """Billing imports no booking code (tests/test_imports.py): the appointment is booked and booking.confirmed
    queued by the hooks booking registered for its bill kind."""
    held = _paid_registration(app, client, make)
    with app.app_context():
        assert db.session.get(Appointment, held["id"]).status == "booked"
    assert _told(app, held["bill_id"]) == ["booking.confirmed"]


def test_without_the_registration_kind_billing_would_only_see_a_bill(app, client, make, monkeypatch):
    monkeypatch.delitem(kinds._KINDS, "registration")
    held = _paid_registration(app, client, make)
    with app.app_context():
        assert db.session.get(Appointment, held["id"]).status == "pending_payment"
    assert _told(app, held["bill_id"]) == ["payment.received"]
