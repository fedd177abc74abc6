"""Money defects found in review: a second transaction for a paid order, refund numbers per hospital, which
payment a hospital refund takes, and insurance parts given back on a full refund."""
import time

import pytest
import sqlalchemy as sa

from patient_api.accounts.models import Patient
from patient_api.billing import jobs, ledger
from patient_api.billing.gateway import pay_gateway
from patient_api.billing.models import Bill, Payment, PaymentAlert, Refund
from patient_api.billing.presettlement import InsuredAccount
from patient_api.common.clock import today_local
from patient_api.extensions import db

from .factories import hospital_key
from .test_his_bills import his_bill
from .test_payments import NOTIFY, notification, pay, post


def id_number(app, patient_id):
    with app.app_context():
        return db.session.get(Patient, patient_id).id_number


def paid_his_bill(app, client, make, code="H1", order_no="MZ1", method="wechat_jsapi", **body):
    """A HIS bill the resident paid through the sandbox: (hospital key, bill, order, headers, patient_id)."""
    headers, patient_id = make.resident(verified=True)
    key = hospital_key(app, code)
    bill = client.post("/api/v1/integration/bills", headers=key,
                       json=his_bill(id_number(app, patient_id), order_no=order_no, **body)).json
    order = pay(client, headers, bill["id"], method)
    settle_in_sandbox(app, client, order)
    return key, bill, order, headers, patient_id


def settle_in_sandbox(app, client, order):
    with app.app_context():
        _, sandbox = pay_gateway()
        wire = sandbox.simulate_payment(order["out_trade_no"], None, time.time())
    assert client.post(NOTIFY, data=wire[1], headers=wire[0]).status_code == 204


def ledger_rows(app):
    with app.app_context():
        return db.session.execute(sa.text("SELECT account, amount_fen FROM ledger_entries ORDER BY id")).all()


def test_a_second_transaction_for_a_paid_order_is_refused_and_alerted_once(app, client, make):
    _, bill, order, _, _ = paid_his_bill(app, client, make)
    with app.app_context():
        first = db.session.scalars(sa.select(Payment).filter_by(out_trade_no=order["out_trade_no"])).one()
        first_txn = first.transaction_id
    before = ledger_rows(app)
    other = notification(app, order["out_trade_no"], bill["total_fen"], transaction_id="4200000009202611290000000009")
    answers = [post(client, other) for _ in range(3)]  # WeChat retries a refused notification
    assert {(a.status_code, a.json["code"]) for a in answers} == {(409, "transaction_mismatch")}
    with app.app_context():
        payment = db.session.scalars(sa.select(Payment).filter_by(out_trade_no=order["out_trade_no"])).one()
        assert (payment.status, payment.transaction_id) == ("paid", first_txn)
        alerts = db.session.scalars(sa.select(PaymentAlert)).all()
        assert [(a.kind, a.out_trade_no, a.transaction_id) for a in alerts] == [
            ("transaction_mismatch", order["out_trade_no"], "4200000009202611290000000009")]
        assert db.session.get(Bill, bill["id"]).status == "paid"
    assert ledger_rows(app) == before


def test_refund_numbers_are_per_hospital(app, client, make):
    key1, bill1, _, _, _ = paid_his_bill(app, client, make, code="H1", order_no="MZ1")
    key2, bill2, _, _, _ = paid_his_bill(app, client, make, code="H2", order_no="MZ1")
    one = client.post("/api/v1/integration/bills/MZ1/refunds", headers=key1, json={"out_refund_no": "TF001",
                                                                                   "amount_fen": 100})
    two = client.post("/api/v1/integration/bills/MZ1/refunds", headers=key2, json={"out_refund_no": "TF001",
                                                                                   "amount_fen": 250})
    assert one.status_code == two.status_code == 201, (one.json, two.json)
    assert one.json["out_refund_no"] == two.json["out_refund_no"] == "TF001" and one.json["id"] != two.json["id"]
    again = client.post("/api/v1/integration/bills/MZ1/refunds", headers=key2, json={"out_refund_no": "TF001",
                                                                                     "amount_fen": 250})
    assert again.status_code == 201 and again.json["id"] == two.json["id"]
    with app.app_context():
        numbers = db.session.scalars(sa.select(Refund.out_refund_no)).all()
        assert len(set(numbers)) == 2 and "TF001" not in numbers  # WeChat sees merchant-unique numbers
        assert jobs.submit_refunds() == {"refunded": 2}
        assert {db.session.get(Bill, b["id"]).status for b in (bill1, bill2)} == {"partially_refunded"}


def test_a_hospital_refund_takes_the_bills_own_payment_not_an_overpayment(app, client, make):
    headers, patient_id = make.resident(verified=True)
    key = hospital_key(app)
    bill = client.post("/api/v1/integration/bills", headers=key, json=his_bill(id_number(app, patient_id))).json
    older = pay(client, headers, bill["id"], "wechat_native")  # two open orders of one bill (phone and kiosk)
    newer = pay(client, headers, bill["id"], "wechat_jsapi")
    settle_in_sandbox(app, client, newer)  # the bill is paid by the newer order …
    settle_in_sandbox(app, client, older)  # … and the older one's money is an overpayment, refunded whole
    response = client.post(f"/api/v1/integration/bills/{bill['order_no']}/refunds", headers=key,
                           json={"out_refund_no": "TY1", "amount_fen": 1000})
    assert response.status_code == 201, response.json
    with app.app_context():
        refund = db.session.get(Refund, response.json["id"])
        payment = db.session.get(Payment, refund.payment_id)
        assert payment.out_trade_no == newer["out_trade_no"] and payment.overpaid is False


BIG = [{"code": "Y100", "name": "注射用头孢曲松钠", "category": "西药", "quantity": 1, "unit_price_fen": 100_000,
        "insurance_class": "甲"}]


def test_an_insured_bill_refunded_in_full_gives_the_fund_and_personal_account_back(app, client, make):
    headers, patient_id = make.resident(verified=True)
    key = hospital_key(app)
    with app.app_context():
        db.session.add(InsuredAccount(patient_id=patient_id, insurance_type="employee", year=today_local().year,
                                      deductible_paid_fen=0, fund_paid_fen=0, account_balance_fen=30_000))
        db.session.commit()
    bill = client.post("/api/v1/integration/bills", headers=key, json=his_bill(
        id_number(app, patient_id), items=BIG, insurance_type="employee")).json
    split = client.post(f"/api/v1/bills/{bill['id']}/pre-settlement", headers=headers).json
    # 三级: deductible 600 元, fund 50 % of the 400 元 above it, the personal account pays 300 元 of the rest.
    assert split == {"total_fen": 100_000, "insurance_fund_fen": 20_000, "personal_account_fen": 30_000,
                     "self_pay_fen": 50_000}
    order = pay(client, headers, bill["id"])
    assert order["amount_fen"] == 50_000
    settle_in_sandbox(app, client, order)
    with app.app_context():
        account = db.session.get(InsuredAccount, patient_id)
        assert (account.deductible_paid_fen, account.fund_paid_fen, account.account_balance_fen) == (60_000, 20_000, 0)
    refund = client.post(f"/api/v1/integration/bills/{bill['order_no']}/refunds", headers=key,
                         json={"out_refund_no": "TF9", "amount_fen": 50_000, "reason": "取消治疗"})
    assert refund.status_code == 201, refund.json
    with app.app_context():
        assert jobs.submit_refunds() == {"refunded": 1}
        assert db.session.get(Bill, bill["id"]).status == "refunded"
        assert ledger.balances(bill["id"]) == {"resident": 0, "hospital_receivable": 0, "wechat_clearing": 0,
                                               "insurance_fund": 0, "personal_account": 0}
        account = db.session.get(InsuredAccount, patient_id, populate_existing=True)
        assert (account.deductible_paid_fen, account.fund_paid_fen, account.account_balance_fen) == (0, 0, 30_000)
    again = client.post(f"/api/v1/bills/{bill['id']}/pre-settlement", headers=headers)
    assert again.status_code in (200, 409)  # a refunded bill may no longer be pre-settled; never a 500


@pytest.mark.parametrize("year_offset,expected", [(0, (60_000, 20_000)), (-1, (60_000, 20_000))])
def test_the_year_to_date_counts_this_year_only(app, client, make, year_offset, expected):
    headers, patient_id = make.resident(verified=True)
    key = hospital_key(app)
    with app.app_context():  # last year's figures must not lower this year's deductible
        db.session.add(InsuredAccount(patient_id=patient_id, insurance_type="employee",
                                      year=today_local().year + year_offset,
                                      deductible_paid_fen=0 if year_offset == 0 else 60_000,
                                      fund_paid_fen=0 if year_offset == 0 else 1_000, account_balance_fen=0))
        db.session.commit()
    bill = client.post("/api/v1/integration/bills", headers=key, json=his_bill(
        id_number(app, patient_id), items=BIG, insurance_type="employee")).json
    settle_in_sandbox(app, client, pay(client, headers, bill["id"]))
    with app.app_context():
        account = db.session.get(InsuredAccount, patient_id)
        assert (account.year, account.deductible_paid_fen, account.fund_paid_fen) == (today_local().year, *expected)


def test_one_idempotency_key_on_two_bills_pays_each_its_own(app, client, make):
    headers, patient_id = make.resident(verified=True)
    key = hospital_key(app)
    number = id_number(app, patient_id)
    bills = [client.post("/api/v1/integration/bills", headers=key, json=his_bill(number, order_no=no)).json
             for no in ("MZA", "MZB")]
    same = {**headers, "Idempotency-Key": "pay-once"}
    first, second = (client.post(f"/api/v1/bills/{b['id']}/payments", json={"method": "wechat_native"},
                                 headers=same) for b in bills)
    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in second.headers  # B's answer is B's own order, not A's QR code
    assert first.json["out_trade_no"] != second.json["out_trade_no"]
    with app.app_context():
        paying = {p.bill_id: p.out_trade_no for p in db.session.scalars(sa.select(Payment))}
    assert paying == {bills[0]["id"]: first.json["out_trade_no"], bills[1]["id"]: second.json["out_trade_no"]}
    replay = client.post(f"/api/v1/bills/{bills[1]['id']}/payments", json={"method": "wechat_native"}, headers=same)
    assert replay.headers.get("Idempotent-Replayed") == "true" and replay.json == second.json
