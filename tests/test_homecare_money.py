"""Money after a home visit was paid: the hospital's dispatcher or admin refunds the paid bill (the visit, or a late
cancellation's fee) in full or in part with a reason, through billing's refunds, audited, the family told; and
cancelling never leaves money kept without a reason."""
import json

import pytest
import sqlalchemy as sa

from patient_api.billing import jobs as billing_jobs
from patient_api.billing import ledger
from patient_api.billing.invoices import Invoice
from patient_api.billing.models import Bill, Payment, Refund
from patient_api.common.audit import AuditEntry
from patient_api.common.outbox import OutboxMessage
from patient_api.extensions import db

from .homecare import Homecare, assert_refused
from .inpatient import NOTIFY

REASON = "投诉核实，退还交通费"


@pytest.fixture
def care(app, client, make):
    return Homecare(app, client, make)


def finished(care, headers, patient_id):
    """A visit done and checked out: the order with its 150.00 元 bill (service 120 + travel band A 30)."""
    order = care.in_visit(headers, patient_id)
    care.staff_post(care.nurse, order["id"], "record", {"notes": "已清创换药"})
    return care.staff_post(care.nurse, order["id"], "check-out")


def pay(care, headers, bill_id):
    client = care.client
    order = client.post(f"/api/v1/bills/{bill_id}/payments", json={"method": "wechat_jsapi"}, headers=headers).json
    wire = care.hospital.pay_at_wechat(order["out_trade_no"])
    assert client.post(NOTIFY, data=wire[1], headers=wire[0]).status_code == 204


def refund(care, order_id, amount_fen, reason=REASON, headers=None, key=None, expect=201):
    extra = {"Idempotency-Key": key} if key else {}
    response = care.client.post(f"/api/v1/staff/homecare/orders/{order_id}/refunds",
                                json={"amount_fen": amount_fen, "reason": reason},
                                headers={**(headers or care.dispatcher), **extra})
    assert response.status_code == expect, response.json
    return response


def refund_count(app):
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Refund))


def told_refunds(app):
    with app.app_context():
        return [(row.destination, json.loads(row.payload)) for row in db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.event == "refund.done").order_by(OutboxMessage.created_at))]


def test_a_paid_visit_is_refunded_in_part_then_in_full_after_a_complaint(app, client, care):
    headers, patient_id = care.resident()
    done = finished(care, headers, patient_id)
    pay(care, headers, done["bill_id"])
    client.post(f"/api/v1/me/homecare/orders/{done['id']}/complaint", json={"text": "护士迟到了一个小时"},
                headers=headers)

    first = refund(care, done["id"], 3000, key="refund-1").json
    assert [(r["amount_fen"], r["reason"], r["status"]) for r in first["refunds"]] == [(3000, REASON, "processing")]
    replay = refund(care, done["id"], 3000, key="refund-1")  # the same tap again: the same refund
    assert replay.headers.get("Idempotent-Replayed") == "true" and refund_count(app) == 1
    assert_refused(refund(care, done["id"], 12001, expect=409), 409, "refund_exceeds_paid")  # 120.00 元 left
    assert refund_count(app) == 1
    with app.app_context():
        assert billing_jobs.submit_refunds() == {"refunded": 1}
    shown = client.get(f"/api/v1/me/homecare/orders/{done['id']}", headers=headers).json
    assert [(r["amount_fen"], r["status"]) for r in shown["refunds"]] == [(3000, "succeeded")]
    assert client.get(f"/api/v1/bills/{done['bill_id']}", headers=headers).json["status"] == "partially_refunded"

    rest = refund(care, done["id"], 12000, reason="服务不满意，全额退款", headers=care.admin).json
    assert [r["amount_fen"] for r in rest["refunds"]] == [3000, 12000]
    with app.app_context():
        billing_jobs.submit_refunds()
        bill = db.session.get(Bill, done["bill_id"])
        assert bill.status == ledger.derived_status(bill.id) == "refunded"
        assert ledger.balances(bill.id)["wechat_clearing"] == 0
        assert db.session.scalars(sa.select(Invoice.status).filter_by(bill_id=bill.id)).one() == "reversed"
        audited = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "homecare.refund")
                                     .order_by(AuditEntry.id)).all()
        assert [(json.loads(a.detail)["amount_fen"], json.loads(a.detail)["reason"], a.patient_id) for a in audited] \
            == [(3000, REASON, patient_id), (12000, "服务不满意，全额退款", patient_id)]
    requester = {destination for destination, _ in told_refunds(app)}
    assert len(requester) == 1  # the requesting account (verified for the patient) hears each refund
    assert [(p["amount_fen"], p["reason"]) for _, p in told_refunds(app)] == [(3000, REASON),
                                                                              (12000, "服务不满意，全额退款")]
    inbox = [m for m in client.get("/api/v1/me/messages?limit=50", headers=headers).json["items"]
             if m["event"] == "refund.done"]
    assert len(inbox) == 2 and all(m["title"] == "退款成功" for m in inbox)
    assert_refused(refund(care, done["id"], 1, expect=409), 409, "refund_exceeds_paid")


def test_refunds_are_refused_without_money_or_the_right_in_chinese(app, client, care):
    headers, patient_id = care.resident()
    waiting = care.request(*care.resident())
    assert_refused(refund(care, waiting["id"], 100, expect=409), 409, "homecare_not_paid")  # no bill at all
    done = finished(care, headers, patient_id)
    assert_refused(refund(care, done["id"], 100, expect=409), 409, "homecare_not_paid")  # billed, not paid
    pay(care, headers, done["bill_id"])
    assert_refused(refund(care, done["id"], 100, headers=care.nurse, expect=403), 403, "role_forbidden")
    other = Homecare(app, client, care.make, code="H2")
    assert_refused(refund(care, done["id"], 100, headers=other.dispatcher, expect=404), 404,
                   "homecare_order_not_found")
    for body in ({"amount_fen": 0, "reason": REASON}, {"amount_fen": 100}, {"amount_fen": 100, "reason": "退"},
                 {"amount_fen": "100", "reason": REASON}, {"amount_fen": 100, "reason": "退" * 81}):
        assert_refused(client.post(f"/api/v1/staff/homecare/orders/{done['id']}/refunds", json=body,
                                   headers=care.dispatcher), 422, "validation_error")
    assert refund_count(app) == 0


def test_a_paid_cancellation_fee_is_kept_with_its_reason_until_the_hospital_waives_it(app, client, care):
    headers, patient_id = care.resident()
    late = care.accepted(headers, patient_id, hours_ahead=23)  # past the free-cancel deadline
    cancelled = client.post(f"/api/v1/me/homecare/orders/{late['id']}/cancel", headers=headers).json
    assert cancelled["cancel_fee_fen"] == 3000
    pay(care, headers, cancelled["bill_id"])
    bill = client.get(f"/api/v1/bills/{cancelled['bill_id']}", headers=headers).json
    assert bill["status"] == "paid"
    assert [(i["code"], i["name"]) for i in bill["items"]] == [("HC-CANCEL", "取消服务费（距上门时间不足24小时）")]
    # Cancelling again changes nothing: the fee stays with what it was for, and nothing else was ever taken.
    assert_refused(client.post(f"/api/v1/me/homecare/orders/{late['id']}/cancel", headers=headers), 409,
                   "order_closed")
    with app.app_context():
        paid = db.session.scalars(sa.select(Payment).where(Payment.status == "paid")).all()
        assert [(p.bill_id, p.amount_fen) for p in paid] == [(cancelled["bill_id"], 3000)]
    waived = refund(care, late["id"], 3000, reason="护士临时改期，免收取消费").json
    assert waived["status"] == "cancelled" and waived["refunds"][0]["amount_fen"] == 3000
    with app.app_context():
        billing_jobs.submit_refunds()
        assert db.session.get(Bill, cancelled["bill_id"]).status == "refunded"
    assert [p["reason"] for _, p in told_refunds(app)] == ["护士临时改期，免收取消费"]


def test_a_free_cancellation_and_a_paid_visit_are_never_cancelled_with_money_in_hand(app, client, care):
    headers, patient_id = care.resident()
    early = care.accepted(headers, patient_id, hours_ahead=72)
    free = client.post(f"/api/v1/me/homecare/orders/{early['id']}/cancel", headers=headers).json
    assert (free["cancel_fee_fen"], free["bill_id"], free["refunds"]) == (0, None, [])
    done = finished(care, headers, patient_id)
    pay(care, headers, done["bill_id"])
    assert_refused(client.post(f"/api/v1/me/homecare/orders/{done['id']}/cancel", headers=headers), 409,
                   "not_cancellable")  # a paid visit is refunded by the hospital, with a reason, never by cancelling
    assert client.get(f"/api/v1/bills/{done['bill_id']}", headers=headers).json["status"] == "paid"
