"""HIS refunds of bills paid through a 先诊疗后付费 settlement: from the settlement's JSAPI payment or 委托代扣
deduction, up to the bill's share of the self-pay, idempotent by the hospital's number, with the usual callback and
message; a settlement paid at the window is refunded there (409). The books balance throughout."""
import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from patient_api.billing import jobs as billing_jobs
from patient_api.billing import ledger
from patient_api.billing.models import Bill, Payment, Refund
from patient_api.billing.presettlement import InsuredAccount
from patient_api.billing.reconcile import reconcile
from patient_api.common.clock import now, today_local
from patient_api.common.outbox import OutboxMessage
from patient_api.credit.models import CreditSettlement
from patient_api.credit.refunds import shares
from patient_api.extensions import db

from .credit import World, check_books
from .homecare import assert_refused


@pytest.fixture
def world(app, client, make):
    return World(app, client, make)


def refund(world, bill, number, amount_fen, expect=201, reason="退药"):
    response = world.client.post(f"/api/v1/integration/bills/{bill['order_no']}/refunds", headers=world.his,
                                 json={"out_refund_no": number, "amount_fen": amount_fen, "reason": reason})
    assert response.status_code == expect, response.json
    return response.json


def paid_by_jsapi(world, *totals):
    """An enrolled resident's bills on credit, settled and paid by JSAPI: (headers, patient_id, bills, settlement)."""
    headers, patient_id, person = world.enrolled()
    bills = [world.bill(person, total) for total in totals]
    settled = world.settle(headers, patient_id)
    world.pay_jsapi(settled["payment"]["out_trade_no"])
    return headers, patient_id, bills, settled["settlement"]


def status(app, bill_id):
    with app.app_context():
        return db.session.get(Bill, bill_id).status


def outbox(app, channel, event):
    with app.app_context():
        return [(row.destination, json.loads(row.payload)) for row in db.session.scalars(sa.select(OutboxMessage).where(
            OutboxMessage.channel == channel, OutboxMessage.event == event).order_by(OutboxMessage.created_at))]


def test_a_bill_paid_by_jsapi_through_its_settlement_is_refunded_from_that_payment(app, client, world):
    headers, patient_id, (first, second), settlement = paid_by_jsapi(world, 5100, 2999)
    part = refund(world, first, "TF1", 1000)
    assert (part["out_refund_no"], part["amount_fen"], part["status"]) == ("TF1", 1000, "processing")
    assert refund(world, first, "TF1", 1000)["id"] == part["id"]  # HIS sends it again: the same refund
    reused = refund(world, first, "TF1", 900, expect=422)
    assert reused["code"] == "out_refund_no_reused"
    too_much = refund(world, first, "TF2", 4101, expect=409)  # its share is 51.00 元, 10.00 元 already asked
    assert too_much["code"] == "refund_exceeds_paid"
    assert_refused(client.post(f"/api/v1/integration/bills/{first['order_no']}/refunds", headers=world.his,
                               json={"out_refund_no": "TF3", "amount_fen": 4101}), 409, "refund_exceeds_paid")
    whole = refund(world, second, "TF4", 2999)
    with app.app_context():
        payment = db.session.scalars(sa.select(Payment).filter_by(bill_id=settlement["bill_id"])).one()
        rows = db.session.scalars(sa.select(Refund).order_by(Refund.created_at)).all()
        assert [(r.payment_id, r.bill_id, r.source_refund_no) for r in rows] == [
            (payment.id, first["id"], "TF1"), (payment.id, second["id"], "TF4")]
        assert payment.refunded_fen == 3999
    check_books(app)  # reserved only: nothing has moved yet
    with app.app_context():
        assert billing_jobs.submit_refunds() == {"refunded": 2}
    assert (status(app, first["id"]), status(app, second["id"])) == ("partially_refunded", "refunded")
    assert status(app, settlement["bill_id"]) == "paid"  # the settlement stands; its bills were refunded
    check_books(app)
    with app.app_context():
        balances = [ledger.balances(bill_id) for bill_id in (first["id"], second["id"], settlement["bill_id"])]
        assert sum(b.get("wechat_clearing", 0) for b in balances) == 8099 - 3999  # what WeChat still holds
        assert sum(b.get("resident", 0) for b in balances) == 0
        assert db.session.get(CreditSettlement, settlement["id"]).status == "paid"
    callbacks = [data["data"] for _, data in outbox(app, "hospital_webhook", "bill.refunded")]
    assert sorted((c["order_no"], c["out_refund_no"], c["amount_fen"]) for c in callbacks) == sorted(
        [(first["order_no"], "TF1", 1000), (second["order_no"], "TF4", 2999)])
    told = [payload for _, payload in outbox(app, "wechat_message", "refund.done")]
    assert sorted((p["bill_id"], p["amount_fen"], p["reason"]) for p in told) == sorted(
        [(first["id"], 1000, "退药"), (second["id"], 2999, "退药")])
    shown = client.get(f"/api/v1/bills/{second['id']}", headers=headers).json
    assert shown["status"] == "refunded"
    # What is left of the first bill's share can still be refunded; a replay after the money went changes nothing.
    assert refund(world, first, "TF5", 4100)["status"] == "processing"
    assert refund(world, second, "TF4", 2999)["id"] == whole["id"]
    assert refund(world, second, "TF6", 1, expect=409)["code"] == "refund_exceeds_paid"
    with app.app_context():
        billing_jobs.submit_refunds()
    assert status(app, first["id"]) == "refunded"
    check_books(app)


def test_a_bill_paid_by_a_deduction_is_refunded_and_the_day_reconciles(app, client, world):
    headers, patient_id, person = world.enrolled()
    world.sign_contract(headers, patient_id)
    bill = world.bill(person, 3300)
    world.bill(person, 1700)
    assert world.settle(headers, patient_id)["result"] == "deducted"
    refund(world, bill, "TY-9", 3300, reason="检查取消")
    with app.app_context():
        row = db.session.scalars(sa.select(Refund)).one()
        payment = db.session.get(Payment, row.payment_id)
        assert (payment.method, payment.amount_fen, row.bill_id) == ("wechat_papay", 5000, bill["id"])
        assert billing_jobs.submit_refunds() == {"refunded": 1}
    assert status(app, bill["id"]) == "refunded"
    check_books(app)
    with app.app_context():
        run = reconcile(today_local())
        assert run.status == "balanced", [(m.kind, m.detail) for m in run.mismatches]
        assert (run.ledger_payment_fen, run.ledger_refund_fen) == (5000, 3300)
        db.session.rollback()
    assert [payload["data"]["order_no"] for _, payload in outbox(app, "hospital_webhook", "bill.refunded")] == [
        bill["order_no"]]


def test_a_settlement_paid_at_the_window_is_refunded_at_the_window(app, client, world):
    _, patient_id, person = world.enrolled()
    bill = world.bill(person, 2500)
    paid = client.post(f"/api/v1/staff/credit/patients/{patient_id}/settlements", headers=world.cashier())
    assert paid.status_code == 201 and paid.json["method"] == "counter"
    refused = refund(world, bill, "TF1", 100, expect=409)
    assert refused["code"] == "credit_refund_at_counter" and "窗口" in refused["message"]
    assert_refused(client.post(f"/api/v1/integration/bills/{bill['order_no']}/refunds", headers=world.his,
                               json={"out_refund_no": "TF1", "amount_fen": 100}), 409, "credit_refund_at_counter")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Refund)) == 0
    check_books(app)


def test_a_bill_still_on_credit_has_nothing_to_refund(app, client, world):
    headers, patient_id, person = world.enrolled()
    bill = world.bill(person, 2500)
    assert refund(world, bill, "TF1", 100, expect=404)["code"] == "bill_not_paid"
    world.settle(headers, patient_id)  # in a settlement, not paid yet
    assert refund(world, bill, "TF1", 100, expect=404)["code"] == "bill_not_paid"
    check_books(app)


def test_an_insured_settlement_refunds_each_bill_its_share_of_the_self_pay(app, client, world):
    headers, patient_id, person = world.resident()
    with app.app_context():
        db.session.add(InsuredAccount(patient_id=patient_id, insurance_type="employee", year=now().year,
                                      account_balance_fen=0))
        db.session.commit()
    world.enrol(headers, patient_id, world.hospital_id)
    bills = [world.bill(person, total, insurance_type="employee") for total in (70_001, 30_000, 29_999)]
    settled = world.settle(headers, patient_id)
    world.pay_jsapi(settled["payment"]["out_trade_no"])
    settlement = settled["settlement"]
    assert 0 < settlement["self_pay_fen"] < settlement["total_fen"]
    with app.app_context():
        found = shares(db.session.get(CreditSettlement, settlement["id"]))
    assert sum(found.values()) == settlement["self_pay_fen"]
    for bill in bills:  # each within a fen of its proportion
        exact = settlement["self_pay_fen"] * bill["total_fen"] / settlement["total_fen"]
        assert abs(found[bill["id"]] - exact) < 1
    biggest = bills[0]
    over = refund(world, biggest, "TF1", found[biggest["id"]] + 1, expect=409)
    assert over["code"] == "refund_exceeds_paid"
    refund(world, biggest, "TF2", found[biggest["id"]])
    with app.app_context():
        billing_jobs.submit_refunds()
    assert status(app, biggest["id"]) == "refunded"
    check_books(app)


def test_shares_add_up_exactly_and_remainders_go_to_the_older_bills(app, client, world):
    headers, patient_id, person = world.enrolled()
    bills = [world.bill(person, 1000) for _ in range(3)]
    world.settle(headers, patient_id)
    with app.app_context():
        settlement = db.session.scalars(sa.select(CreditSettlement)).one()
        settlement.self_pay_fen = 100  # a split as an insured settlement may give: 100 fen over three equal bills
        found = shares(settlement)
        db.session.rollback()
    assert [found[b["id"]] for b in bills] == [34, 33, 33]



def test_refunds_of_one_settlements_bills_raced_never_pass_a_share_or_the_payment(app, client, world):
    _, _, (first, second), settlement = paid_by_jsapi(world, 5100, 2999)
    asks = [(first, f"R-A{n}", 2000) for n in range(4)] + [(second, f"R-B{n}", 1000) for n in range(4)]
    gate = threading.Barrier(len(asks))

    def ask(bill, number, amount):
        gate.wait()
        response = app.test_client().post(f"/api/v1/integration/bills/{bill['order_no']}/refunds",
                                          headers=world.his, json={"out_refund_no": number, "amount_fen": amount})
        assert response.status_code in (201, 409), response.json
        return bill["id"], response.status_code, response.json.get("code")

    with ThreadPoolExecutor(max_workers=len(asks)) as pool:
        answers = [f.result() for f in [pool.submit(ask, *a) for a in asks]]
    granted = Counter(bill_id for bill_id, status, _ in answers if status == 201)
    assert {code for _, status, code in answers if status == 409} <= {"refund_exceeds_paid"}
    assert (granted[first["id"]], granted[second["id"]]) == (2, 2)  # 2 × 20 元 of 51 元; 2 × 10 元 of 29.99 元
    with app.app_context():
        payment = db.session.scalars(sa.select(Payment).filter_by(bill_id=settlement["bill_id"])).one()
        assert payment.refunded_fen == 6000 and payment.refund_count == 4
        assert billing_jobs.submit_refunds() == {"refunded": 4}
    check_books(app)
